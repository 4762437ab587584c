//! The artifact server serves stored bytes at Flux's URLs and nothing else.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use driftless_artifact::layout::LATEST_TAR_GZ;
use driftless_artifact::{ObjectKey, Storage, router};
use tower::ServiceExt;

struct Fixture {
    _tmp: tempfile::TempDir,
    storage: Storage,
    bytes: Vec<u8>,
    path: String,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::new(tmp.path().join("data"), "localhost:9090");
    let key = ObjectKey::new("OCIRepository", "apps", "podinfo").unwrap();
    let lock = storage.lock(&key).unwrap();
    let bytes = common::EvilTar::new().file("a.yaml", b"a: 1").tar_gz();
    let artifact = lock
        .store_bytes("sha256:abcd.tar.gz", "latest@sha256:abcd", &bytes)
        .unwrap();
    lock.symlink(&artifact, LATEST_TAR_GZ).unwrap();
    std::fs::write(tmp.path().join("outside-secret"), b"secret").unwrap();
    Fixture {
        _tmp: tmp,
        storage,
        bytes,
        path: artifact.path,
    }
}

async fn request(
    storage: &Storage,
    method: Method,
    uri: &str,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let response = router(storage).oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        to_bytes(body, usize::MAX).await.unwrap().to_vec(),
    )
}

#[tokio::test]
async fn get_serves_bytes_identical_to_the_stored_file() {
    let f = fixture();
    let (status, headers, body) = request(&f.storage, Method::GET, &format!("/{}", f.path)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, f.bytes);
    assert_eq!(headers[header::CONTENT_TYPE], "application/x-gzip");
    assert_eq!(
        headers[header::CONTENT_LENGTH],
        f.bytes.len().to_string().as_str()
    );
}

#[tokio::test]
async fn head_reports_the_length_without_a_body() {
    let f = fixture();
    let (status, headers, body) = request(&f.storage, Method::HEAD, &format!("/{}", f.path)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(
        headers[header::CONTENT_LENGTH],
        f.bytes.len().to_string().as_str()
    );
}

#[tokio::test]
async fn the_latest_symlink_serves_the_current_artifact() {
    let f = fixture();
    let (status, _, body) = request(
        &f.storage,
        Method::GET,
        "/ocirepository/apps/podinfo/latest.tar.gz",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, f.bytes);
}

#[tokio::test]
async fn unknown_files_directories_and_hidden_files_are_not_found() {
    let f = fixture();
    let lock_file = "/ocirepository/apps/.podinfo.lock/x";
    for uri in [
        "/ocirepository/apps/podinfo/nope.tar.gz",
        "/ocirepository/apps/podinfo",
        "/ocirepository/",
        lock_file,
    ] {
        let (status, _, body) = request(&f.storage, Method::GET, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(
            !String::from_utf8_lossy(&body).contains("podinfo"),
            "{uri} listed something"
        );
    }
}

#[tokio::test]
async fn path_traversal_is_refused_plain_or_percent_encoded() {
    let f = fixture();
    for uri in [
        "/../outside-secret",
        "/ocirepository/apps/../../outside-secret",
        "/ocirepository/apps/podinfo/..%2F..%2F..%2Foutside-secret",
        "/ocirepository/apps/%2e%2e/%2e%2e",
        "/a/b/c/%2e%2e%2f%2e%2e%2f%2e%2e%2foutside-secret",
    ] {
        let (status, _, body) = request(&f.storage, Method::GET, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_ne!(body, b"secret", "{uri}");
    }
}

#[tokio::test]
async fn a_symlink_planted_in_storage_pointing_outside_is_not_followed() {
    let f = fixture();
    let dir = f.storage.root().join("ocirepository/apps/podinfo");
    std::os::unix::fs::symlink(
        f.storage.root().join("../outside-secret"),
        dir.join("evil.tar.gz"),
    )
    .unwrap();
    let (status, _, _) = request(
        &f.storage,
        Method::GET,
        "/ocirepository/apps/podinfo/evil.tar.gz",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_root_answers_ok_for_flux_readiness_probe_without_a_listing() {
    let f = fixture();
    let (status, _, body) = request(&f.storage, Method::GET, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
}

#[tokio::test]
async fn writes_are_not_allowed() {
    let f = fixture();
    let (status, _, _) = request(&f.storage, Method::PUT, &format!("/{}", f.path)).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_server_stops_on_the_shutdown_signal() {
    let f = fixture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(driftless_artifact::serve(
        listener,
        router(&f.storage),
        async move {
            let _ = stopped.await;
        },
    ));
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn range_requests_are_honoured_like_go_file_server() {
    let f = fixture();
    let request = Request::builder()
        .uri(format!("/{}", f.path))
        .header(header::RANGE, "bytes=0-9")
        .body(Body::empty())
        .unwrap();
    let response = router(&f.storage).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    assert_eq!(&body[..], &f.bytes[..10]);
}
