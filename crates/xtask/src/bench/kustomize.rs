//! `cargo xtask bench kustomize`: N Kustomizations from one GitRepository to Ready, run by
//! driftless (source-controller + kustomize-controller) and by Flux's own pair built from their
//! Go modules, each pair as processes against the same local control plane with the same flags,
//! plus a floor (the same objects applied by plain server-side apply from one process).
//! Measured: wall time from the first Kustomization create until all are Ready=True at their
//! generation, and the peak and idle RSS of each controller process.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use driftless_api::kustomize::Kustomization;
use driftless_api::source::GitRepository;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use testkit::ControlPlane;
use testkit::git_server::{GitAuth, GitServer};

use super::process::{Controller, Rss};
use super::report::{self, Outcome, Run, SideResult};
use super::{floor, workload};

/// The knobs of one invocation; the flags both controllers get are the issue's.
pub(super) struct Options {
    pub(super) counts: Vec<usize>,
    pub(super) concurrent: usize,
    pub(super) source_concurrent: usize,
    pub(super) qps: u32,
    pub(super) burst: u32,
    pub(super) replicas: u32,
    pub(super) idle: Duration,
    pub(super) skip: Vec<Side>,
    pub(super) driftless_binary: Option<PathBuf>,
    pub(super) flux_source_binary: Option<PathBuf>,
    pub(super) flux_kustomize_binary: Option<PathBuf>,
}

/// What one invocation measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Side {
    Floor,
    Driftless,
    Flux,
}

/// One side's two controller programs.
struct Pair {
    label: &'static str,
    source: PathBuf,
    kustomize: PathBuf,
    /// Subcommands before the flags (`source-controller` / `kustomize-controller` for
    /// driftless; Flux ships one binary per controller).
    source_leading: Vec<String>,
    kustomize_leading: Vec<String>,
}

pub(super) async fn run(opts: Options) -> anyhow::Result<()> {
    anyhow::ensure!(opts.counts.iter().all(|&n| n > 0), "--n must be at least 1");
    let (plane, _plane_guard) = super::bench_plane().await?;
    let client = plane.client().await?;
    super::install_crds(&client).await?;

    // Every binary first, so no build lands inside a measurement.
    let ours = if opts.skip.contains(&Side::Driftless) {
        Err("skipped (--skip driftless)".to_owned())
    } else {
        driftless_pair(opts.driftless_binary.clone())
    };
    let theirs = if opts.skip.contains(&Side::Flux) {
        Err("skipped (--skip flux)".to_owned())
    } else {
        flux_pair(
            opts.flux_source_binary.clone(),
            opts.flux_kustomize_binary.clone(),
        )
    };
    for (label, pair) in [("driftless", &ours), ("flux", &theirs)] {
        if let Err(why) = pair {
            eprintln!("bench: {label} side not run: {why}");
        }
    }

    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("bench")?;
    let files = workload::app_files(opts.replicas);
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    repo.commit_files("master", &borrowed, "kustomize benchmark fixture")?;
    let url = git.url("bench");

    let mut machine = super::machine_info(&client).await;
    machine.retain(|(k, _)| k != "Flux peer");
    for tool in ["flux-source-controller", "flux-kustomize-controller"] {
        if let Ok(t) = testkit::gotools::pinned_tool(tool) {
            machine.push((
                format!("Flux peer ({tool})"),
                format!("{} {}", t.module, t.version),
            ));
        }
    }
    machine.push((
        "driftless binary".into(),
        describe_binary(opts.driftless_binary.as_deref(), "cargo build --release"),
    ));
    machine.push((
        "Flux binaries".into(),
        match (&opts.flux_source_binary, &opts.flux_kustomize_binary) {
            (None, None) => "pinned builds (crates/testkit/tools.toml)".into(),
            (s, k) => format!(
                "source: {}; kustomize: {}",
                describe_binary(s.as_deref(), "pinned build"),
                describe_binary(k.as_deref(), "pinned build")
            ),
        },
    ));
    for &count in &opts.counts {
        let mut run = Run::new(count, &opts);
        if !opts.skip.contains(&Side::Floor) {
            let namespace = fresh_namespace(&client, "floor", count).await?;
            let result =
                floor::measure(&client, &namespace, count, opts.concurrent, opts.replicas).await;
            delete_namespace(&client, &namespace).await?;
            let wall = result?;
            eprintln!(
                "bench: floor: {count} x 3 objects applied and Current in {:.1}s",
                wall.as_secs_f64()
            );
            run.floor = Some(wall.as_secs_f64());
        }
        run.driftless = side(&plane, &client, &ours, count, &opts, &url).await;
        run.flux = side(&plane, &client, &theirs, count, &opts, &url).await;
        report::write(&run, &machine)?;
        eprintln!("bench: N={count} written to docs/benchmarks.md");
    }
    Ok(())
}

/// Runs one side, turning a failure into the outcome the table records (the run goes on with
/// the other side).
async fn side(
    plane: &ControlPlane,
    client: &kube::Client,
    pair: &Result<Pair, String>,
    count: usize,
    opts: &Options,
    url: &str,
) -> Outcome {
    let pair = match pair {
        Ok(pair) => pair,
        Err(why) if why.starts_with("skipped") => return Outcome::Skipped,
        Err(why) => return Outcome::Failed(why.clone()),
    };
    match measure(plane, client, pair, count, opts, url).await {
        Ok(result) => {
            eprintln!(
                "bench: {}: {count} Kustomizations Ready in {:.1}s; source-controller peak {:.1} / idle {:.1} MiB, kustomize-controller peak {:.1} / idle {:.1} MiB",
                pair.label,
                result.wall,
                report::mib(result.source.peak_kib),
                report::mib(result.source.idle_kib),
                report::mib(result.kustomize.peak_kib),
                report::mib(result.kustomize.idle_kib),
            );
            Outcome::Measured(result)
        }
        Err(e) => {
            eprintln!("bench: {} failed: {e:#}", pair.label);
            Outcome::Failed(format!("{e:#}"))
        }
    }
}

/// One side on a fresh namespace: start both controllers, make the GitRepository Ready,
/// create N Kustomizations and time them to Ready, let the controllers idle, read memory,
/// clean up while the controllers still run (they own the finalizers), stop them.
async fn measure(
    plane: &ControlPlane,
    client: &kube::Client,
    pair: &Pair,
    count: usize,
    opts: &Options,
    url: &str,
) -> anyhow::Result<SideResult> {
    let namespace = fresh_namespace(client, pair.label, count).await?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("bench-ks-{}-", pair.label))
        .tempdir()?;
    let storage = dir.path().join("storage");
    // Flux's storage setup refuses a missing directory.
    std::fs::create_dir_all(&storage)?;
    let common = |concurrent: usize, metrics: u16, health: u16| -> Vec<String> {
        vec![
            format!("--concurrent={concurrent}"),
            format!("--kube-api-qps={}", opts.qps),
            format!("--kube-api-burst={}", opts.burst),
            format!("--metrics-addr=127.0.0.1:{metrics}"),
            format!("--health-addr=127.0.0.1:{health}"),
            "--enable-leader-election=false".into(),
            // Only the benchmark's namespace: the control plane is shared with tests.
            "--watch-all-namespaces=false".into(),
            "--log-level=error".into(),
        ]
    };
    let storage_port = super::free_port()?;
    let (source_health, kustomize_health) = (super::free_port()?, super::free_port()?);
    let mut source_args = pair.source_leading.clone();
    source_args.extend(common(
        opts.source_concurrent,
        super::free_port()?,
        source_health,
    ));
    source_args.extend([
        format!("--storage-path={}", storage.display()),
        format!("--storage-addr=127.0.0.1:{storage_port}"),
        format!("--storage-adv-addr=127.0.0.1:{storage_port}"),
    ]);
    let mut kustomize_args = pair.kustomize_leading.clone();
    kustomize_args.extend(common(
        opts.concurrent,
        super::free_port()?,
        kustomize_health,
    ));
    kustomize_args.extend([
        "--no-remote-bases=true".into(),
        "--requeue-dependency=5s".into(),
    ]);

    let kubeconfig = plane.kubeconfig_path();
    let mut source = Controller::spawn(
        &format!("{}-source-controller", pair.label),
        &pair.source,
        &source_args,
        &kubeconfig,
        &namespace,
        dir.path(),
        source_health,
    )?;
    let kustomize = Controller::spawn(
        &format!("{}-kustomize-controller", pair.label),
        &pair.kustomize,
        &kustomize_args,
        &kubeconfig,
        &namespace,
        dir.path(),
        kustomize_health,
    );
    let mut kustomize = match kustomize {
        Ok(k) => k,
        Err(e) => {
            source.stop();
            return Err(e);
        }
    };
    let result = drive(
        client,
        &mut source,
        &mut kustomize,
        &namespace,
        count,
        opts,
        url,
    )
    .await;
    let result = match result {
        Ok(r) => Ok(r),
        Err(e) => {
            let logs = [&source, &kustomize]
                .iter()
                .map(|c| {
                    format!(
                        "--- {} (last lines of {}):\n{}",
                        c.name,
                        c.log_path().display(),
                        c.log_tail(25)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Err(e.context(format!("{} run failed\n{logs}", pair.label)))
        }
    };
    let cleaned = cleanup(client, &namespace).await;
    source.stop();
    kustomize.stop();
    let deleted = delete_namespace(client, &namespace).await;
    if result.is_err() {
        // Keep the logs of a failed run for the report.
        let kept = dir.keep();
        eprintln!("bench: {} logs kept in {}", pair.label, kept.display());
    }
    let result = result?;
    cleaned?;
    deleted?;
    Ok(result)
}

async fn drive(
    client: &kube::Client,
    source: &mut Controller,
    kustomize: &mut Controller,
    namespace: &str,
    count: usize,
    opts: &Options,
    url: &str,
) -> anyhow::Result<SideResult> {
    source.wait_ready(Duration::from_secs(60)).await?;
    kustomize.wait_ready(Duration::from_secs(60)).await?;

    let repos: Api<GitRepository> = Api::namespaced(client.clone(), namespace);
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(workload::git_repository(namespace, url))?,
        )
        .await?;
    super::wait_until(Duration::from_secs(120), "GitRepository Ready", || {
        let repos = repos.clone();
        async move {
            Ok(repos
                .get_opt(workload::SOURCE_NAME)
                .await?
                .is_some_and(|r| super::source::is_ready(&r)))
        }
    })
    .await?;

    let api: Api<Kustomization> = Api::namespaced(client.clone(), namespace);
    let started = Instant::now();
    // Creates go out 32 at a time so creation itself does not dominate at N=1000.
    let mut pending = tokio::task::JoinSet::new();
    for i in 0..count {
        let object: Kustomization = serde_json::from_value(workload::kustomization(i, namespace))?;
        let api = api.clone();
        pending.spawn(async move { api.create(&PostParams::default(), &object).await });
        if pending.len() >= 32
            && let Some(done) = pending.join_next().await
        {
            done??;
        }
    }
    while let Some(done) = pending.join_next().await {
        done??;
    }

    let deadline = started + Duration::from_secs(600) + Duration::from_secs(count as u64);
    let wall = loop {
        let list = api.list(&ListParams::default()).await?;
        let ready = list.items.iter().filter(|k| is_ready(k)).count();
        if ready == count {
            break started.elapsed();
        }
        source.ensure_running()?;
        kustomize.ensure_running()?;
        if Instant::now() >= deadline {
            let stuck: Vec<String> = list
                .items
                .iter()
                .filter(|k| !is_ready(k))
                .take(3)
                .map(describe)
                .collect();
            anyhow::bail!(
                "only {ready}/{count} Kustomizations Ready after {:?}; for example:\n{}",
                started.elapsed(),
                stuck.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let peaks = (source.peak_kib(), kustomize.peak_kib());
    tokio::time::sleep(opts.idle).await;
    source.ensure_running()?;
    kustomize.ensure_running()?;
    Ok(SideResult {
        wall: wall.as_secs_f64(),
        source: Rss {
            // The high-water mark can only grow while idling; read it again.
            peak_kib: peaks.0.max(source.peak_kib()),
            idle_kib: source.rss_kib(),
        },
        kustomize: Rss {
            peak_kib: peaks.1.max(kustomize.peak_kib()),
            idle_kib: kustomize.rss_kib(),
        },
    })
}

fn is_ready(k: &Kustomization) -> bool {
    k.status.as_ref().is_some_and(|s| {
        super::ready_at_generation(
            k.metadata.generation,
            s.observed_generation,
            s.conditions.as_deref(),
        )
    })
}

/// `name: Ready=<status> <reason>: <message>` for a report.
fn describe(k: &Kustomization) -> String {
    let name = k.metadata.name.clone().unwrap_or_default();
    let ready = k
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
    match ready {
        Some(c) => format!("{name}: Ready={} {}: {}", c.status, c.reason, c.message),
        None => format!("{name}: no Ready condition"),
    }
}

async fn fresh_namespace(
    client: &kube::Client,
    label: &str,
    count: usize,
) -> anyhow::Result<String> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let name = format!("bench-ks-{label}-{count}-{stamp}");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name}}))?,
        )
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(name)
}

/// Deletes the Kustomizations (their controller prunes what they applied) and then the
/// GitRepository, while both controllers still run. Whatever is still there after the wait
/// (a controller that died) loses its finalizers so the namespace can go.
async fn cleanup(client: &kube::Client, namespace: &str) -> anyhow::Result<()> {
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), namespace);
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), namespace);
    let first = delete_all(&kustomizations, "Kustomizations").await;
    let second = delete_all(&repos, "GitRepositories").await;
    first.and(second)
}

async fn delete_all<K>(api: &Api<K>, what: &str) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.delete_collection(&DeleteParams::default(), &ListParams::default())
        .await?;
    let gone = super::wait_until(Duration::from_secs(300), &format!("{what} deleted"), || {
        let api = api.clone();
        async move {
            Ok(api
                .list(&ListParams::default().limit(1))
                .await?
                .items
                .is_empty())
        }
    })
    .await;
    if gone.is_err() {
        for item in api.list(&ListParams::default()).await?.items {
            let Some(name) = item.meta().name.clone() else {
                continue;
            };
            let _ = api
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"finalizers": null}})),
                )
                .await;
        }
    }
    gone
}

/// Deletes the namespace and waits until it is gone, so runs do not overlap.
async fn delete_namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let _ = namespaces.delete(name, &DeleteParams::default()).await;
    super::wait_until(
        Duration::from_secs(600),
        &format!("namespace {name} deleted"),
        || {
            let namespaces = namespaces.clone();
            async move { Ok(namespaces.get_opt(name).await?.is_none()) }
        },
    )
    .await
}

fn driftless_pair(given: Option<PathBuf>) -> Result<Pair, String> {
    let program = match given {
        Some(path) => path,
        None => super::build_driftless().map_err(|e| format!("{e:#}"))?,
    };
    // The subcommand may not exist yet in this tree: ask the binary.
    let help = std::process::Command::new(&program)
        .args(["kustomize-controller", "--help"])
        .output()
        .map_err(|e| format!("running {}: {e}", program.display()))?;
    if !help.status.success() {
        return Err(format!(
            "`{} kustomize-controller --help` failed: {}",
            program.display(),
            String::from_utf8_lossy(&help.stderr)
                .lines()
                .next()
                .unwrap_or_default()
        ));
    }
    Ok(Pair {
        label: "driftless",
        source: program.clone(),
        kustomize: program,
        source_leading: vec!["source-controller".into()],
        kustomize_leading: vec!["kustomize-controller".into()],
    })
}

fn flux_pair(source: Option<PathBuf>, kustomize: Option<PathBuf>) -> Result<Pair, String> {
    let pick = |given: Option<PathBuf>, tool: &str| -> Result<PathBuf, String> {
        match given {
            Some(path) if path.is_file() => Ok(path),
            Some(path) => Err(format!("{} is not a file", path.display())),
            None => pinned(tool).map_err(|e| format!("building {tool}: {e:#}")),
        }
    };
    Ok(Pair {
        label: "flux",
        source: pick(source, "flux-source-controller")?,
        kustomize: pick(kustomize, "flux-kustomize-controller")?,
        source_leading: Vec::new(),
        kustomize_leading: Vec::new(),
    })
}

fn pinned(tool: &str) -> anyhow::Result<PathBuf> {
    let built = testkit::gotools::pinned_tool(tool)?.ensure(&testkit::Cache::from_env())?;
    Ok(built.path(tool))
}

/// The program paths a report names.
fn describe_binary(given: Option<&Path>, default: &str) -> String {
    match given {
        Some(path) => format!("given binary {}", path.display()),
        None => default.to_owned(),
    }
}
