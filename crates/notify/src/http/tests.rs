//! The shared client against real TLS, proxy and stalled servers on loopback.

use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::providers::notifier;
use crate::providers::testserver::{TestServer, post_err, post_ok, sample_event};
use crate::settings::ProviderSettings;

struct Pki {
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca, &ca_key);

    let server_key = KeyPair::generate().expect("server key");
    let mut server = CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
    server
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &issuer).expect("server cert");

    let client_key = KeyPair::generate().expect("client key");
    let mut client = CertificateParams::new(Vec::<String>::new()).expect("client params");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &issuer).expect("client cert");
    Pki {
        ca_pem: ca_cert.pem(),
        server_cert_pem: server_cert.pem(),
        server_key_pem: server_key.serialize_pem(),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

/// An HTTPS server that requires a client certificate from the test CA, answers every
/// request `200 {}` and reports each request's first line.
async fn mtls_server(pki: &Pki) -> (String, mpsc::UnboundedReceiver<String>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).expect("ca der"))
        .expect("root");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("client verifier");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(pki.server_cert_pem.as_bytes()).expect("cert")],
            PrivateKeyDer::from_pem_slice(pki.server_key_pem.as_bytes()).expect("key"),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                // A client without a certificate fails here; that is the point of the test.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let first = text.lines().next().unwrap_or_default().to_owned();
                tx.send(first).expect("report request");
                let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
                tls.write_all(reply).await.expect("reply");
                tls.shutdown().await.ok();
            });
        }
    });
    (format!("https://127.0.0.1:{}/hook", addr.port()), rx)
}

#[tokio::test]
async fn the_ca_and_client_certificate_from_cert_secret_ref_complete_a_mutual_tls_post() {
    let pki = pki();
    let (address, mut requests) = mtls_server(&pki).await;
    let mut settings = ProviderSettings::new("generic", &address);
    settings.ca_pem = Some(pki.ca_pem.clone().into_bytes());
    settings.client_cert_pem = Some(pki.client_cert_pem.clone().into_bytes());
    settings.client_key_pem = Some(pki.client_key_pem.clone().into_bytes());
    post_ok(settings, &sample_event()).await;
    assert_eq!(
        requests.recv().await.as_deref(),
        Some("POST /hook HTTP/1.1")
    );
}

#[tokio::test]
async fn without_the_ca_the_servers_certificate_is_refused() {
    let pki = pki();
    let (address, _requests) = mtls_server(&pki).await;
    let mut settings = ProviderSettings::new("generic", &address);
    settings.client_cert_pem = Some(pki.client_cert_pem.clone().into_bytes());
    settings.client_key_pem = Some(pki.client_key_pem.clone().into_bytes());
    let err = post_err(settings, &sample_event()).await;
    let text = err.to_string();
    assert!(text.starts_with("generic: request failed"), "{text}");
    assert!(text.to_lowercase().contains("certificate"), "{text}");
}

#[tokio::test]
async fn without_a_client_certificate_the_mtls_server_refuses_the_post() {
    let pki = pki();
    let (address, _requests) = mtls_server(&pki).await;
    let mut settings = ProviderSettings::new("generic", &address);
    settings.ca_pem = Some(pki.ca_pem.clone().into_bytes());
    post_err(settings, &sample_event()).await;
}

#[test]
fn unusable_tls_material_is_a_clear_error_without_key_bytes() {
    let mut settings = ProviderSettings::new("generic", "https://127.0.0.1/");
    settings.ca_pem = Some(b"not pem".to_vec());
    let err = notifier(settings.clone()).err().expect("error");
    assert_eq!(
        err.to_string(),
        "invalid TLS configuration: ca.crt holds no certificate"
    );

    settings.ca_pem = None;
    settings.client_cert_pem = Some(pki().client_cert_pem.into_bytes());
    settings.client_key_pem = Some(b"SECRET-KEY-BYTES".to_vec());
    let err = notifier(settings.clone()).err().expect("error");
    assert_eq!(
        err.to_string(),
        "invalid TLS configuration: tls.key is not a PEM private key"
    );

    settings.client_key_pem = None;
    let err = notifier(settings).err().expect("error");
    assert!(err.to_string().contains("without tls.key"), "{err}");
}

#[tokio::test]
async fn requests_go_through_the_configured_proxy() {
    let proxy = TestServer::start().await;
    let mut settings = ProviderSettings::new("generic", "http://notify.invalid/hook");
    settings.proxy = Some(proxy.url(""));
    post_ok(settings, &sample_event()).await;
    let request = proxy.single_request().await;
    assert_eq!(request.path, "/hook");
    assert_eq!(request.header("host"), Some("notify.invalid"));
}

#[tokio::test]
async fn a_server_that_never_answers_fails_after_the_provider_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Accept and hold connections open without ever answering.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let mut settings = ProviderSettings::new("generic", &format!("http://{addr}/hook"));
    settings.timeout = Duration::from_millis(300);
    let notifier = notifier(settings).expect("notifier");
    let outcome = tokio::time::timeout(Duration::from_secs(10), notifier.post(&sample_event()))
        .await
        .expect("the provider timeout fires before the test's");
    let err = outcome.expect_err("timed out");
    assert!(err.to_string().contains("timed out"), "{err}");
}

/// A server failing the first `failures` requests with `status`, then answering `200 {}`.
async fn flaky_server(failures: usize, status: u16) -> TestServer {
    let seen = std::sync::atomic::AtomicUsize::new(0);
    TestServer::start_with(move |_| {
        let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n < failures {
            (status, r#"{"error":"try later"}"#.to_owned())
        } else {
            (200, "{}".to_owned())
        }
    })
    .await
}

#[tokio::test]
async fn a_server_error_is_retried_until_the_post_succeeds() {
    let server = flaky_server(2, 503).await;
    post_ok(
        ProviderSettings::new("generic", &server.url("/hook")),
        &sample_event(),
    )
    .await;
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[0].body, requests[2].body,
        "the same body each time"
    );
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let server = flaky_server(1, 400).await;
    let err = post_err(
        ProviderSettings::new("generic", &server.url("/hook")),
        &sample_event(),
    )
    .await;
    assert!(err.to_string().contains("status 400"), "{err}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn retries_stop_after_four_and_report_the_last_status() {
    let server = flaky_server(usize::MAX, 500).await;
    let err = post_err(
        ProviderSettings::new("generic", &server.url("/hook")),
        &sample_event(),
    )
    .await;
    assert!(err.to_string().contains("status 500"), "{err}");
    assert_eq!(server.requests().len(), 5, "one attempt and four retries");
}
