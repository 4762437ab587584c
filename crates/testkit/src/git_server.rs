//! A real Git server on loopback: git's own `git http-backend` run as a CGI behind a small
//! axum server, with optional basic-auth or bearer-token requirement, plus helpers that
//! build repositories with the `git` binary (fine here: this is test infrastructure).
//!
//! [`SilentServer`] accepts connections and never answers, for timeout tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use http_body_util::BodyExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// What the server demands before it runs the CGI.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum GitAuth {
    #[default]
    None,
    Basic {
        username: String,
        password: String,
    },
    Bearer(String),
}

struct ServerState {
    project_root: PathBuf,
    auth: GitAuth,
}

/// Bare repositories under a temporary root, served over smart HTTP until dropped.
pub struct GitServer {
    root: tempfile::TempDir,
    addr: SocketAddr,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// The router: every path goes to `git http-backend`.
pub fn router(project_root: PathBuf, auth: GitAuth) -> axum::Router {
    axum::Router::new()
        .fallback(serve_cgi)
        .with_state(Arc::new(ServerState { project_root, auth }))
}

impl GitServer {
    /// Start on an ephemeral loopback port; needs a Tokio runtime.
    pub async fn start(auth: GitAuth) -> anyhow::Result<GitServer> {
        let root = tempfile::Builder::new().prefix("git-server-").tempdir()?;
        std::fs::create_dir(root.path().join("repos"))?;
        std::fs::create_dir(root.path().join("work"))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = router(root.path().join("repos"), auth);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(err) = served.await {
                tracing::warn!(%err, "git server stopped");
            }
        });
        Ok(GitServer {
            root,
            addr,
            _shutdown: tx,
        })
    }

    /// The served bare repository `<name>.git` on disk: clone it and push to it directly
    /// (the HTTP endpoint only serves fetches without credentials).
    pub fn repo_path(&self, name: &str) -> PathBuf {
        self.root.path().join("repos").join(format!("{name}.git"))
    }

    /// `http://127.0.0.1:<port>/<name>.git`
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}.git", self.addr)
    }

    /// Accept pushes over HTTP to `<name>.git` without credentials too (`http.receivepack`;
    /// git's http-backend only allows authenticated pushes by default).
    pub fn allow_push(&self, name: &str) -> anyhow::Result<()> {
        self.git_in_repo(name, &["config", "http.receivepack", "true"])
            .map(drop)
    }

    /// Run `git` in the served bare repository `<name>.git` and return its stdout, to
    /// check what a push left there.
    pub fn git_in_repo(&self, name: &str, args: &[&str]) -> anyhow::Result<String> {
        let bare = self.repo_path(name);
        let mut full = vec!["--git-dir", path_str(&bare)?];
        full.extend_from_slice(args);
        git_output(None, &full)
    }

    /// Simulate a concurrent push landing mid-request: on the first push to `<name>.git`
    /// only, a pre-receive hook commits on `branch` itself (author `racer`, same tree) before
    /// receive-pack updates the ref, so that push fails its compare-and-swap.
    pub fn race_first_push(&self, name: &str, branch: &str) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt as _;
        let hook = self.repo_path(name).join("hooks").join("pre-receive");
        if let Some(dir) = hook.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Ref updates are refused inside receive-pack's object quarantine: leave it.
        let script = format!(
            r#"#!/bin/sh
cat >/dev/null
[ -f "$GIT_DIR/raced" ] && exit 0
touch "$GIT_DIR/raced"
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
tip=$(git rev-parse refs/heads/{branch})
export GIT_AUTHOR_NAME=racer GIT_AUTHOR_EMAIL=racer@example.invalid
export GIT_COMMITTER_NAME=racer GIT_COMMITTER_EMAIL=racer@example.invalid
c=$(echo concurrent | git commit-tree "$tip^{{tree}}" -p "$tip")
git update-ref refs/heads/{branch} "$c" "$tip"
"#
        );
        std::fs::write(&hook, script)?;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))?;
        Ok(())
    }

    /// An empty bare repository `<name>.git` and a work tree to build commits in.
    pub fn create_repo(&self, name: &str) -> anyhow::Result<TestRepo> {
        let bare = self.root.path().join("repos").join(format!("{name}.git"));
        let work = self.root.path().join("work").join(name);
        git(
            None,
            &[
                "init",
                "--bare",
                "--initial-branch=master",
                path_str(&bare)?,
            ],
        )?;
        git(None, &["init", "--initial-branch=master", path_str(&work)?])?;
        git(Some(&work), &["remote", "add", "origin", path_str(&bare)?])?;
        Ok(TestRepo { work })
    }
}

/// A repository's work tree; every helper pushes to the served bare repository.
pub struct TestRepo {
    work: PathBuf,
}

impl TestRepo {
    /// Commit `files` (path, contents) on `branch` (created from the current HEAD if new)
    /// and push it; returns the commit id.
    pub fn commit_files(
        &self,
        branch: &str,
        files: &[(&str, &str)],
        message: &str,
    ) -> anyhow::Result<String> {
        git(Some(&self.work), &["checkout", "-q", "-B", branch])?;
        for (path, contents) in files {
            let target = self.work.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&target, contents)?;
        }
        self.commit_and_push(branch, message)
    }

    /// Commit a symlink `path -> target` on `branch` and push it.
    pub fn commit_symlink(&self, branch: &str, path: &str, target: &str) -> anyhow::Result<String> {
        git(Some(&self.work), &["checkout", "-q", "-B", branch])?;
        std::os::unix::fs::symlink(target, self.work.join(path))?;
        self.commit_and_push(branch, &format!("link {path}"))
    }

    /// Record a submodule on `branch` as `git submodule add` would, without cloning it: a
    /// gitlink at `path` to `commit` and a `.gitmodules` entry (named after the path) with
    /// `url`, relative or absolute. Calling it again with another commit bumps the gitlink.
    pub fn commit_submodule(
        &self,
        branch: &str,
        path: &str,
        url: &str,
        commit: &str,
    ) -> anyhow::Result<String> {
        git(Some(&self.work), &["checkout", "-q", "-B", branch])?;
        for (key, value) in [("path", path), ("url", url)] {
            git(
                Some(&self.work),
                &[
                    "config",
                    "-f",
                    ".gitmodules",
                    &format!("submodule.{path}.{key}"),
                    value,
                ],
            )?;
        }
        // An empty directory is an uninitialised submodule: `add -A` keeps the gitlink.
        std::fs::create_dir_all(self.work.join(path))?;
        git(
            Some(&self.work),
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("160000,{commit},{path}"),
            ],
        )?;
        self.commit_and_push(branch, &format!("submodule {path} at {commit}"))
    }

    fn commit_and_push(&self, branch: &str, message: &str) -> anyhow::Result<String> {
        git(Some(&self.work), &["add", "-A"])?;
        git(
            Some(&self.work),
            &["commit", "-q", "--allow-empty", "-m", message],
        )?;
        git(
            Some(&self.work),
            &[
                "push",
                "-q",
                "-f",
                "origin",
                &format!("HEAD:refs/heads/{branch}"),
            ],
        )?;
        self.rev_parse("HEAD")
    }

    /// Create branch `name` at `from` (any revision) on the server.
    pub fn create_branch(&self, name: &str, from: &str) -> anyhow::Result<()> {
        git(
            Some(&self.work),
            &[
                "push",
                "-q",
                "-f",
                "origin",
                &format!("{from}:refs/heads/{name}"),
            ],
        )
    }

    /// Tag `target` as `name` (annotated when `message` is given) and push the tag.
    pub fn tag(&self, name: &str, target: &str, message: Option<&str>) -> anyhow::Result<()> {
        match message {
            Some(m) => git(
                Some(&self.work),
                &["tag", "-f", "-a", "-m", m, name, target],
            )?,
            None => git(Some(&self.work), &["tag", "-f", name, target])?,
        }
        git(
            Some(&self.work),
            &["push", "-q", "-f", "origin", &format!("refs/tags/{name}")],
        )
    }

    /// Push `target` to an arbitrary ref such as `refs/pull/1/head`.
    pub fn push_ref(&self, target: &str, full_ref: &str) -> anyhow::Result<()> {
        git(
            Some(&self.work),
            &[
                "push",
                "-q",
                "-f",
                "origin",
                &format!("{target}:{full_ref}"),
            ],
        )
    }

    pub fn rev_parse(&self, rev: &str) -> anyhow::Result<String> {
        Ok(git_output(Some(&self.work), &["rev-parse", rev])?
            .trim()
            .to_string())
    }
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str().context("non-UTF-8 path")
}

fn git_command(dir: Option<&Path>, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new("git");
    if let Some(dir) = dir {
        cmd.arg("-C").arg(dir);
    }
    // Fixed identity and no machine or user configuration: repeatable repositories.
    cmd.args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.invalid");
    cmd
}

fn git_output(dir: Option<&Path>, args: &[&str]) -> anyhow::Result<String> {
    let out = git_command(dir, args).output().context("running git")?;
    if !out.status.success() {
        bail!(
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn git(dir: Option<&Path>, args: &[&str]) -> anyhow::Result<()> {
    git_output(dir, args).map(drop)
}

fn authorized(auth: &GitAuth, request: &Request) -> Result<Option<String>, ()> {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match auth {
        GitAuth::None => Ok(None),
        GitAuth::Basic { username, password } => {
            let raw = format!("{username}:{password}");
            let want = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            );
            (given == Some(want.as_str()))
                .then(|| Some(username.clone()))
                .ok_or(())
        }
        GitAuth::Bearer(token) => (given == Some(format!("Bearer {token}").as_str()))
            .then(|| Some("bearer".to_string()))
            .ok_or(()),
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut res = Response::new(Body::from(text.to_string()));
    *res.status_mut() = status;
    res
}

async fn serve_cgi(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let Ok(remote_user) = authorized(&state.auth, &request) else {
        let mut res = plain(StatusCode::UNAUTHORIZED, "authentication required\n");
        let challenge = match state.auth {
            GitAuth::Bearer(_) => "Bearer",
            _ => "Basic realm=\"git\"",
        };
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        return res;
    };
    match run_cgi(&state, remote_user, request).await {
        Ok(res) => res,
        Err(err) => plain(StatusCode::INTERNAL_SERVER_ERROR, &format!("{err:#}\n")),
    }
}

async fn run_cgi(
    state: &ServerState,
    remote_user: Option<String>,
    request: Request,
) -> anyhow::Result<Response> {
    let (parts, body) = request.into_parts();
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", &state.project_root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or_default())
        .env("CONTENT_TYPE", header(header::CONTENT_TYPE))
        .env("HTTP_CONTENT_ENCODING", header(header::CONTENT_ENCODING))
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Protocol v2 is negotiated through this header; the CGI reads it from GIT_PROTOCOL.
    if let Some(proto) = parts
        .headers
        .get("git-protocol")
        .and_then(|v| v.to_str().ok())
    {
        cmd.env("GIT_PROTOCOL", proto);
    }
    if let Some(user) = &remote_user {
        cmd.env("REMOTE_USER", user);
    }
    let mut child = cmd.spawn().context("spawning git http-backend")?;
    let mut stdin = child.stdin.take().context("CGI stdin")?;
    // Stream the request body into the CGI while its output is collected.
    let feed = tokio::spawn(async move {
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            if let Some(data) = frame.data_ref()
                && stdin.write_all(data).await.is_err()
            {
                break;
            }
        }
        drop(stdin);
    });
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .context("CGI stdout")?
        .read_to_end(&mut stdout)
        .await?;
    let output = child.wait_with_output().await?;
    let _ = feed.await;
    if !output.stderr.is_empty() {
        tracing::debug!(stderr = %String::from_utf8_lossy(&output.stderr), "git http-backend");
    }
    parse_cgi_response(&stdout)
}

/// CGI output: header lines, a blank line, then the body; `Status:` sets the status code.
fn parse_cgi_response(raw: &[u8]) -> anyhow::Result<Response> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| {
            raw.windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, i + 2))
        })
        .context("CGI response without header end")?;
    let head = std::str::from_utf8(&raw[..split.0]).context("CGI headers are not UTF-8")?;
    let mut response = Response::new(Body::from(raw[split.1..].to_vec()));
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split_whitespace()
                .next()
                .unwrap_or("500")
                .parse::<u16>()?;
            *response.status_mut() = StatusCode::from_u16(code)?;
        } else {
            response.headers_mut().append(
                header::HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
    }
    Ok(response)
}

/// Accepts TCP connections and never writes a byte: a stuck server.
pub struct SilentServer {
    pub addr: SocketAddr,
    _task: tokio::task::JoinHandle<()>,
}

impl SilentServer {
    pub async fn start() -> anyhow::Result<SilentServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                held.push(conn);
            }
        });
        Ok(SilentServer { addr, _task: task })
    }

    pub fn url(&self) -> String {
        format!("http://{}/stuck.git", self.addr)
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self._task.abort();
    }
}
