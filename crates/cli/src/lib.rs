//! The `driftless` binary's code: its command line, the commands, and the install manifests they
//! (and `cargo xtask generate`) render.
//!
//! Controllers will arrive as subcommands (`driftless source-controller …`), one Deployment each,
//! all running the same image; user commands (`install`, `get`, `reconcile`…) sit beside them.

pub mod cli;
pub mod commands;
pub mod manifests;
pub mod yaml;

pub use cli::{Cli, Command, run};
