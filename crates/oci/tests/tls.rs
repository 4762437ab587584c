//! `ca.crt` reaches the TLS verifier: an HTTPS server whose certificate is signed by a private
//! CA (the local control plane's API server) is trusted with that CA and refused without it.

use base64::Engine as _;
use driftless_oci::{Client, ClientOptions, DockerConfig, OciError, Reference};

/// PEM of the control plane's CA, and the API server's host:port.
async fn private_ca_server() -> anyhow::Result<(Vec<u8>, String)> {
    let cluster = testkit::cluster().await?;
    let config = cluster.plane.config().await?;
    let der = config
        .root_cert
        .as_ref()
        .and_then(|certs| certs.first())
        .ok_or_else(|| anyhow::anyhow!("the kubeconfig names a CA"))?;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    );
    let host = config
        .cluster_url
        .authority()
        .ok_or_else(|| anyhow::anyhow!("the API server URL has a host"))?
        .to_string();
    Ok((pem.into_bytes(), host))
}

#[tokio::test]
async fn a_private_ca_is_trusted_only_when_given_as_ca_crt() -> anyhow::Result<()> {
    let (ca, host) = private_ca_server().await?;
    let reference = Reference::parse(&format!("{host}/app"))?;

    let trusting = Client::new(
        ClientOptions {
            ca_pem: Some(ca),
            ..ClientOptions::default()
        },
        DockerConfig::default(),
    )?;
    // The TLS handshake succeeds; the API server then refuses the path over HTTP.
    let err = trusting
        .list_tags(&reference)
        .await
        .expect_err("not a registry");
    assert!(
        !matches!(err, OciError::Transport { .. }) && err.to_string().contains("https://"),
        "TLS should succeed: {err}"
    );

    let default = Client::new(ClientOptions::default(), DockerConfig::default())?;
    let err = default.list_tags(&reference).await.expect_err("untrusted");
    // Untrusted over HTTPS, so the loopback host is tried over plain HTTP, which this HTTPS
    // server refuses.
    assert!(
        err.to_string().contains(&format!("GET http://{host}/")),
        "{err}"
    );
    Ok(())
}

#[test]
fn a_ca_crt_that_is_not_pem_is_a_client_error() {
    let err = Client::new(
        ClientOptions {
            ca_pem: Some(b"not a certificate".to_vec()),
            ..ClientOptions::default()
        },
        DockerConfig::default(),
    )
    .expect_err("bad ca.crt");
    assert!(err.to_string().contains("ca.crt"), "{err}");
}
