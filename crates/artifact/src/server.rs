//! The artifact HTTP service on `--storage-addr` (default `:9090`).
//!
//! Flux serves the storage root with Go's `http.FileServer`; consumers only ever GET (or HEAD)
//! the `<kind>/<namespace>/<name>/<file>` URLs it advertises. We serve exactly those, following
//! our own convenience symlinks (`latest.tar.gz`, `index.yaml`) but never out of the root, and
//! refuse everything else with 404: no directory listings, no hidden temp or lock files, no
//! traversal. `GET /` answers 200 because Flux's Deployment uses it as the readiness probe.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::layout::validate_segment;
use crate::storage::Storage;

#[derive(Clone, Debug)]
struct ServerState {
    root: Arc<PathBuf>,
}

/// The artifact server's routes over `storage`'s root; serve it with [`serve`].
pub fn router(storage: &Storage) -> Router {
    let state = ServerState {
        root: Arc::new(storage.root().to_path_buf()),
    };
    Router::new()
        .route("/", get(readiness))
        .route("/{*path}", get(artifact_file))
        .with_state(state)
}

/// Serve `router` on `listener` until `shutdown` completes, letting in-flight downloads finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn readiness() -> StatusCode {
    StatusCode::OK
}

async fn artifact_file(
    State(state): State<ServerState>,
    Path(path): Path<String>,
    request: Request,
) -> Response {
    let Some(file) = resolve(&state.root, &path).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = content_type(&path);
    match ServeFile::new(file).oneshot(request).await {
        Ok(response) => {
            let mut response = response.map(Body::new);
            if response.status().is_success() {
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            }
            response
        }
        Err(never) => match never {},
    }
}

/// The file a request path names, if it is a regular file inside the root. The path has already
/// been percent-decoded, so encoded `..` or `/` are caught here too.
async fn resolve(root: &std::path::Path, path: &str) -> Option<PathBuf> {
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() != 4
        || segments
            .iter()
            .any(|s| validate_segment("path segment", s).is_err())
    {
        return None;
    }
    let candidate = segments.iter().fold(root.to_path_buf(), |p, s| p.join(s));
    let canonical_root = tokio::fs::canonicalize(root).await.ok()?;
    let resolved = tokio::fs::canonicalize(&candidate).await.ok()?;
    if !resolved.starts_with(&canonical_root) {
        return None;
    }
    let meta = tokio::fs::metadata(&resolved).await.ok()?;
    meta.is_file().then_some(resolved)
}

/// What Go's file server ends up sending for Flux's files: no `mime.types` in the image, so
/// gzip content is sniffed as `application/x-gzip` and the JSON index as plain text.
pub fn content_type(path: &str) -> &'static str {
    if path.ends_with(".tar.gz") || path.ends_with(".tgz") || path.ends_with(".gz") {
        "application/x-gzip"
    } else if path.ends_with(".yaml") || path.ends_with(".yml") || path.ends_with(".txt") {
        "text/plain; charset=utf-8"
    } else if path.ends_with(".json") {
        "application/json"
    } else {
        "application/octet-stream"
    }
}
