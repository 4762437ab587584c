//! `cargo xtask bench`: benchmarks against Flux's own controllers, each run side by side in the
//! same invocation on the same control plane, results written to `docs/benchmarks.md`
//! (`source`: GitRepositories, `kustomize`: Kustomizations, `helm`: HelmReleases,
//! `kustomize-build`: `kustomize build` against the kustomize binary). The process, probe and machine
//! helpers both share live here.
//!
//! A benchmark, not a test (DESIGN.md §5 "Bench, don't time"): the competitor runs in the same
//! invocation on the same machine, and the table reports ratios.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use driftless_api::source::GitRepository;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams};
use testkit::ControlPlane;

mod api_requests;
mod floor;
mod helm;
mod kustomize;
mod kustomize_build;
mod pair;
mod process;
mod report;
mod source;
mod timeline;
mod workload;

/// What `cargo xtask bench` measures.
#[derive(clap::Subcommand)]
pub enum Target {
    /// N GitRepositories from one loopback Git repository to Ready: driftless vs Flux's
    /// source-controller (wall time and peak RSS), written to docs/benchmarks.md.
    Source {
        /// How many GitRepositories.
        #[arg(long, default_value_t = 100)]
        count: usize,
        /// `--concurrent` for both controllers (Flux's benchmark runs source-controller at 10).
        #[arg(long, default_value_t = 10)]
        concurrent: usize,
        /// A Flux source-controller binary to use instead of the pinned build, for when the
        /// pin cannot be built (the table notes it).
        #[arg(long)]
        flux_binary: Option<PathBuf>,
        /// A driftless binary to use instead of `cargo build --release` (the table notes it).
        #[arg(long)]
        driftless_binary: Option<PathBuf>,
    },
    /// N Kustomizations (each applying a Deployment + Service + ConfigMap from one
    /// GitRepository, as fluxcd/flux-benchmark does) to Ready: driftless vs Flux's
    /// source-controller + kustomize-controller (wall time, peak and idle RSS of each process),
    /// and a floor of plain server-side apply; written to docs/benchmarks.md.
    Kustomize {
        #[command(flatten)]
        pair: pair::PairArgs,
        /// A Flux kustomize-controller binary to use instead of the pinned build.
        #[arg(long)]
        flux_kustomize_binary: Option<PathBuf>,
    },
    /// N HelmReleases (each its own release of one chart from one HelmRepository, as
    /// fluxcd/flux-benchmark's `flux-hr-bench` does) to Ready: driftless vs Flux's
    /// source-controller + helm-controller (wall time, peak and idle RSS of each process), and a
    /// floor of plain server-side apply; written to docs/benchmarks.md.
    Helm {
        #[command(flatten)]
        pair: pair::PairArgs,
        /// A Flux helm-controller binary to use instead of the pinned build.
        #[arg(long)]
        flux_helm_binary: Option<PathBuf>,
    },
    /// `driftless kustomize build` against the pinned `kustomize build` over the fleet corpus,
    /// the conformance cases and a synthetic large overlay (mean wall time per build and peak
    /// RSS, outputs checked equal first), written to docs/benchmarks.md.
    KustomizeBuild {
        /// Rounds over every directory (each builds once per side per round).
        #[arg(long, default_value_t = 5)]
        repetitions: usize,
        /// Objects in the synthetic overlay.
        #[arg(long, default_value_t = 2000)]
        synthetic_objects: usize,
        /// A driftless binary to use instead of `cargo build --release`.
        #[arg(long)]
        driftless_binary: Option<PathBuf>,
        /// A kustomize binary to use instead of the pinned build.
        #[arg(long)]
        kustomize_binary: Option<PathBuf>,
    },
    /// Internal to `kustomize-build`: runs one command as this process's only child and prints
    /// `<wall seconds> <peak RSS KiB>`.
    #[command(hide = true)]
    MeasureProcess {
        #[arg(last = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
}

pub async fn run(target: Target) -> anyhow::Result<()> {
    match target {
        Target::Source {
            count,
            concurrent,
            flux_binary,
            driftless_binary,
        } => source::run(count, concurrent, flux_binary, driftless_binary).await,
        Target::Kustomize {
            pair,
            flux_kustomize_binary,
        } => kustomize::run(pair.options(20, flux_kustomize_binary)).await,
        Target::Helm {
            pair,
            flux_helm_binary,
        } => helm::run(pair.options(10, flux_helm_binary)).await,
        Target::KustomizeBuild {
            repetitions,
            synthetic_objects,
            driftless_binary,
            kustomize_binary,
        } => kustomize_build::run(kustomize_build::Options {
            repetitions,
            synthetic_objects,
            driftless_binary,
            kustomize_binary,
        }),
        Target::MeasureProcess { command } => kustomize_build::measure_process(&command),
    }
}

/// The plane benchmarks run on: its own (name `bench`, ports 1000 above the shared plane's), so
/// tests running beside a benchmark neither slow it down through shared objects nor lose their
/// plane when the benchmark stops it. Stopped by the returned guard.
async fn bench_plane() -> anyhow::Result<(ControlPlane, PlaneGuard)> {
    let base = testkit::controlplane::DEFAULT_PORT_BASE.saturating_add(1000);
    let plane = ControlPlane::new(testkit::Cache::from_env(), "bench", base);
    let outcome = plane.up().await?;
    eprintln!("bench control plane: {outcome:?}");
    let guard = PlaneGuard {
        plane: matches!(outcome, testkit::UpOutcome::Started { .. }).then(|| plane.clone()),
    };
    Ok((plane, guard))
}

/// Stops the bench plane when the benchmark started it.
struct PlaneGuard {
    plane: Option<ControlPlane>,
}

impl Drop for PlaneGuard {
    fn drop(&mut self) {
        if let Some(plane) = &self.plane
            && let Err(e) = plane.down()
        {
            eprintln!("stopping the bench control plane: {e}");
        }
    }
}

/// Applies every driftless CRD (Flux's source-controller watches all its kinds and fails to
/// start without them) and waits until GitRepository is served.
async fn install_crds(client: &kube::Client) -> anyhow::Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in driftless_api::crds() {
        let name = crd.metadata.name.clone().context("CRD has a name")?;
        crds.patch(
            &name,
            &PatchParams::apply("driftless-bench").force(),
            &Patch::Apply(&crd),
        )
        .await
        .with_context(|| format!("applying CRD {name}"))?;
    }
    let probe: Api<GitRepository> = Api::all(client.clone());
    wait_until(Duration::from_secs(60), "GitRepository served", || {
        let probe = probe.clone();
        async move { Ok(probe.list(&ListParams::default().limit(1)).await.is_ok()) }
    })
    .await
}

/// `cargo build --release` of the driftless binary: an optimised build against Go's.
fn build_driftless() -> anyhow::Result<PathBuf> {
    let root = repo_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "-p",
            "driftless-cli",
            "--bin",
            "driftless",
        ])
        .status()
        .context("running cargo build --release")?;
    anyhow::ensure!(status.success(), "cargo build --release failed");
    let target = target_dir();
    Ok(target.join("release").join("driftless"))
}

/// SIGTERM (graceful, as Kubernetes stops pods), then SIGKILL if it lingers. Only our own child.
fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn free_port() -> anyhow::Result<u16> {
    // Released immediately; the controller binds it a moment later.
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The status code of a plain HTTP/1.1 GET, `None` when nothing answers.
async fn http_status(addr: &str, path: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = [0u8; 32];
    let n = stream.read(&mut head).await.ok()?;
    String::from_utf8_lossy(&head[..n])
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await? {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Ready=True, and the status speaks of the object's current generation.
fn ready_at_generation(
    generation: Option<i64>,
    observed: Option<i64>,
    conditions: Option<&[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]>,
) -> bool {
    observed == generation
        && conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Where and with what the numbers were taken.
async fn machine_info(client: &kube::Client) -> Vec<(String, String)> {
    let mut info = host_info();
    let kubernetes = client
        .apiserver_version()
        .await
        .map(|v| v.git_version)
        .unwrap_or_else(|e| format!("unknown ({e})"));
    let flux_version = testkit::gotools::pinned_tool("flux-source-controller")
        .map(|t| format!("{} {}", t.module, t.version))
        .unwrap_or_default();
    let at = info.len().min(3);
    info.insert(at, ("Kubernetes (local control plane)".into(), kubernetes));
    info.push(("Flux peer".into(), flux_version));
    info
}

/// The machine and toolchains, without a cluster.
fn host_info() -> Vec<(String, String)> {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let memory = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default();
    let output = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    vec![
        ("CPU".into(), format!("{cpu}, {cores} cores available")),
        ("memory".into(), memory),
        (
            "kernel".into(),
            read("/proc/sys/kernel/osrelease").trim().to_owned(),
        ),
        ("rustc".into(), output("rustc", &["--version"])),
        ("go".into(), output("go", &["version"])),
    ]
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The target directory cargo uses here (the environment's, else the workspace's).
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}
