//! `notification.toolkit.fluxcd.io`: Alert and Provider (v1beta3) and Receiver (v1).

pub mod alert;
pub mod provider;
pub mod receiver;

pub use alert::*;
pub use provider::*;
pub use receiver::*;
