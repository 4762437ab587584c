//! A Helm chart repository on loopback: an axum server answering `GET <prefix>/index.yaml`
//! (written from the charts added so far, with each chart's sha256 digest, as `helm repo
//! index` would) and `GET <prefix>/<name>-<version>.tgz`, optionally behind basic auth.
//! Charts are packaged here with tar+gzip (`<name>/Chart.yaml`, `<name>/values.yaml`, …), and
//! a test can publish a chart whose index digest lies, or a raw index of its own.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// Where the repository lives below the server root.
pub const PREFIX: &str = "/charts";

#[derive(Clone)]
struct Published {
    data: Vec<u8>,
    /// The digest the index lists (normally the real one).
    index_digest: String,
}

#[derive(Default)]
struct Repo {
    charts: BTreeMap<(String, String), Published>,
    raw_index: Option<Vec<u8>>,
    basic: Option<(String, String)>,
    requests: Vec<String>,
}

/// The running repository; stops when dropped.
pub struct HelmRepoServer {
    addr: SocketAddr,
    repo: Arc<Mutex<Repo>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl HelmRepoServer {
    /// Starts an empty repository on an ephemeral loopback port; `basic` demands those
    /// credentials on every request. Needs a Tokio runtime.
    pub async fn start(basic: Option<(&str, &str)>) -> anyhow::Result<HelmRepoServer> {
        let repo = Arc::new(Mutex::new(Repo {
            basic: basic.map(|(u, p)| (u.to_owned(), p.to_owned())),
            ..Repo::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(Arc::clone(&repo));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(err) = served.await {
                tracing::warn!(%err, "helm repository server stopped");
            }
        });
        Ok(HelmRepoServer {
            addr,
            repo,
            _shutdown: tx,
        })
    }

    /// The repository URL (`http://127.0.0.1:<port>/charts`).
    pub fn url(&self) -> String {
        format!("http://{}{PREFIX}", self.addr)
    }

    /// Packages a chart `name`/`version` from `files` (paths inside the chart; Chart.yaml is
    /// written unless given) and publishes it. Returns the packaged bytes.
    pub fn add_chart(
        &self,
        name: &str,
        version: &str,
        files: &[(&str, &str)],
    ) -> anyhow::Result<Vec<u8>> {
        let data = package(name, version, files)?;
        self.publish(name, version, data.clone(), None);
        Ok(data)
    }

    /// Publishes already packaged bytes; `index_digest` overrides the digest the index lists
    /// (to serve a chart whose digest does not match).
    pub fn publish(&self, name: &str, version: &str, data: Vec<u8>, index_digest: Option<&str>) {
        let index_digest = index_digest
            .map(str::to_owned)
            .unwrap_or_else(|| hex::encode(Sha256::digest(&data)));
        self.lock().charts.insert(
            (name.to_owned(), version.to_owned()),
            Published { data, index_digest },
        );
    }

    /// Serves `index` verbatim instead of the generated index.
    pub fn set_raw_index(&self, index: Vec<u8>) {
        self.lock().raw_index = Some(index);
    }

    /// The paths requested so far (after auth).
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Repo> {
        self.repo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A packaged chart: `<name>/Chart.yaml` (apiVersion v2) unless `files` has one, then `files`.
pub fn package(name: &str, version: &str, files: &[(&str, &str)]) -> anyhow::Result<Vec<u8>> {
    let chart_yaml =
        format!("apiVersion: v2\nname: {name}\nversion: {version}\ntype: application\n");
    let mut all: Vec<(String, Vec<u8>)> = Vec::new();
    if !files.iter().any(|(path, _)| *path == "Chart.yaml") {
        all.push(("Chart.yaml".to_owned(), chart_yaml.into_bytes()));
    }
    all.extend(
        files
            .iter()
            .map(|(path, text)| ((*path).to_owned(), text.as_bytes().to_vec())),
    );
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, data) in &all {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, format!("{name}/{path}"), data.as_slice())?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    Ok(gz.finish()?)
}

fn index_yaml(repo: &Repo) -> Vec<u8> {
    let mut out = String::from("apiVersion: v1\nentries:\n");
    let mut current = "";
    for ((name, version), published) in &repo.charts {
        if name != current {
            out.push_str(&format!("  {name}:\n"));
            current = name;
        }
        out.push_str(&format!(
            "  - apiVersion: v2\n    name: {name}\n    version: \"{version}\"\n    created: \"2026-01-01T00:00:00Z\"\n    digest: \"{}\"\n    urls:\n    - {name}-{version}.tgz\n",
            published.index_digest
        ));
    }
    out.push_str("generated: \"2026-01-01T00:00:00Z\"\n");
    out.into_bytes()
}

fn authorized(repo: &Repo, request: &Request) -> bool {
    let Some((user, pass)) = &repo.basic else {
        return true;
    };
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    );
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(expected.as_str())
}

async fn serve(State(repo): State<Arc<Mutex<Repo>>>, request: Request) -> Response {
    let mut repo = repo
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let respond = |status: StatusCode, body: Vec<u8>| {
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        response
    };
    if !authorized(&repo, &request) {
        let mut response = respond(StatusCode::UNAUTHORIZED, b"401 Unauthorized\n".to_vec());
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"charts\""),
        );
        return response;
    }
    let path = request.uri().path().to_owned();
    repo.requests.push(path.clone());
    let Some(file) = path.strip_prefix(PREFIX).and_then(|p| p.strip_prefix('/')) else {
        return respond(StatusCode::NOT_FOUND, Vec::new());
    };
    if file == "index.yaml" {
        let body = repo.raw_index.clone().unwrap_or_else(|| index_yaml(&repo));
        return respond(StatusCode::OK, body);
    }
    let found = repo.charts.iter().find_map(|((name, version), published)| {
        (format!("{name}-{version}.tgz") == file).then(|| published.data.clone())
    });
    match found {
        Some(data) => respond(StatusCode::OK, data),
        None => respond(StatusCode::NOT_FOUND, Vec::new()),
    }
}
