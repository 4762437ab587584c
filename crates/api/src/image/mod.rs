//! `image.toolkit.fluxcd.io/v1`: ImageRepository and ImagePolicy (image-reflector-controller) and
//! ImageUpdateAutomation (image-automation-controller).

pub mod image_policy;
pub mod image_repository;
pub mod image_update_automation;

pub use image_policy::*;
pub use image_repository::*;
pub use image_update_automation::*;
