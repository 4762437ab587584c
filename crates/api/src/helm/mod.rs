//! `helm.toolkit.fluxcd.io/v2`: the HelmRelease kind.

pub mod actions;
pub mod helm_release;
pub mod status;

pub use actions::*;
pub use helm_release::*;
pub use status::*;
