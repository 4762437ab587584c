//! TLS for the registry client: rustls with ring (the workspace's one provider), the system
//! roots plus an optional PEM bundle (`ca.crt` of a `certSecretRef`), as crates/git does.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// A client config trusting the system roots and `extra_ca_pem`.
pub(crate) fn client_config(extra_ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(pem) = extra_ca_pem {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("ca.crt is not PEM: {e}"))?;
        if certs.is_empty() {
            return Err("ca.crt holds no certificate".to_owned());
        }
        for cert in certs {
            roots.add(cert).map_err(|e| format!("ca.crt: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
