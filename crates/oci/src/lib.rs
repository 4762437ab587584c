//! An OCI distribution API v2 client for driftless: tag listing (image-reflector-controller),
//! manifests and verified blobs (source-controller's OCIRepository, Helm OCI charts).
//!
//! Behaviour follows what Flux gets from go-containerregistry: image references with Docker Hub
//! defaults ([`reference`]), credentials from a `.dockerconfigjson` payload without ever running a
//! credential helper ([`auth`]), the Bearer token and Basic challenge flow ([`challenge`],
//! [`client`]), paginated tag lists ([`tags`]), manifests by tag or digest ([`manifest`]) and blob
//! downloads checked against their digest within a size limit ([`blob`]).
//!
//! No Kubernetes here: controllers turn Secrets into [`DockerConfig`] and [`ClientOptions`].

pub mod auth;
pub mod blob;
pub mod challenge;
pub mod client;
pub mod error;
pub mod manifest;
pub mod reference;
pub mod tags;
mod tls;
mod token;

pub use auth::{Credential, DockerConfig};
pub use client::{Client, ClientOptions};
pub use error::OciError;
pub use manifest::{Descriptor, ImageIndex, ImageManifest, Manifest, ManifestKind, media_types};
pub use reference::{Reference, ReferenceError};
