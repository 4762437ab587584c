//! `cargo xtask conformance kustomize`: rewrites the kustomize conformance
//! goldens from the pinned oracle (built through testkit's Go tool cache), then
//! checks our build against them and prints `N passed, M failed`.

use std::path::Path;
use std::process::Command;

use anyhow::Context;
use driftless_kustomize::conformance::{Summary, cases};
use testkit::Cache;

#[derive(clap::Subcommand)]
pub enum Target {
    /// driftless-kustomize against `kustomize build` (crates/kustomize/tests/cases and the
    /// reference fleet corpus).
    Kustomize,
    /// driftless-helm against `helm template` (crates/helm/tests/cases: own charts and the
    /// reference chart corpus), against Helm 3 and Helm 4 unless one is named.
    Helm {
        /// Only this Helm major version (3 or 4).
        #[arg(long = "helm-version")]
        helm_version: Option<driftless_helm::HelmVersion>,
    },
}

pub fn run(target: Target) -> anyhow::Result<()> {
    match target {
        Target::Kustomize => kustomize(),
        Target::Helm { helm_version } => match helm_version {
            Some(v) => helm(v),
            None => {
                helm(driftless_helm::HelmVersion::V3)?;
                helm(driftless_helm::HelmVersion::V4)
            }
        },
    }
}

fn kustomize() -> anyhow::Result<()> {
    let tool = testkit::gotools::pinned_tool("kustomize")?;
    let built = tool
        .ensure(&Cache::from_env())
        .context("building the kustomize oracle")?;
    let oracle = built.path("kustomize");
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kustomize");
    let cases = cases(&crate_dir);
    for case in &cases {
        if !case.uses_oracle() {
            case.clear_golden()?;
            continue;
        }
        let out = Command::new(&oracle)
            .arg("build")
            .arg(&case.dir)
            .output()
            .with_context(|| format!("running {}", oracle.display()))?;
        case.write_golden(out.status.success(), &out.stdout, &out.stderr)
            .with_context(|| format!("writing the golden of {}", case.name))?;
    }
    println!(
        "kustomize {} rewrote the goldens of {} cases",
        tool.version,
        cases.iter().filter(|c| c.uses_oracle()).count()
    );
    let summary = Summary::of(&cases);
    for name in &summary.equivalent {
        println!("same documents, other text: {name}");
    }
    for (name, why) in summary.failed.iter().chain(&summary.known_gaps) {
        println!("FAILED {name}: {}", why.lines().next().unwrap_or_default());
    }
    println!("{}", summary.headline());
    if summary.failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{} conformance cases differ", summary.failed.len())
    }
}

fn helm(version: driftless_helm::HelmVersion) -> anyhow::Result<()> {
    // The pinned tool and its command: Helm 4's is renamed to sit beside Helm 3's.
    let name = match version {
        driftless_helm::HelmVersion::V3 => "helm",
        driftless_helm::HelmVersion::V4 => "helm4",
    };
    let tool = testkit::gotools::pinned_tool(name)?;
    let built = tool
        .ensure(&Cache::from_env())
        .with_context(|| format!("building the {name} oracle"))?;
    let oracle = built.path(name);
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../helm");
    let cases = driftless_helm::conformance::cases(&crate_dir);
    let scratch = tempfile::tempdir().context("scratch directory for helm")?;
    for case in &cases {
        case.record_as(&oracle, scratch.path(), version)
            .with_context(|| format!("writing the golden of {}", case.name))?;
    }
    println!(
        "helm {} rewrote the goldens of {} cases",
        tool.version,
        cases.len()
    );
    let summary = driftless_helm::conformance::Summary::of_as(&cases, version);
    for name in &summary.equivalent {
        println!("same documents, other text: {name}");
    }
    for (name, why) in &summary.failed {
        println!("FAILED {name}: {}", why.lines().next().unwrap_or_default());
    }
    println!("{}", summary.headline());
    Ok(())
}
