//! Test infrastructure for driftless: a real local Kubernetes control plane
//! built from pinned Go modules, and helpers for tests that use it.
//!
//! Tests call [`cluster`] to get the shared plane (started on first use, safe
//! across parallel test binaries) and [`TestNamespace::create`] for an
//! isolated namespace that is deleted when the test ends.

pub mod cache;
pub mod controlplane;
mod finalizers;
mod fsutil;
pub mod git_server;
mod gomod;
pub mod gotools;
pub mod helm_repo;
mod http;
pub mod identity;
pub mod oci_registry;
pub mod pki;
pub mod proxy;
pub mod s3_server;
mod shared;
pub mod ssh_server;
pub mod wait;

pub use cache::Cache;
pub use controlplane::{ControlPlane, ControlPlaneError, UpOutcome};
pub use http::http_get;
pub use shared::{TestCluster, TestNamespace, cluster, install_crd};
