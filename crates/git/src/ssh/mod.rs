//! Git over SSH without an `ssh` binary: russh opens a session, runs `git-upload-pack` or
//! `git-receive-pack` on a channel and gix speaks the pack protocol over it.
//!
//! [`SshTransport`] implements gix's blocking `Transport`, so fetches go through gix exactly
//! as over HTTP and pushes reuse the receive-pack code of [`crate::push`]. The connection
//! (and its strict host key check and public-key authentication) is made when the transport
//! is created, so those failures come back as our own errors, not as gix I/O errors.

mod client;
mod io;
pub(crate) mod known_hosts;
mod tunnel;

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gix::bstr::{BStr, BString};
use gix::protocol::transport::client::blocking_io::{RequestWriter, SetServiceResponse, Transport};
use gix::protocol::transport::client::git::{ConnectMode, blocking_io::Connection};
use gix::protocol::transport::client::{self as gix_client, MessageKind, WriteMode};
use gix::protocol::transport::{Protocol, Service};

use crate::error::GitError;
use crate::transport::Auth;
use crate::url::RepoUrl;
use known_hosts::KnownHosts;

/// The user when the URL names none, as Flux defaults it.
const DEFAULT_USER: &str = "git";

/// A gix transport over one authenticated SSH connection.
pub(crate) struct SshTransport {
    url: String,
    path: String,
    deadline: Instant,
    timeout: Duration,
    stderr: io::Stderr,
    connection: Option<Connection<io::ChannelReader, io::ChannelWriter>>,
    handle: russh::client::Handle<client::HostCheck>,
    // Drives the russh session; its own so callers need no runtime (they are blocking).
    runtime: Option<tokio::runtime::Runtime>,
}

impl SshTransport {
    /// Connect to the host of `url`, check its key and authenticate with `auth`'s identity.
    pub fn connect(
        url: &RepoUrl,
        auth: &Auth,
        timeout: Duration,
    ) -> Result<SshTransport, GitError> {
        let deadline = Instant::now() + timeout;
        let invalid = |reason: String| GitError::InvalidAuth {
            url: url.sanitized.clone(),
            reason,
        };
        let (mut target, parsed) = target_of(url)?;
        target.proxy = crate::proxy::for_ssh(auth.proxy.as_ref(), &target.host, |name| {
            std::env::var(name).ok()
        })
        .map_err(invalid)?;
        let identity = auth
            .ssh_identity
            .as_deref()
            .ok_or_else(|| invalid("'identity' is required for SSH".into()))?;
        let known_hosts = auth
            .ssh_known_hosts
            .as_deref()
            .ok_or_else(|| invalid("'known_hosts' is required for SSH".into()))?;
        let known_hosts = std::str::from_utf8(known_hosts)
            .map_err(|_| invalid("'known_hosts' is not valid UTF-8".into()))
            .and_then(|text| {
                KnownHosts::parse(text).map_err(|e| invalid(format!("'known_hosts': {e}")))
            })?;
        let key = client::decode_identity(&url.sanitized, identity, auth.ssh_password.as_deref())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("driftless-ssh")
            .enable_all()
            .build()
            .map_err(GitError::io("starting the SSH runtime", "."))?;
        let handle = runtime.block_on(client::connect(
            &target,
            known_hosts,
            key,
            deadline,
            timeout,
        ))?;
        Ok(SshTransport {
            url: url.sanitized.clone(),
            path: repository_path(parsed.path.as_ref()),
            deadline,
            timeout,
            stderr: Arc::new(Mutex::new(Vec::new())),
            connection: None,
            handle,
            runtime: Some(runtime),
        })
    }

    /// Run the service's command on a new session channel.
    fn start(&mut self, service: Service) -> Result<(), gix_client::Error> {
        let Some(runtime) = self.runtime.as_ref() else {
            return Err(gix_client::Error::MissingHandshake);
        };
        let command = format!("{} {}", service.as_str(), shell_quote(&self.path));
        let v2 = service == Service::UploadPack;
        let left = self.deadline.saturating_duration_since(Instant::now());
        let handle = &self.handle;
        let opened = runtime.block_on(tokio::time::timeout(left, async {
            let channel = handle.channel_open_session().await?;
            if v2 {
                // Servers that do not accept the variable answer in protocol v0; gix copes.
                channel.set_env(false, "GIT_PROTOCOL", "version=2").await?;
            }
            channel.exec(true, command.as_bytes()).await?;
            Ok::<_, russh::Error>(channel)
        }));
        let channel = match opened {
            Ok(Ok(channel)) => channel,
            Ok(Err(e)) => {
                return Err(gix_client::Error::Io(std::io::Error::other(format!(
                    "running '{command}' over SSH: {e}"
                ))));
            }
            Err(_) => {
                return Err(gix_client::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "running '{command}' over SSH timed out after {:?}",
                        self.timeout
                    ),
                )));
            }
        };
        let (read, write) = channel.split();
        let reader = io::ChannelReader::new(
            read,
            runtime.handle().clone(),
            self.deadline,
            self.stderr.clone(),
        );
        let writer = io::ChannelWriter {
            half: write,
            runtime: runtime.handle().clone(),
            deadline: self.deadline,
        };
        let protocol = if v2 { Protocol::V2 } else { Protocol::V1 };
        self.connection = Some(
            Connection::new(
                reader,
                writer,
                protocol,
                self.path.clone(),
                None::<(String, Option<u16>)>,
                ConnectMode::Process,
                false,
            )
            .custom_url(Some(BString::from(self.url.clone()))),
        );
        Ok(())
    }
}

impl Drop for SshTransport {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Say goodbye briefly; the server drops the session on close anyway.
            let handle = &self.handle;
            let _ = runtime.block_on(tokio::time::timeout(
                Duration::from_secs(1),
                handle.disconnect(russh::Disconnect::ByApplication, "", "en"),
            ));
            runtime.shutdown_background();
        }
    }
}

impl gix_client::TransportWithoutIO for SshTransport {
    fn to_url(&self) -> Cow<'_, BStr> {
        Cow::Borrowed(self.url.as_str().into())
    }

    fn connection_persists_across_multiple_requests(&self) -> bool {
        true
    }

    fn configure(&mut self, _config: &dyn std::any::Any) -> gix::Result<()> {
        Ok(())
    }
}

impl Transport for SshTransport {
    fn handshake<'a>(
        &mut self,
        service: Service,
        extra_parameters: &'a [(&'a str, Option<&'a str>)],
    ) -> Result<SetServiceResponse<'_>, gix_client::Error> {
        self.start(service)?;
        match self.connection.as_mut() {
            Some(connection) => connection.handshake(service, extra_parameters),
            None => Err(gix_client::Error::MissingHandshake),
        }
    }

    fn request(
        &mut self,
        write_mode: WriteMode,
        on_into_read: MessageKind,
        trace: bool,
    ) -> Result<RequestWriter<'_>, gix_client::Error> {
        match self.connection.as_mut() {
            Some(connection) => connection.request(write_mode, on_into_read, trace),
            None => Err(gix_client::Error::MissingHandshake),
        }
    }
}

/// Host, port and user of an `ssh://` URL, and the parsed URL.
fn target_of(url: &RepoUrl) -> Result<(client::Target, gix::Url), GitError> {
    let parsed = gix::url::parse(url.sanitized.as_str()).map_err(|e| GitError::InvalidUrl {
        url: url.sanitized.clone(),
        reason: e.to_string(),
    })?;
    let host = parsed
        .host()
        .ok_or_else(|| GitError::InvalidUrl {
            url: url.sanitized.clone(),
            reason: "missing host".into(),
        })?
        .to_string();
    let target = client::Target {
        host,
        port: parsed.port.unwrap_or(22),
        user: parsed.user().unwrap_or(DEFAULT_USER).to_string(),
        url: url.sanitized.clone(),
        proxy: None,
    };
    Ok((target, parsed))
}

/// The `known_hosts` line for the server of `url`, read from its handshake: the trust
/// `driftless bootstrap git` records in the Secret, as `flux bootstrap` scans it.
pub fn scan_known_hosts(url: &str, timeout: Duration) -> Result<String, GitError> {
    let url = RepoUrl::parse(url)?;
    let (target, _) = target_of(&url)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(GitError::io("starting the SSH runtime", "."))?;
    runtime.block_on(client::scan(&target, timeout))
}

/// The OpenSSH public key line (`identity.pub`) of a private key.
pub fn identity_public_key(identity: &[u8], password: Option<&str>) -> Result<String, GitError> {
    let key = client::decode_identity("identity", identity, password)?;
    key.public_key().to_openssh().map_err(GitError::object)
}

/// The path git-upload-pack gets: `ssh://host/~user/repo` means `~user/repo`, as git has it.
fn repository_path(url_path: &BStr) -> String {
    let path = url_path.to_string();
    match path.strip_prefix("/~") {
        Some(rest) => format!("~{rest}"),
        None => path,
    }
}

/// Single-quote `s` for the remote shell, as git quotes the path it sends.
fn shell_quote(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("'\\''"),
            '!' => out.push_str("'\\!'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remote_path_is_single_quoted_for_the_shell() {
        assert_eq!(shell_quote("/srv/git/repo.git"), "'/srv/git/repo.git'");
        assert_eq!(shell_quote("/a'b!c"), "'/a'\\''b'\\!'c'");
    }

    #[test]
    fn a_tilde_path_is_relative_to_the_home_directory() {
        assert_eq!(repository_path("/~/repo.git".into()), "~/repo.git");
        assert_eq!(repository_path("/~bob/repo.git".into()), "~bob/repo.git");
        assert_eq!(repository_path("/org/repo.git".into()), "/org/repo.git");
    }
}
