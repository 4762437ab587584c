//! One conversation with a remote: an isolated scratch repository, a connection with our
//! credentials and timeouts, ref listing (ls-remote) and fetching.
//!
//! The scratch repository is bare and ignores every git configuration on the machine
//! (system, global, environment), so a host's credential helpers, `http.proxy` or
//! `url.<x>.insteadOf` rules can never change what a GitRepository fetches. Proxies come
//! from the object (`Auth::proxy`) or, without one, from the standard environment variables
//! (see [`crate::proxy`]), as they do for Flux.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use gix::remote::Direction;

use crate::error::GitError;
use crate::ssh::SshTransport;
use crate::transport::{self, Auth};
use crate::url::{RepoUrl, Scheme, redact};

/// One reference as the remote advertises it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteRef {
    /// Full name, like `refs/heads/main` or `refs/tags/v1.0.0`.
    pub name: String,
    /// The object the ref points to (the tag object for annotated tags).
    pub target: String,
    /// The commit an annotated tag points to, when the remote peeled it.
    pub peeled: Option<String>,
}

impl RemoteRef {
    /// The commit this ref ultimately names.
    pub fn commit(&self) -> &str {
        self.peeled.as_deref().unwrap_or(&self.target)
    }
}

pub(crate) struct Session {
    pub url: RepoUrl,
    auth: Auth,
    timeout: Duration,
    deadline: Instant,
    secrets: Vec<String>,
    pub repo: gix::Repository,
    // Keeps the scratch repository alive for as long as `repo` is used.
    _scratch: tempfile::TempDir,
}

impl Session {
    pub fn open(url: RepoUrl, auth: &Auth, timeout: Duration) -> Result<Session, GitError> {
        Session::open_until(url, auth, timeout, Instant::now() + timeout)
    }

    /// [`Session::open`] sharing an earlier deadline (submodules share their parent's
    /// `spec.timeout`); `timeout` is the bound messages name.
    pub fn open_until(
        url: RepoUrl,
        auth: &Auth,
        timeout: Duration,
        deadline: Instant,
    ) -> Result<Session, GitError> {
        auth.check(&url)?;
        let scratch = tempfile::Builder::new()
            .prefix("driftless-git-")
            .tempdir()
            .map_err(GitError::io(
                "creating scratch directory",
                std::env::temp_dir(),
            ))?;
        let repo = gix::ThreadSafeRepository::init_opts(
            scratch.path(),
            gix::create::Kind::Bare,
            gix::create::Options::default(),
            gix::open::Options::isolated(),
        )
        .map_err(GitError::object)?
        .to_thread_local();
        Ok(Session {
            secrets: auth.secrets(&url),
            url,
            auth: auth.clone(),
            timeout,
            deadline,
            repo,
            _scratch: scratch,
        })
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn remaining(&self, operation: &'static str) -> Result<Duration, GitError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.timeout_error(operation));
        }
        Ok(left)
    }

    fn timeout_error(&self, operation: &'static str) -> GitError {
        GitError::Timeout {
            url: self.url.sanitized.clone(),
            operation,
            timeout: self.timeout,
        }
    }

    /// List the remote refs matching `refspecs`; `server_filter` lets the server pre-filter
    /// by the refspecs' prefixes (off for a full listing).
    pub fn list(
        &self,
        refspecs: &[String],
        server_filter: bool,
    ) -> Result<Vec<RemoteRef>, GitError> {
        let operation = "listing references of";
        let remaining = self.remaining(operation)?;
        let remote = self.remote(refspecs, operation)?;
        let conn = self.connect(&remote, remaining, operation)?;
        let options = gix::remote::ref_map::Options {
            prefix_from_spec_as_filter_on_remote: server_filter,
            ..Default::default()
        };
        let (ref_map, _) = conn
            .ref_map(gix::progress::Discard, options)
            .map_err(|e| self.classify(e, operation))?;
        Ok(ref_map
            .remote_refs
            .iter()
            .filter_map(to_remote_ref)
            .collect())
    }

    /// Fetch `refspecs`; `shallow` asks for depth 1. `want` is consulted with the advertised
    /// refs before any pack is requested: returning `Ok(false)` skips the download.
    pub fn fetch(
        &self,
        refspecs: &[String],
        shallow: bool,
        want: impl FnOnce(&[RemoteRef]) -> Result<bool, GitError>,
    ) -> Result<bool, GitError> {
        let operation = "fetching";
        let remaining = self.remaining(operation)?;
        let remote = self.remote(refspecs, operation)?;
        let conn = self.connect(&remote, remaining, operation)?;
        let prepare = conn
            .prepare_fetch(gix::progress::Discard, Default::default())
            .map_err(|e| self.classify(e, operation))?;
        let advertised: Vec<RemoteRef> = prepare
            .ref_map()
            .remote_refs
            .iter()
            .filter_map(to_remote_ref)
            .collect();
        if !want(&advertised)? {
            return Ok(false);
        }
        let mut prepare = prepare;
        if shallow {
            prepare =
                prepare.with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(NonZeroU32::MIN));
        }
        let interrupt = Watchdog::start(remaining);
        let result = prepare.receive(gix::progress::Discard, &interrupt.flag);
        let fired = interrupt.stop();
        match result {
            Ok(_) => Ok(true),
            Err(_) if fired => Err(self.timeout_error(operation)),
            Err(e) => Err(self.classify(e, operation)),
        }
    }

    fn remote(
        &self,
        refspecs: &[String],
        operation: &'static str,
    ) -> Result<gix::Remote<'_>, GitError> {
        self.repo
            .remote_at(self.url.sanitized.as_str())
            .and_then(|r| r.with_refspecs(refspecs.iter().map(String::as_str), Direction::Fetch))
            .map_err(|e| self.classify(e, operation))
    }

    fn connect<'r>(
        &self,
        remote: &'r gix::Remote<'r>,
        remaining: Duration,
        operation: &'static str,
    ) -> Result<
        gix::remote::Connection<
            'r,
            'static,
            'r,
            Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
        >,
        GitError,
    > {
        if self.url.scheme == Scheme::Ssh {
            let ssh = SshTransport::connect(&self.url, &self.auth, remaining)?;
            let boxed: Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send> =
                Box::new(ssh);
            return Ok(remote
                .to_connection_with_transport(boxed)
                .with_credentials(transport::no_credentials));
        }
        let options = transport::http_options(&self.url, &self.auth, remaining)?;
        let conn = remote
            .connect(Direction::Fetch)
            .map_err(|e| self.classify(e, operation))?;
        Ok(conn
            .with_credentials(transport::no_credentials)
            .with_transport_options(Box::new(options)))
    }

    /// Turn a gix error into ours: timeouts and auth failures get their own variants, and
    /// no secret survives in the message.
    pub fn classify(&self, err: gix::Error, operation: &'static str) -> GitError {
        let url = self.url.sanitized.clone();
        let detail = redact(&error_chain(&err), &self.secrets);
        let mut timed_out = Instant::now() >= self.deadline;
        let mut unauthenticated = err.classify().is_unauthenticated();
        for e in err.iter_errors() {
            let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
            while let Some(e) = cur {
                if let Some(r) = e.downcast_ref::<reqwest::Error>() {
                    timed_out |= r.is_timeout();
                    unauthenticated |= r.status() == Some(reqwest::StatusCode::UNAUTHORIZED);
                }
                if let Some(io) = e.downcast_ref::<std::io::Error>() {
                    timed_out |= io.kind() == std::io::ErrorKind::TimedOut;
                    unauthenticated |= io.kind() == std::io::ErrorKind::PermissionDenied;
                }
                unauthenticated |= e
                    .downcast_ref::<gix::protocol::transport::client::AuthenticationRequired>()
                    .is_some();
                cur = e.source();
            }
        }
        let proxy = self.auth.proxy.as_ref().and_then(|p| p.endpoint().ok());
        if timed_out {
            return GitError::Timeout {
                url,
                operation,
                timeout: self.timeout,
            };
        }
        match proxy {
            Some(proxy) if proxy_refused(&err) => GitError::Authentication {
                url,
                detail: format!(
                    "the proxy {} refused the credentials: {detail}",
                    proxy.display
                ),
            },
            _ if unauthenticated => GitError::Authentication { url, detail },
            Some(proxy) => GitError::Remote {
                url,
                operation,
                detail: format!("through proxy {}: {detail}", proxy.display),
            },
            None => GitError::Remote {
                url,
                operation,
                detail,
            },
        }
    }
}

/// Whether a proxy turned our credentials away: HTTP 407 (a forwarded request or a refused
/// CONNECT) or a failed SOCKS5 login, as reqwest and hyper-util report them.
fn proxy_refused(err: &gix::Error) -> bool {
    const PHRASES: &[&str] = &[
        "proxy authorization required",
        "proxy authentication required",
        "credentials not accepted",
        "does not support user/pass authentication",
    ];
    err.iter_errors().any(|e| {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(e) = cur {
            if e.downcast_ref::<reqwest::Error>()
                .and_then(reqwest::Error::status)
                == Some(reqwest::StatusCode::PROXY_AUTHENTICATION_REQUIRED)
            {
                return true;
            }
            let text = e.to_string().to_ascii_lowercase();
            if PHRASES.iter().any(|p| text.contains(p)) {
                return true;
            }
            cur = e.source();
        }
        false
    })
}

/// Messages of an error and its causes, without repeats.
fn error_chain(err: &gix::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in err.iter_errors() {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

fn to_remote_ref(r: &gix::protocol::handshake::Ref) -> Option<RemoteRef> {
    let (name, target, peeled) = r.unpack();
    Some(RemoteRef {
        name: name.to_string(),
        target: target?.to_hex().to_string(),
        peeled: peeled.map(|p| p.to_hex().to_string()),
    })
}

/// Sets an interrupt flag when the deadline passes, so a pack download that trickles in
/// forever still ends (reqwest's timeout covers each request, this covers the whole).
struct Watchdog {
    flag: Arc<AtomicBool>,
    stop: mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(after: Duration) -> Watchdog {
        let flag = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel::<()>();
        let thread_flag = flag.clone();
        let thread = std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(after) {
                thread_flag.store(true, Ordering::SeqCst);
            }
        });
        Watchdog {
            flag,
            stop,
            thread: Some(thread),
        }
    }

    /// Stop the watchdog; true when it had fired.
    fn stop(mut self) -> bool {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.flag.load(Ordering::SeqCst)
    }
}

/// List the references of a remote, like `git ls-remote`: the cheap call Flux uses to
/// notice that nothing changed since the last artifact.
pub fn ls_remote(url: &str, auth: &Auth, timeout: Duration) -> Result<Vec<RemoteRef>, GitError> {
    let session = Session::open(RepoUrl::parse(url)?, auth, timeout)?;
    session.list(&["+refs/*:refs/*".to_string()], false)
}
