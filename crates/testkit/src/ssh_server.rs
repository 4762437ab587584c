//! A private OpenSSH server on loopback serving Git over SSH for tests: its own host key,
//! its own `authorized_keys`, Debian's `git-upload-pack`/`git-receive-pack` run by the
//! login shell. Repositories are addressed by absolute path, so the bare repositories a
//! [`crate::git_server::GitServer`] serves over HTTP are reachable over SSH too.
//!
//! `sshd` comes from Debian's `openssh-server`; `cargo xtask test` installs it in CI. Outside
//! CI a machine without it skips SSH tests loudly ([`SshServer::start_or_skip`]).

use std::io::Read as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

const SSHD: &str = "/usr/sbin/sshd";

/// A key pair in OpenSSH text form.
#[derive(Clone, Debug)]
pub struct KeyPair {
    /// The private key file's content (OpenSSH format unless generated otherwise).
    pub private: String,
    /// `<type> <base64> <comment>`, as in `identity.pub`.
    pub public: String,
}

/// A running `sshd -D` on 127.0.0.1, stopped when dropped.
pub struct SshServer {
    dir: tempfile::TempDir,
    addr: SocketAddr,
    user: String,
    host_public: String,
    client: KeyPair,
    child: Child,
}

impl SshServer {
    /// True when Debian's sshd is installed.
    pub fn available() -> bool {
        Path::new(SSHD).is_file()
    }

    /// Start a server, or return `None` after a loud message when sshd is missing outside
    /// CI (in CI, `CI=true`, a missing sshd is an error: the suite installs it).
    pub fn start_or_skip() -> anyhow::Result<Option<SshServer>> {
        if !Self::available() {
            if std::env::var_os("CI").is_some() {
                bail!("{SSHD} is missing in CI: cargo xtask test installs openssh-server");
            }
            eprintln!(
                "\n*** SKIPPING SSH TEST: {SSHD} is not installed \
                 (apt-get install openssh-server) ***\n"
            );
            return Ok(None);
        }
        Self::start().map(Some)
    }

    /// Start sshd with a fresh ed25519 host key that accepts one fresh ed25519 client key.
    pub fn start() -> anyhow::Result<SshServer> {
        let dir = tempfile::Builder::new().prefix("ssh-server-").tempdir()?;
        let host_key = dir.path().join("host_ed25519");
        keygen(&host_key, "ed25519", None)?;
        let host_public = public_part(&std::fs::read_to_string(host_key.with_extension("pub"))?);
        let client = generate_key("ed25519", None)?;
        std::fs::write(
            dir.path().join("authorized_keys"),
            format!("{}\n", client.public),
        )?;
        let user = current_user()?;
        if is_root() {
            // sshd refuses to start as root without its privilege separation directory.
            std::fs::create_dir_all("/run/sshd").context("creating /run/sshd")?;
        }
        let port = free_port()?;
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile none\n\
                 AuthorizedKeysFile {keys}\nStrictModes no\nPubkeyAuthentication yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 PermitRootLogin prohibit-password\nAcceptEnv GIT_PROTOCOL\nLogLevel VERBOSE\n",
                host = host_key.display(),
                keys = dir.path().join("authorized_keys").display(),
            ),
        )?;
        let log = std::fs::File::create(dir.path().join("sshd.log"))?;
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {SSHD}"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut server = SshServer {
            dir,
            addr,
            user,
            host_public,
            client,
            child,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Some(status) = self.child.try_wait()? {
                bail!("sshd exited with {status}: {}", self.log());
            }
            if let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)) {
                stream.set_read_timeout(Some(Duration::from_secs(2)))?;
                let mut banner = [0u8; 4];
                if stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-" {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "sshd did not answer on {} within 15s: {}",
            self.addr,
            self.log()
        )
    }

    /// sshd's own log (`-e`), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The account clients log in as (the user running the tests).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// `ssh://<user>@127.0.0.1:<port><absolute path>`.
    pub fn url(&self, repo: &Path) -> String {
        format!("ssh://{}@{}{}", self.user, self.addr, repo.display())
    }

    /// The server's host key as `<type> <base64>`.
    pub fn host_public_key(&self) -> &str {
        &self.host_public
    }

    /// A `known_hosts` line for this server (`[127.0.0.1]:<port> <type> <base64>`).
    pub fn known_hosts(&self) -> String {
        format!("[127.0.0.1]:{} {}\n", self.addr.port(), self.host_public)
    }

    /// The client key the server accepts from the start.
    pub fn client_key(&self) -> &KeyPair {
        &self.client
    }

    /// Accept another client public key.
    pub fn authorize(&self, public: &str) -> anyhow::Result<()> {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("authorized_keys"))?;
        writeln!(file, "{}", public.trim())?;
        Ok(())
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh key pair from `ssh-keygen -t <kind>` (`ed25519`, `ecdsa`, `rsa`) in OpenSSH
/// format, encrypted with `passphrase` when given.
pub fn generate_key(kind: &str, passphrase: Option<&str>) -> anyhow::Result<KeyPair> {
    generate_key_in_format(kind, passphrase, false)
}

/// Like [`generate_key`], in the legacy PEM (`-m PEM`) format.
pub fn generate_pem_key(kind: &str, passphrase: Option<&str>) -> anyhow::Result<KeyPair> {
    generate_key_in_format(kind, passphrase, true)
}

fn generate_key_in_format(
    kind: &str,
    passphrase: Option<&str>,
    pem: bool,
) -> anyhow::Result<KeyPair> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("key");
    let mut extra = Vec::new();
    if pem {
        extra.extend(["-m", "PEM"]);
    }
    keygen_with(&path, kind, passphrase, &extra)?;
    Ok(KeyPair {
        private: std::fs::read_to_string(&path)?,
        public: std::fs::read_to_string(path.with_extension("pub"))?
            .trim()
            .to_string(),
    })
}

fn keygen(path: &Path, kind: &str, passphrase: Option<&str>) -> anyhow::Result<()> {
    keygen_with(path, kind, passphrase, &[])
}

fn keygen_with(
    path: &Path,
    kind: &str,
    passphrase: Option<&str>,
    extra: &[&str],
) -> anyhow::Result<()> {
    let output = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            kind,
            "-C",
            "driftless-test",
            "-N",
            passphrase.unwrap_or(""),
        ])
        .args(extra)
        .arg("-f")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .context("running ssh-keygen (openssh-client)")?;
    if !output.status.success() {
        bail!(
            "ssh-keygen -t {kind} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// `<type> <base64>` without the comment.
fn public_part(line: &str) -> String {
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn current_user() -> anyhow::Result<String> {
    let output = Command::new("id")
        .arg("-un")
        .output()
        .context("running id -un")?;
    Ok(String::from_utf8(output.stdout)?.trim().to_string())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
