//! The side-by-side run `bench kustomize` and `bench helm` share: a source-controller plus one
//! more controller (kustomize- or helm-controller), run by driftless and by Flux's own pair built
//! from their Go modules, each pair as processes against the same local control plane with the
//! same flags, plus a floor (the same objects applied by plain server-side apply from one
//! process). Measured: wall time from the first object create until all are Ready=True at
//! their generation, and the peak and idle RSS of each controller process. What differs
//! between the benchmarks (the source object, the N objects, the controller's own flags, the
//! report block) is a [`Workload`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};
use testkit::ControlPlane;

use super::floor;
use super::process::{Controller, Rss};
use super::report::{self, Outcome, Run, SideResult};

/// The knobs of one invocation; both pairs get the same flags.
pub(super) struct Options {
    pub(super) counts: Vec<usize>,
    /// `--concurrent` of the second controller (kustomize- or helm-controller).
    pub(super) concurrent: usize,
    pub(super) source_concurrent: usize,
    pub(super) qps: u32,
    pub(super) burst: u32,
    pub(super) replicas: u32,
    pub(super) idle: Duration,
    pub(super) skip: Vec<Side>,
    pub(super) driftless_binary: Option<PathBuf>,
    pub(super) flux_source_binary: Option<PathBuf>,
    /// A Flux kustomize- or helm-controller binary to use instead of the pinned build.
    pub(super) flux_controller_binary: Option<PathBuf>,
}

/// The flags `bench kustomize` and `bench helm` share.
#[derive(clap::Args)]
pub struct PairArgs {
    /// How many objects (Kustomizations, HelmReleases); repeat for several runs
    /// (`--n 100 --n 1000`).
    #[arg(long = "n", default_values_t = [100])]
    n: Vec<usize>,
    /// `--concurrent` of both kustomize- or helm-controllers (by default flux-benchmark's:
    /// 20 for kustomize-controller, 10 for helm-controller).
    #[arg(long)]
    concurrent: Option<usize>,
    /// `--concurrent` of both source-controllers.
    #[arg(long, default_value_t = 10)]
    source_concurrent: usize,
    /// `--kube-api-qps` of every controller.
    #[arg(long, default_value_t = 50)]
    kube_api_qps: u32,
    /// `--kube-api-burst` of every controller.
    #[arg(long, default_value_t = 300)]
    kube_api_burst: u32,
    /// Replicas of the app's Deployment (flux-benchmark scales it to zero; kwok makes pods
    /// Ready when above).
    #[arg(long, default_value_t = 0)]
    replicas: u32,
    /// Seconds to let the controllers idle after the last Ready before reading idle RSS.
    #[arg(long, default_value_t = 20)]
    idle_secs: u64,
    /// Sides not to run this time; the table keeps their earlier figures.
    #[arg(long, value_enum)]
    skip: Vec<Side>,
    /// A driftless binary to use instead of `cargo build --release`.
    #[arg(long)]
    driftless_binary: Option<PathBuf>,
    /// A Flux source-controller binary to use instead of the pinned build.
    #[arg(long)]
    flux_source_binary: Option<PathBuf>,
}

impl PairArgs {
    /// The run's options, `default_concurrent` for the second controller unless given.
    pub(super) fn options(
        self,
        default_concurrent: usize,
        flux_controller_binary: Option<PathBuf>,
    ) -> Options {
        Options {
            counts: self.n,
            concurrent: self.concurrent.unwrap_or(default_concurrent),
            source_concurrent: self.source_concurrent,
            qps: self.kube_api_qps,
            burst: self.kube_api_burst,
            replicas: self.replicas,
            idle: Duration::from_secs(self.idle_secs),
            skip: self.skip,
            driftless_binary: self.driftless_binary,
            flux_source_binary: self.flux_source_binary,
            flux_controller_binary,
        }
    }
}

/// What one invocation measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Side {
    Floor,
    Driftless,
    Flux,
}

/// The source object for a namespace.
pub(super) type SourceObject = Box<dyn Fn(&str) -> Value + Send + Sync>;

/// Object `i` of the workload in a namespace.
pub(super) type WorkloadObject = Box<dyn Fn(usize, &str) -> Value + Send + Sync>;

/// What a benchmark puts on the plane and which controller reconciles it.
pub(super) struct Workload {
    /// The source every object reads, made Ready before the clock starts.
    pub(super) source: ApiResource,
    pub(super) source_name: &'static str,
    pub(super) source_object: SourceObject,
    /// The N objects timed to Ready, by index and namespace.
    pub(super) objects: ApiResource,
    pub(super) object: WorkloadObject,
    /// Kinds the controllers create on their own (HelmCharts of HelmReleases), deleted after
    /// the objects and before the source.
    pub(super) derived: Vec<ApiResource>,
    /// The docs/benchmarks.md block the figures go to. It also names the second controller
    /// (`block.controller`: driftless's subcommand, and Flux's binary with `flux-` before it,
    /// the tools.toml entry), the flags only that controller gets (`block.controller_flags`,
    /// the same on both sides), and the short name in namespaces and directories (`block.name`).
    pub(super) block: report::Block,
}

/// One side's two controller programs.
struct Pair {
    label: &'static str,
    source: PathBuf,
    controller: PathBuf,
    /// Subcommands before the flags (`source-controller` / `kustomize-controller` for
    /// driftless; Flux ships one binary per controller).
    source_leading: Vec<String>,
    controller_leading: Vec<String>,
}

/// Starts the bench plane, builds both pairs, then measures every N: floor, driftless, Flux,
/// each written to docs/benchmarks.md as soon as its N is done.
pub(super) async fn run(opts: &Options, workload: &Workload) -> anyhow::Result<()> {
    anyhow::ensure!(opts.counts.iter().all(|&n| n > 0), "--n must be at least 1");
    let (plane, _plane_guard) = super::bench_plane().await?;
    let client = plane.client().await?;
    super::install_crds(&client).await?;

    // Every binary first, so no build lands inside a measurement.
    let flux_tool = format!("flux-{}", workload.block.controller);
    let ours = if opts.skip.contains(&Side::Driftless) {
        Err("skipped (--skip driftless)".to_owned())
    } else {
        driftless_pair(opts.driftless_binary.clone(), workload.block.controller)
    };
    let theirs = if opts.skip.contains(&Side::Flux) {
        Err("skipped (--skip flux)".to_owned())
    } else {
        flux_pair(
            opts.flux_source_binary.clone(),
            opts.flux_controller_binary.clone(),
            &flux_tool,
        )
    };
    for (label, pair) in [("driftless", &ours), ("flux", &theirs)] {
        if let Err(why) = pair {
            eprintln!("bench: {label} side not run: {why}");
        }
    }

    let mut machine = super::machine_info(&client).await;
    machine.retain(|(k, _)| k != "Flux peer");
    for tool in ["flux-source-controller", flux_tool.as_str()] {
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
        match (&opts.flux_source_binary, &opts.flux_controller_binary) {
            (None, None) => "pinned builds (crates/testkit/tools.toml)".into(),
            (s, c) => format!(
                "source: {}; {}: {}",
                describe_binary(s.as_deref(), "pinned build"),
                workload.block.controller,
                describe_binary(c.as_deref(), "pinned build")
            ),
        },
    ));
    for &count in &opts.counts {
        let mut run = Run::new(count, opts, workload.block.name);
        if !opts.skip.contains(&Side::Floor) {
            let namespace = fresh_namespace(&client, workload.block.name, "floor", count).await?;
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
        run.driftless = side(&plane, &client, &ours, count, opts, workload).await;
        run.flux = side(&plane, &client, &theirs, count, opts, workload).await;
        report::write(&run, &machine, &workload.block)?;
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
    workload: &Workload,
) -> Outcome {
    let pair = match pair {
        Ok(pair) => pair,
        Err(why) if why.starts_with("skipped") => return Outcome::Skipped,
        Err(why) => return Outcome::Failed(why.clone()),
    };
    match measure(plane, client, pair, count, opts, workload).await {
        Ok(result) => {
            eprintln!(
                "bench: {}: {count} {} Ready in {:.1}s; source-controller peak {:.1} / idle {:.1} MiB, {} peak {:.1} / idle {:.1} MiB",
                pair.label,
                workload.objects.plural,
                result.wall,
                report::mib(result.source.peak_kib),
                report::mib(result.source.idle_kib),
                workload.block.controller,
                report::mib(result.controller.peak_kib),
                report::mib(result.controller.idle_kib),
            );
            Outcome::Measured(result)
        }
        Err(e) => {
            eprintln!("bench: {} failed: {e:#}", pair.label);
            Outcome::Failed(format!("{e:#}"))
        }
    }
}

/// One side on a fresh namespace: start both controllers, make the source Ready, create N
/// objects and time them to Ready, let the controllers idle, read memory, clean up while the
/// controllers still run (they own the finalizers), stop them.
async fn measure(
    plane: &ControlPlane,
    client: &kube::Client,
    pair: &Pair,
    count: usize,
    opts: &Options,
    workload: &Workload,
) -> anyhow::Result<SideResult> {
    let namespace = fresh_namespace(client, workload.block.name, pair.label, count).await?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("bench-{}-{}-", workload.block.name, pair.label))
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
    let (source_health, controller_health) = (super::free_port()?, super::free_port()?);
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
    let mut controller_args = pair.controller_leading.clone();
    controller_args.extend(common(
        opts.concurrent,
        super::free_port()?,
        controller_health,
    ));
    controller_args.extend(workload.block.controller_flags.iter().cloned());

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
    let controller = Controller::spawn(
        &format!("{}-{}", pair.label, workload.block.controller),
        &pair.controller,
        &controller_args,
        &kubeconfig,
        &namespace,
        dir.path(),
        controller_health,
    );
    let mut controller = match controller {
        Ok(c) => c,
        Err(e) => {
            source.stop();
            return Err(e);
        }
    };
    let result = drive(
        client,
        &mut source,
        &mut controller,
        &namespace,
        count,
        opts,
        workload,
    )
    .await;
    let result = match result {
        Ok(r) => Ok(r),
        Err(e) => {
            let logs = [&source, &controller]
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
    let cleaned = cleanup(client, &namespace, workload).await;
    source.stop();
    controller.stop();
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
    controller: &mut Controller,
    namespace: &str,
    count: usize,
    opts: &Options,
    workload: &Workload,
) -> anyhow::Result<SideResult> {
    source.wait_ready(Duration::from_secs(60)).await?;
    controller.wait_ready(Duration::from_secs(60)).await?;

    let sources: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &workload.source);
    sources
        .create(
            &PostParams::default(),
            &serde_json::from_value((workload.source_object)(namespace))?,
        )
        .await?;
    super::wait_until(
        Duration::from_secs(120),
        &format!("{} Ready", workload.source.kind),
        || {
            let sources = sources.clone();
            async move {
                Ok(sources
                    .get_opt(workload.source_name)
                    .await?
                    .is_some_and(|s| is_ready(&s)))
            }
        },
    )
    .await?;

    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &workload.objects);
    let requests_before = super::api_requests::Requests::read(client).await;
    let mut timeline = super::timeline::Timeline::start();
    let started = timeline.started();
    // Creates go out 32 at a time so creation itself does not dominate at N=1000.
    let mut pending = tokio::task::JoinSet::new();
    for i in 0..count {
        let object: DynamicObject = serde_json::from_value((workload.object)(i, namespace))?;
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

    let plural = &workload.objects.plural;
    let deadline = started + Duration::from_secs(600) + Duration::from_secs(count as u64);
    let wall = loop {
        let list = api.list(&ListParams::default()).await?;
        let ready_now: Vec<&DynamicObject> = list.items.iter().filter(|o| is_ready(o)).collect();
        for object in &ready_now {
            timeline.seen_ready(object.metadata.name.as_deref().unwrap_or_default());
        }
        let ready = ready_now.len();
        if ready == count {
            break started.elapsed();
        }
        source.ensure_running()?;
        controller.ensure_running()?;
        if Instant::now() >= deadline {
            let stuck: Vec<String> = list
                .items
                .iter()
                .filter(|o| !is_ready(o))
                .take(3)
                .map(describe)
                .collect();
            anyhow::bail!(
                "only {ready}/{count} {plural} Ready after {:?}; for example:\n{}",
                started.elapsed(),
                stuck.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let peaks = (source.peak_kib(), controller.peak_kib());
    if let (Some(before), Some(after)) = (
        requests_before,
        super::api_requests::Requests::read(client).await,
    ) {
        super::api_requests::print(namespace, count, &before, &after);
    }
    timeline
        .print(namespace, client, namespace, &workload.derived)
        .await;
    tokio::time::sleep(opts.idle).await;
    source.ensure_running()?;
    controller.ensure_running()?;
    Ok(SideResult {
        wall: wall.as_secs_f64(),
        source: Rss {
            // The high-water mark can only grow while idling; read it again.
            peak_kib: peaks.0.max(source.peak_kib()),
            idle_kib: source.rss_kib(),
        },
        controller: Rss {
            peak_kib: peaks.1.max(controller.peak_kib()),
            idle_kib: controller.rss_kib(),
        },
    })
}

/// The Ready condition of any Flux object, read from its status as JSON.
fn ready_condition(o: &DynamicObject) -> (Option<i64>, Vec<Condition>) {
    let status = o.data.get("status");
    let observed = status
        .and_then(|s| s.get("observedGeneration"))
        .and_then(Value::as_i64);
    let conditions = status
        .and_then(|s| s.get("conditions"))
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    (observed, conditions)
}

fn is_ready(o: &DynamicObject) -> bool {
    let (observed, conditions) = ready_condition(o);
    super::ready_at_generation(o.metadata.generation, observed, Some(&conditions))
}

/// `name: Ready=<status> <reason>: <message>` for a report.
fn describe(o: &DynamicObject) -> String {
    let name = o.metadata.name.clone().unwrap_or_default();
    let (_, conditions) = ready_condition(o);
    match conditions.iter().find(|c| c.type_ == "Ready") {
        Some(c) => format!("{name}: Ready={} {}: {}", c.status, c.reason, c.message),
        None => format!("{name}: no Ready condition"),
    }
}

async fn fresh_namespace(
    client: &kube::Client,
    short: &str,
    label: &str,
    count: usize,
) -> anyhow::Result<String> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let name = format!("bench-{short}-{label}-{count}-{stamp}");
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

/// Deletes the objects (their controller prunes or uninstalls what they applied), then what
/// the controller derived from them, then the source, while both controllers still run.
/// Whatever is still there after the wait (a controller that died) loses its finalizers so the
/// namespace can go.
async fn cleanup(
    client: &kube::Client,
    namespace: &str,
    workload: &Workload,
) -> anyhow::Result<()> {
    let mut result = Ok(());
    let kinds = std::iter::once(&workload.objects)
        .chain(&workload.derived)
        .chain(std::iter::once(&workload.source));
    for kind in kinds {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, kind);
        let deleted = delete_all(&api, &kind.plural).await;
        result = result.and(deleted);
    }
    result
}

async fn delete_all(api: &Api<DynamicObject>, what: &str) -> anyhow::Result<()> {
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
            let Some(name) = item.metadata.name.clone() else {
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

fn driftless_pair(given: Option<PathBuf>, controller: &str) -> Result<Pair, String> {
    let program = match given {
        Some(path) => path,
        None => super::build_driftless().map_err(|e| format!("{e:#}"))?,
    };
    // The subcommand may not exist yet in this tree: ask the binary.
    let help = std::process::Command::new(&program)
        .args([controller, "--help"])
        .output()
        .map_err(|e| format!("running {}: {e}", program.display()))?;
    if !help.status.success() {
        return Err(format!(
            "`{} {controller} --help` failed: {}",
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
        controller: program,
        source_leading: vec!["source-controller".into()],
        controller_leading: vec![controller.into()],
    })
}

fn flux_pair(
    source: Option<PathBuf>,
    controller: Option<PathBuf>,
    controller_tool: &str,
) -> Result<Pair, String> {
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
        controller: pick(controller, controller_tool)?,
        source_leading: Vec::new(),
        controller_leading: Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn object(generation: i64, status: Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "app-0001", "generation": generation},
            "status": status,
        }))
        .expect("a valid object")
    }

    fn ready(status: &str) -> Value {
        json!({"type": "Ready", "status": status, "reason": "InstallSucceeded",
               "message": "Helm install succeeded", "lastTransitionTime": "2026-01-01T00:00:00Z"})
    }

    #[test]
    fn an_object_is_ready_only_when_its_status_speaks_of_its_generation() {
        let current = object(
            2,
            json!({"observedGeneration": 2, "conditions": [ready("True")]}),
        );
        let stale = object(
            3,
            json!({"observedGeneration": 2, "conditions": [ready("True")]}),
        );
        let failing = object(
            2,
            json!({"observedGeneration": 2, "conditions": [ready("False")]}),
        );
        assert!(is_ready(&current));
        assert!(!is_ready(&stale));
        assert!(!is_ready(&failing));
        assert!(!is_ready(&object(1, json!({}))));
    }

    #[test]
    fn a_stuck_object_is_described_by_its_ready_condition() {
        let failing = object(
            1,
            json!({"observedGeneration": 1, "conditions": [ready("False")]}),
        );
        assert_eq!(
            describe(&failing),
            "app-0001: Ready=False InstallSucceeded: Helm install succeeded"
        );
        assert_eq!(
            describe(&object(1, json!({}))),
            "app-0001: no Ready condition"
        );
    }
}
