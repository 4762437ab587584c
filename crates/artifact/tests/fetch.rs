//! The fetch client: real loopback HTTP through the artifact server, retries, verification.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::{EvilTar, Tree, sha256};
use driftless_artifact::{
    ExtractSummary, FetchError, FetchOptions, Fetcher, IgnoreRules, ObjectKey, Storage, router,
    serve,
};

fn quick() -> FetchOptions {
    FetchOptions {
        retries: 3,
        min_retry_wait: Duration::from_millis(10),
        max_retry_wait: Duration::from_millis(50),
        ..FetchOptions::default()
    }
}

/// Serve `app` on a loopback port; returns its address and a guard that stops it.
async fn spawn(app: Router) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, app, async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

#[tokio::test]
async fn an_artifact_round_trips_from_storage_through_the_server_to_a_consumer_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    Tree::at(&src)
        .file("apps/podinfo.yaml", "kind: HelmRelease")
        .file(".git/HEAD", "ref");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let storage = Storage::new(tmp.path().join("data"), addr);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, router(&storage), async move {
        let _ = stopped.await;
    }));
    let key = ObjectKey::new("GitRepository", "flux-system", "fleet").unwrap();
    let lock = storage.lock(&key).unwrap();
    let rules = IgnoreRules::for_source(&src, None).unwrap();
    let artifact = lock
        .store_archive("0123abcd.tar.gz", "main@sha1:0123abcd", &src, &rules)
        .unwrap();
    drop(lock);

    let dest = tmp.path().join("consumer");
    let fetcher = Fetcher::new(quick()).unwrap();
    let summary = fetcher
        .fetch(&artifact.url, &artifact.digest, &dest)
        .await
        .unwrap();
    assert_eq!(summary.files, 1);
    assert_eq!(
        std::fs::read_to_string(dest.join("apps/podinfo.yaml")).unwrap(),
        "kind: HelmRelease"
    );
    assert!(!dest.join(".git").exists());
    let _ = stop.send(());
}

#[tokio::test]
async fn a_digest_mismatch_is_refused_naming_both_digests_and_nothing_is_extracted() {
    let tmp = tempfile::tempdir().unwrap();
    let served = EvilTar::new().file("evil.yaml", b"evil").tar_gz();
    let actual = sha256(&served);
    let app = Router::new().route(
        "/a/b/c/d.tar.gz",
        get(move || async move { served.clone() }),
    );
    let (addr, _stop) = spawn(app).await;
    let expected = sha256(b"what the producer published");
    let dest = tmp.path().join("out");
    let err = Fetcher::new(quick())
        .unwrap()
        .fetch(&format!("http://{addr}/a/b/c/d.tar.gz"), &expected, &dest)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::DigestMismatch { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&expected) && message.contains(&actual),
        "{message}"
    );
    assert!(!dest.exists());
}

/// A loopback server answering its n-th request (from 0) with `respond(n)`, counting requests.
async fn scripted<F>(respond: F) -> (String, Arc<AtomicUsize>, tokio::sync::oneshot::Sender<()>)
where
    F: Fn(usize) -> Response + Clone + Send + Sync + 'static,
{
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().fallback(move || {
        let response = respond(counter.fetch_add(1, Ordering::SeqCst));
        async move { response }
    });
    let (addr, stop) = spawn(app).await;
    (addr, hits, stop)
}

/// Fetch `/x/y/z/a.tar.gz` from `addr` into a throwaway directory.
async fn fetch_from(
    addr: &str,
    digest: &str,
    options: FetchOptions,
) -> Result<ExtractSummary, FetchError> {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("http://{addr}/x/y/z/a.tar.gz");
    Fetcher::new(options)
        .unwrap()
        .fetch(&url, digest, tmp.path())
        .await
}

#[tokio::test]
async fn not_found_is_reported_at_once_without_retrying() {
    let (addr, hits, _stop) = scripted(|_| StatusCode::NOT_FOUND.into_response()).await;
    let err = fetch_from(&addr, &sha256(b""), quick()).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn transient_server_errors_are_retried_until_the_artifact_arrives() {
    let body = EvilTar::new().file("ok.yaml", b"ok").tar_gz();
    let digest = sha256(&body);
    let (addr, hits, _stop) = scripted(move |n| match n {
        0 | 1 => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        _ => body.clone().into_response(),
    })
    .await;
    let summary = fetch_from(&addr, &digest, quick()).await.unwrap();
    assert_eq!(summary.files, 1);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn retries_give_up_after_the_configured_count() {
    let (addr, hits, _stop) = scripted(|_| StatusCode::BAD_GATEWAY.into_response()).await;
    let err = fetch_from(&addr, &sha256(b""), quick()).await.unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 502, .. }),
        "{err}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn downloads_over_the_size_limit_are_refused() {
    let (addr, _, _stop) = scripted(|_| vec![0u8; 4096].into_response()).await;
    let options = FetchOptions {
        max_download_size: Some(1024),
        ..quick()
    };
    let err = fetch_from(&addr, &sha256(b""), options).await.unwrap_err();
    assert!(
        matches!(err, FetchError::TooLarge { limit: 1024, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn credentials_and_query_strings_never_appear_in_errors() {
    let app = Router::new().fallback(|| async { StatusCode::FORBIDDEN });
    let (addr, _stop) = spawn(app).await;
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("http://user:hunter2@{addr}/x/y/z/a.tar.gz?token=s3cr3t");
    let err = Fetcher::new(quick())
        .unwrap()
        .fetch(&url, &sha256(b""), tmp.path())
        .await
        .unwrap_err();
    let message = format!("{err} {err:?}");
    assert!(
        matches!(err, FetchError::Status { status: 403, .. }),
        "{err}"
    );
    assert!(
        !message.contains("hunter2") && !message.contains("s3cr3t"),
        "{message}"
    );
    assert!(
        message.contains(&format!("http://{addr}/x/y/z/a.tar.gz")),
        "{message}"
    );
}

#[tokio::test]
async fn an_unreachable_host_is_a_transport_error_after_retries_without_credentials() {
    // Bind then drop to get a loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("http://user:hunter2@127.0.0.1:{port}/x/y/z/a.tar.gz");
    let err = Fetcher::new(quick())
        .unwrap()
        .fetch(&url, &sha256(b""), tmp.path())
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Transport { attempts: 4, .. }),
        "{err}"
    );
    let message = format!("{err} {err:?}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn non_http_urls_and_bad_digests_are_refused_before_any_request() {
    let fetcher = Fetcher::new(quick()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let err = fetcher
        .fetch("file:///etc/passwd", &sha256(b""), tmp.path())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::InvalidUrl { .. }), "{err}");
    let err = fetcher
        .fetch("http://127.0.0.1:1/a", "md5:abc", tmp.path())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::InvalidDigest(_)), "{err}");
}
