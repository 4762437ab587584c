//! Git for source-controller, on gix, with no Kubernetes dependency.
//!
//! [`checkout`] resolves a GitRepository `spec.ref` against a remote, fetches as little
//! as it can and writes the commit's tree into a directory, returning the revision string
//! Flux would write. [`ls_remote`] lists remote refs for Flux's "nothing changed" shortcut.
//! All I/O is blocking (gix's HTTP client is); async callers use `spawn_blocking`.

pub mod checkout;
pub mod error;
pub mod reference;
pub mod remote;
pub use driftless_semver as semver;
pub mod transport;
pub mod tree;
pub mod url;

pub use checkout::{CheckoutOptions, Commit, Outcome, Signature, checkout};
pub use error::GitError;
pub use reference::{Reference, Strategy};
pub use remote::{RemoteRef, ls_remote};
pub use transport::{Auth, BasicAuth};
pub use tree::{Limits, Written};
