//! `cargo xtask test`: the whole suite, in the order that fails fastest.

use std::process::Command;

use anyhow::{Context, bail};
use testkit::{ControlPlane, UpOutcome};

/// The cargo-deny release the checks are written for.
const CARGO_DENY_VERSION: &str = "0.20.2";

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn run_step(name: &str, mut command: Command) -> anyhow::Result<()> {
    eprintln!("==> {name}");
    let status = command
        .status()
        .with_context(|| format!("running {name}"))?;
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    Ok(())
}

fn ensure_cargo_deny() -> anyhow::Result<()> {
    let installed = cargo()
        .args(["deny", "--version"])
        .output()
        .map(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains(CARGO_DENY_VERSION)
        })
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    let mut install = cargo();
    install.args([
        "install",
        "cargo-deny",
        "--locked",
        "--version",
        CARGO_DENY_VERSION,
    ]);
    run_step("install cargo-deny", install)
}

/// Debian's sshd for the Git-over-SSH tests (testkit's `ssh_server`), installed with apt
/// when missing and running as root, as CI does.
fn ensure_sshd() -> anyhow::Result<()> {
    if testkit::ssh_server::SshServer::available() {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false);
    if !root {
        eprintln!("==> sshd is missing and this is not root: SSH tests will skip outside CI");
        return Ok(());
    }
    let mut update = Command::new("apt-get");
    update.arg("update");
    run_step("apt-get update", update)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends", "openssh-server"])
        .env("DEBIAN_FRONTEND", "noninteractive");
    run_step("install openssh-server", install)
}

pub async fn run(cargo_test_args: &[String]) -> anyhow::Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run_step("cargo fmt --check", fmt)?;

    eprintln!("==> cargo xtask generate --check");
    crate::generate::run(true)?;

    ensure_cargo_deny()?;
    let mut deny = cargo();
    // The advisory database cannot be fetched on these machines; bans,
    // licenses and sources are checked offline.
    deny.args([
        "deny",
        "--all-features",
        "check",
        "bans",
        "licenses",
        "sources",
    ]);
    run_step("cargo deny check bans licenses sources", deny)?;
    ensure_sshd()?;

    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run_step("cargo clippy -D warnings", clippy)?;

    // Integration tests share one control plane; start it once, up front, so
    // its first build is reported here rather than inside a test.
    eprintln!("==> local control plane");
    let plane = ControlPlane::from_env();
    let started_here = matches!(plane.up().await?, UpOutcome::Started { .. });

    let mut test = cargo();
    test.args(["test", "--workspace", "--no-fail-fast"]);
    if !cargo_test_args.is_empty() {
        test.arg("--").args(cargo_test_args);
    }
    let result = run_step("cargo test (unit, conformance, integration)", test);

    // Locally the plane stays up: another `cargo test` or helper may already be using it, and
    // stopping it under them fails their tests. CI machines are thrown away, but tidy up there.
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if started_here && in_ci {
        eprintln!("==> stopping the control plane this run started");
        plane.down()?;
    } else if started_here {
        eprintln!("==> the control plane keeps running; `cargo xtask cluster down` stops it");
    }
    result
}
