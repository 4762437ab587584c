//! The admin kubeconfig: certificates inlined, so the file alone is enough for
//! kubectl, kube-rs and the component processes.

use std::path::Path;

use crate::pki::{Pki, PkiError};

/// Name of the cluster, user and context inside the kubeconfig.
pub const CONTEXT: &str = "driftless-test";

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Renders the admin kubeconfig for an API server at `server`.
pub fn render(pki: &Pki, server: &str) -> Result<String, PkiError> {
    let ca = b64(&Pki::read(&pki.ca_cert)?);
    let cert = b64(&Pki::read(&pki.admin_cert)?);
    let key = b64(&Pki::read(&pki.admin_key)?);
    Ok(format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {CONTEXT}
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: {CONTEXT}
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: {CONTEXT}
  context:
    cluster: {CONTEXT}
    user: {CONTEXT}
    namespace: default
current-context: {CONTEXT}
"
    ))
}

/// Writes the kubeconfig atomically with mode 0600 (it holds a private key).
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    crate::fsutil::write_private(path, text.as_bytes(), |_, e| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubeconfig_parses_and_points_at_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::ensure(dir.path()).unwrap();
        let text = render(&pki, "https://127.0.0.1:17002").unwrap();
        let config: kube::config::Kubeconfig = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(config.current_context.as_deref(), Some(CONTEXT));
        let cluster = config.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:17002"));
    }
}
