//! Git for source-controller, on gix, with no Kubernetes dependency.
//!
//! [`checkout`] resolves a GitRepository `spec.ref` against a remote, fetches as little
//! as it can and writes the commit's tree into a directory, returning the revision string
//! Flux would write. [`ls_remote`] lists remote refs for Flux's "nothing changed" shortcut.
//! [`clone_branch`] fetches a branch for writing, [`Clone::commit`] builds a commit from file
//! changes and [`push()`] sends it (receive-pack, which gix lacks) over smart HTTP or SSH.
//! SSH runs on russh with a strict `known_hosts` check; no `ssh` binary is ever spawned.
//! All I/O is blocking (gix's HTTP client is); async callers use `spawn_blocking`.

pub mod checkout;
pub mod commit;
pub mod error;
pub mod pktline;
pub mod proxy;
pub mod push;
pub mod reference;
pub mod remote;
pub mod sign;
mod ssh;
mod submodule;
pub use driftless_semver as semver;
pub mod transport;
pub mod tree;
pub mod url;
pub mod verify;

pub use checkout::{CheckoutOptions, Commit, Outcome, Signature, checkout};
pub use commit::{Clone, CloneOptions, CommitMessage, FileChange, clone_branch};
pub use error::GitError;
pub use proxy::Proxy;
pub use push::{PushError, PushOptions, PushTarget, Pushed, RefUpdated, push};
pub use reference::{Reference, Strategy};
pub use remote::{RemoteRef, ls_remote};
pub use sign::{SignError, SigningKey};
pub use ssh::{identity_public_key, scan_known_hosts};
pub use transport::{Auth, BasicAuth};
pub use tree::{Limits, Written};
pub use verify::{SignedObjects, TagObject, TrustedKeys, VerifyError};
