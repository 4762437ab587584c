//! `cargo xtask cluster up|down|status` and `cargo xtask tools`.

use anyhow::Context;
use testkit::{Cache, ControlPlane, UpOutcome};

pub async fn up() -> anyhow::Result<()> {
    let plane = ControlPlane::from_env();
    match plane.up().await? {
        UpOutcome::AlreadyRunning => eprintln!("control plane already running; reusing it"),
        UpOutcome::Started { elapsed } => eprintln!(
            "control plane started in {:.1}s (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok with {} nodes)",
            elapsed.as_secs_f64(),
            testkit::controlplane::NODE_COUNT
        ),
    }
    // Last line on stdout, for `eval "$(cargo xtask cluster up | tail -n1)"`.
    println!("{}", plane.export_line());
    Ok(())
}

pub fn down() -> anyhow::Result<()> {
    let plane = ControlPlane::from_env();
    let stopped = plane.down()?;
    if stopped.is_empty() {
        eprintln!("control plane was not running");
    } else {
        eprintln!("stopped: {}", stopped.join(", "));
    }
    Ok(())
}

pub async fn status() -> anyhow::Result<()> {
    let plane = ControlPlane::from_env();
    if plane.is_healthy().await {
        println!(
            "running; API server https://127.0.0.1:{}",
            plane.ports().apiserver
        );
        println!("{}", plane.export_line());
        Ok(())
    } else {
        anyhow::bail!("not running (start it with `cargo xtask cluster up`)")
    }
}

pub fn build_tools(names: &[String]) -> anyhow::Result<()> {
    let cache = Cache::from_env();
    let tools = testkit::gotools::pinned_tools()?;
    for (name, tool) in &tools {
        if !names.is_empty() && !names.contains(name) {
            continue;
        }
        let built = tool
            .ensure(&cache)
            .with_context(|| format!("building {name}"))?;
        println!("{name} {} -> {}", tool.version, built.dir.display());
    }
    for name in names {
        if !tools.contains_key(name) {
            anyhow::bail!("no tool named {name:?} in crates/testkit/tools.toml");
        }
    }
    Ok(())
}
