//! The HTTP side of the loopback registry: authentication (Basic, or the Bearer challenge and
//! its `/token` realm) and the distribution API routes over the in-memory repositories.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use http_body_util::BodyExt as _;

use super::{OCI_MANIFEST_MEDIA_TYPE, RegistryAuth, Repo, ServerState, sha256_digest};

/// Every request: log, authenticate, route.
pub(super) async fn handle(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let method = request.method().clone();
    state.lock().log.push(if query.is_empty() {
        format!("{method} {path}")
    } else {
        format!("{method} {path}?{query}")
    });
    if path == "/token" && method == Method::POST {
        // An OAuth2 refresh-token grant (a `.dockerconfigjson` `identitytoken`); the password
        // stands in for the refresh token.
        let body = match request.into_body().collect().await {
            Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
            Err(_) => return error(StatusCode::BAD_REQUEST, "UNSUPPORTED", "bad body"),
        };
        return refresh_token(&state, &parse_query(&body));
    }
    if path == "/token" {
        return issue_token(&state, request.headers());
    }
    let Some(rest) = path.strip_prefix("/v2") else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "not a registry path");
    };
    let rest = rest.trim_start_matches('/');
    if let Some(denied) = authenticate(&state, request.headers(), repo_of(rest)) {
        return denied;
    }
    if rest.is_empty() {
        return json(StatusCode::OK, "{}".to_owned());
    }
    let params = parse_query(&query);
    let body = if matches!(method, Method::PUT | Method::PATCH | Method::POST) {
        match request.into_body().collect().await {
            Ok(collected) => collected.to_bytes().to_vec(),
            Err(_) => return error(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID", "bad body"),
        }
    } else {
        Vec::new()
    };
    route(&state, &method, rest, &params, body)
}

/// `/v2/<rest>` after authentication.
fn route(
    state: &ServerState,
    method: &Method,
    rest: &str,
    params: &HashMap<String, String>,
    body: Vec<u8>,
) -> Response {
    let mut inner = state.lock();
    if let Some(repo) = rest.strip_suffix("/tags/list") {
        let page = params
            .get("n")
            .and_then(|n| n.parse::<usize>().ok())
            .or(inner.default_page_size);
        let Some(stored) = inner.repos.get(repo) else {
            return error(
                StatusCode::NOT_FOUND,
                "NAME_UNKNOWN",
                "repository name not known",
            );
        };
        return tag_page(repo, stored, page, params.get("last"));
    }
    if let Some((repo, reference)) = rest.split_once("/manifests/") {
        if *method == Method::PUT {
            let media_type = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("mediaType")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| OCI_MANIFEST_MEDIA_TYPE.to_owned());
            let digest = sha256_digest(&body);
            let stored = inner.repos.entry(repo.to_owned()).or_default();
            stored.manifests.insert(digest.clone(), (media_type, body));
            if !reference.starts_with("sha256:") {
                stored.tags.insert(reference.to_owned(), digest.clone());
            }
            return created(&format!("/v2/{repo}/manifests/{digest}"), &digest);
        }
        let stored = inner.repos.get(repo);
        let digest = if reference.contains(':') {
            Some(reference.to_owned())
        } else {
            stored.and_then(|r| r.tags.get(reference).cloned())
        };
        let Some((media_type, bytes)) = digest
            .as_ref()
            .and_then(|d| stored?.manifests.get(d).cloned())
        else {
            return error(
                StatusCode::NOT_FOUND,
                "MANIFEST_UNKNOWN",
                "manifest unknown",
            );
        };
        let digest = digest.unwrap_or_default();
        return content(method, &media_type, &digest, bytes);
    }
    if let Some(repo) = rest.strip_suffix("/blobs/uploads/") {
        // Start (POST) or, with ?digest=, finish a monolithic upload in one request.
        let id = inner.next_upload;
        inner.next_upload += 1;
        inner
            .uploads
            .insert(id.to_string(), (repo.to_owned(), body));
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::ACCEPTED;
        if let Ok(location) = HeaderValue::from_str(&format!("/v2/{repo}/blobs/uploads/{id}")) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        return response;
    }
    if let Some((repo, id)) = rest.split_once("/blobs/uploads/") {
        let Some((_, mut data)) = inner.uploads.remove(id) else {
            return error(
                StatusCode::NOT_FOUND,
                "BLOB_UPLOAD_UNKNOWN",
                "upload unknown",
            );
        };
        data.extend_from_slice(&body);
        let Some(expected) = params.get("digest").filter(|_| *method == Method::PUT) else {
            inner.uploads.insert(id.to_owned(), (repo.to_owned(), data));
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::ACCEPTED;
            if let Ok(location) = HeaderValue::from_str(&format!("/v2/{repo}/blobs/uploads/{id}")) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            return response;
        };
        let digest = sha256_digest(&data);
        if &digest != expected {
            return error(StatusCode::BAD_REQUEST, "DIGEST_INVALID", "digest mismatch");
        }
        let stored = inner.repos.entry(repo.to_owned()).or_default();
        stored.blobs.insert(digest.clone(), data);
        return created(&format!("/v2/{repo}/blobs/{digest}"), &digest);
    }
    if let Some((repo, digest)) = rest.split_once("/blobs/") {
        let Some(bytes) = inner
            .repos
            .get(repo)
            .and_then(|r| r.blobs.get(digest))
            .cloned()
        else {
            return error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown");
        };
        return content(method, "application/octet-stream", digest, bytes);
    }
    error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown endpoint")
}

/// One page of sorted tags after `last`, with a `Link` to the next when more remain.
fn tag_page(repo: &str, stored: &Repo, page: Option<usize>, last: Option<&String>) -> Response {
    use std::ops::Bound;
    let start = last.map_or(Bound::Unbounded, |last| Bound::Excluded(last.clone()));
    let mut after = stored
        .tags
        .range::<String, _>((start, Bound::Unbounded))
        .map(|(tag, _)| tag);
    let tags: Vec<&String> = match page {
        Some(n) => after.by_ref().take(n).collect(),
        None => after.by_ref().collect(),
    };
    let more = after.next().is_some();
    let mut response = json(
        StatusCode::OK,
        serde_json::json!({"name": repo, "tags": tags}).to_string(),
    );
    if more && let (Some(n), Some(last)) = (page, tags.last()) {
        let link = format!(r#"</v2/{repo}/tags/list?n={n}&last={last}>; rel="next""#);
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

/// A manifest or blob: body for GET, headers only for HEAD.
fn content(method: &Method, media_type: &str, digest: &str, bytes: Vec<u8>) -> Response {
    let length = bytes.len();
    let mut response = if *method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(bytes))
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(media_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(digest) {
        headers.insert("docker-content-digest", value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}

fn created(location: &str, digest: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::CREATED;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    if let Ok(value) = HeaderValue::from_str(digest) {
        response
            .headers_mut()
            .insert("docker-content-digest", value);
    }
    response
}

/// The repository part of a `/v2/<repo>/<endpoint>/…` path, for the token scope.
fn repo_of(rest: &str) -> Option<&str> {
    ["/tags/", "/manifests/", "/blobs/"]
        .iter()
        .filter_map(|marker| rest.find(marker).map(|i| &rest[..i]))
        .min_by_key(|repo| repo.len())
}

fn authenticate(state: &ServerState, headers: &HeaderMap, repo: Option<&str>) -> Option<Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match &state.auth {
        RegistryAuth::None => None,
        RegistryAuth::Basic { username, password } => {
            (given != basic(username, password)).then(|| {
                challenge(
                    r#"Basic realm="testkit-registry""#.to_owned(),
                    "authentication required",
                )
            })
        }
        RegistryAuth::Token { .. } => (given != format!("Bearer {}", state.token)).then(|| {
            let scope = repo
                .map(|r| format!(r#","scope="repository:{r}:pull""#))
                .unwrap_or_default();
            challenge(
                format!(
                    r#"Bearer realm="http://{}/token",service="testkit-registry"{scope}"#,
                    state.addr
                ),
                "authentication required",
            )
        }),
    }
}

fn issue_token(state: &ServerState, headers: &HeaderMap) -> Response {
    let RegistryAuth::Token { username, password } = &state.auth else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "no token service");
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if given != basic(username, password) {
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "bad credentials");
    }
    json(
        StatusCode::OK,
        serde_json::json!({"token": state.token, "expires_in": 300}).to_string(),
    )
}

fn refresh_token(state: &ServerState, form: &HashMap<String, String>) -> Response {
    let RegistryAuth::Token { password, .. } = &state.auth else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "no token service");
    };
    let granted = form.get("grant_type").map(String::as_str) == Some("refresh_token")
        && form.get("refresh_token") == Some(password);
    if !granted {
        return error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "bad refresh token",
        );
    }
    json(
        StatusCode::OK,
        serde_json::json!({"access_token": state.token, "expires_in": 300}).to_string(),
    )
}

fn basic(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
    )
}

fn challenge(www_authenticate: String, message: &str) -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message);
    if let Ok(value) = HeaderValue::from_str(&www_authenticate) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace("%3A", ":").replace("%3a", ":")))
        .collect()
}

fn json(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A distribution error body.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json(
        status,
        serde_json::json!({"errors": [{"code": code, "message": message}]}).to_string(),
    )
}
