//! The controllers of the demo as real processes of the `driftless` binary, each with its log
//! file under the control plane's state dir, stopped with SIGTERM (then killed) when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use testkit::ControlPlane;

/// The namespace the controllers and the Flux objects of the demo live in.
pub const NAMESPACE: &str = "flux-system";

/// A controller process.
pub struct Controller {
    child: Child,
    /// Its log file.
    pub log: PathBuf,
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Builds the `driftless` binary and returns its path.
pub fn build_driftless() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "driftless-cli",
            "--bin",
            "driftless",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the driftless binary failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    Ok(target.join("debug/driftless"))
}

/// Starts `driftless <subcommand> <args>` against the plane, logging to `logs/demo-<name>.log`.
pub fn start(
    plane: &ControlPlane,
    binary: &Path,
    subcommand: &str,
    args: &[String],
) -> anyhow::Result<Controller> {
    let log = plane
        .state_dir()
        .join(format!("logs/demo-{subcommand}.log"));
    let out = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let child = Command::new(binary)
        .arg(subcommand)
        .args(args)
        .args([
            format!("--metrics-addr=127.0.0.1:{}", free_port()?),
            format!("--health-addr=127.0.0.1:{}", free_port()?),
            "--log-encoding=console".to_owned(),
        ])
        .env("KUBECONFIG", plane.kubeconfig_path())
        .env("RUNTIME_NAMESPACE", NAMESPACE)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("starting driftless {subcommand}"))?;
    Ok(Controller { child, log })
}

/// A fresh storage directory for source-controller under the plane's state directory.
pub fn storage_dir(plane: &ControlPlane) -> anyhow::Result<PathBuf> {
    let dir = plane.state_dir().join("demo-storage");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
