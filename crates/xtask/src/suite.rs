//! `cargo xtask test`: the whole suite, in the order that fails fastest.

use std::process::Command;

use anyhow::{Context, bail};
use testkit::{ControlPlane, UpOutcome};

/// The cargo-deny release the checks are written for.
const CARGO_DENY_VERSION: &str = "0.20.2";

/// Go-built tools the tests call besides the control plane's own (which `up` builds). The
/// benchmark peers (`flux-*-controller`) are left out: only `cargo xtask bench` needs them.
const TEST_TOOLS: [&str; 4] = ["kustomize", "helm", "sops", "flux"];

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Cargo settings for CI's one-shot build. CI machines have run out of disk mid-build (the
/// shared disk's free space varies from run to run), so the build keeps only what a single
/// run needs: no incremental caches (a clean build gains nothing from them) and no debug info
/// in test binaries (panics still name file and line; backtraces keep function names).
fn ci_lean(command: &mut Command) {
    command
        .env("CARGO_INCREMENTAL", "0")
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .env("CARGO_PROFILE_DEV_STRIP", "debuginfo");
}

/// Builds the Go tools the tests use now, so that no test waits on a build, then (in CI only)
/// drops Go's build and module caches: the built commands live in our own cache, and the Go
/// caches are the largest thing on a CI machine's disk after cargo's target directory.
fn prepare_go_tools() -> anyhow::Result<()> {
    let cache = testkit::Cache::from_env();
    for name in TEST_TOOLS {
        testkit::gotools::pinned_tool(name)?.ensure(&cache)?;
    }
    if in_ci() {
        let mut clean = Command::new("go");
        clean.args(["clean", "-cache", "-modcache"]);
        run_step("go clean -cache -modcache (CI)", clean)?;
    }
    Ok(())
}

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

    // In CI, clippy checks into a directory of its own that is removed afterwards: its
    // metadata-only artifacts are of no use to the test build.
    let clippy_target = crate::bench::target_dir().join("clippy");
    let mut clippy = cargo();
    if in_ci() {
        ci_lean(&mut clippy);
        clippy.env("CARGO_TARGET_DIR", &clippy_target);
    }
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run_step("cargo clippy -D warnings", clippy)?;
    if in_ci() {
        std::fs::remove_dir_all(&clippy_target)
            .with_context(|| format!("removing {}", clippy_target.display()))?;
    }

    // Integration tests share one control plane; start it once, up front, so
    // its first build is reported here rather than inside a test.
    eprintln!("==> local control plane");
    let plane = ControlPlane::from_env();
    let started_here = matches!(plane.up().await?, UpOutcome::Started { .. });
    eprintln!("==> Go tools the tests use");
    prepare_go_tools()?;

    let mut test = cargo();
    if in_ci() {
        ci_lean(&mut test);
    }
    test.args(["test", "--workspace", "--no-fail-fast"]);
    if !cargo_test_args.is_empty() {
        test.arg("--").args(cargo_test_args);
    }
    let result = run_step("cargo test (unit, conformance, integration)", test);

    // Locally the plane stays up: another `cargo test` or helper may already be using it, and
    // stopping it under them fails their tests. CI machines are thrown away, but tidy up there.
    if started_here && in_ci() {
        eprintln!("==> stopping the control plane this run started");
        plane.down()?;
    } else if started_here {
        eprintln!("==> the control plane keeps running; `cargo xtask cluster down` stops it");
    }
    result
}
