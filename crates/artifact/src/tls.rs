//! TLS for the fetch client: rustls with ring, the workspace's one crypto provider.
//!
//! reqwest is built with `rustls-no-provider`; handing it a finished `ClientConfig` keeps the
//! choice local instead of installing a process-wide default provider behind other crates' backs.

use std::sync::Arc;

/// A client config using ring and the platform's trust roots.
pub(crate) fn client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}
