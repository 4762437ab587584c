//! Flux's command-line contract: Go duration syntax, Go-style booleans and the runtime flags
//! every Flux controller shares, with Flux's names and defaults.

mod args;
mod boolean;
pub mod duration;

pub use args::{
    FeatureGates, LogEncoding, LogLevel, RUNTIME_NAMESPACE_ENV, RuntimeArgs, listen_addr,
};
pub use boolean::parse_go_bool;
pub use duration::{DurationError, GoDuration};
