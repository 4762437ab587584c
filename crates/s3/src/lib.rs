//! A small S3 client for Bucket sources: AWS Signature Version 4 on ring's HMAC and SHA-256
//! ([`sigv4`]), the XML S3 answers in ([`xml`]), and HeadBucket, ListObjectsV2 and GetObject
//! over reqwest with rustls ([`client`]). No AWS SDK: the few calls Flux's generic (MinIO)
//! provider makes are all a Bucket needs, and the signing code is shared with testkit's
//! loopback S3 server, which verifies it.

pub mod client;
pub mod error;
pub mod response;
pub mod sigv4;
pub mod xml;

pub use client::{Addressing, Client, ClientOptions, ListPage, ObjectInfo, ProxyConfig};
pub use error::S3Error;
pub use response::parse_list;
pub use sigv4::Credentials;
