//! `cargo xtask bench source`: N GitRepositories pointing at ONE loopback Git repository,
//! reconciled to Ready by `driftless source-controller` and then by Flux's own
//! source-controller (built from its Go module, `crates/testkit/tools.toml`), each as a process
//! against the same local control plane, with identical objects in separate namespaces and
//! identical flags. Measured: wall time from the first create to all Ready, and the peak RSS of
//! the controller process (`VmHWM`). Results go to `docs/benchmarks.md`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use driftless_api::source::GitRepository;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;
use testkit::git_server::{GitAuth, GitServer};
use testkit::{Cache, ControlPlane};

use super::{
    build_driftless, free_port, http_status, install_crds, machine_info, repo_root, stop,
    wait_until,
};

/// One controller's result.
struct Measurement {
    wall: Duration,
    peak_rss_kib: u64,
}

/// A controller binary and how to describe it.
struct Contender {
    label: &'static str,
    program: PathBuf,
    /// Arguments before the shared flags (`source-controller` for driftless).
    leading: Vec<String>,
}

pub(super) async fn run(
    count: usize,
    concurrent: usize,
    flux_binary: Option<PathBuf>,
    driftless_binary: Option<PathBuf>,
) -> anyhow::Result<()> {
    anyhow::ensure!(count > 0, "--count must be at least 1");
    let (plane, _plane_guard) = super::bench_plane().await?;
    let client = plane.client().await?;
    install_crds(&client).await?;

    // Both binaries first, so neither build lands inside a measurement.
    let driftless_source = match &driftless_binary {
        Some(path) => format!("given binary {}", path.display()),
        None => "cargo build --release".to_owned(),
    };
    let driftless = Contender {
        label: "driftless",
        program: match driftless_binary {
            Some(path) => path,
            None => build_driftless()?,
        },
        leading: vec!["source-controller".into()],
    };
    let flux_source = match &flux_binary {
        Some(path) => format!("given binary {}", path.display()),
        None => "pinned build (crates/testkit/tools.toml)".to_owned(),
    };
    let flux_program = match flux_binary {
        Some(path) if path.is_file() => Ok(path),
        Some(path) => Err(anyhow::anyhow!(
            "--flux-binary {} is not a file",
            path.display()
        )),
        None => build_flux(),
    };
    let flux = match flux_program {
        Ok(program) => Ok(Contender {
            label: "flux",
            program,
            leading: Vec::new(),
        }),
        Err(e) => {
            let why = format!("{e:#}");
            eprintln!(
                "bench: Flux's source-controller could not be built; benchmarking driftless alone:\n{why}"
            );
            Err(why)
        }
    };

    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("bench")?;
    repo.commit_files(
        "master",
        &[
            (
                "deploy/app.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
            ),
            ("README.md", "benchmark fixture\n"),
        ],
        "benchmark fixture",
    )?;
    let url = git.url("bench");

    let ours = measure(&plane, &client, &driftless, count, concurrent, &url).await?;
    report("driftless", count, &ours);
    let theirs = match &flux {
        Ok(flux) => {
            let m = measure(&plane, &client, flux, count, concurrent, &url).await?;
            report("flux", count, &m);
            Ok(m)
        }
        Err(why) => Err(why.clone()),
    };
    let mut machine = machine_info(&client).await;
    machine.push(("driftless binary".into(), driftless_source));
    machine.push(("Flux binary".into(), flux_source));
    write_results(count, concurrent, &ours, &theirs, &machine)?;
    eprintln!("bench: results written to docs/benchmarks.md");
    Ok(())
}

fn report(label: &str, count: usize, m: &Measurement) {
    eprintln!(
        "bench: {label}: {count} GitRepositories Ready in {:.1}s, peak RSS {:.1} MiB",
        m.wall.as_secs_f64(),
        mib(m.peak_rss_kib)
    );
}

fn build_flux() -> anyhow::Result<PathBuf> {
    let tool = testkit::gotools::pinned_tool("flux-source-controller")?;
    let built = tool.ensure(&Cache::from_env())?;
    Ok(built.path("flux-source-controller"))
}

/// Runs one controller on a fresh namespace: start it, wait until it answers its readiness
/// probe, create `count` GitRepositories, wait until all are Ready, read its peak RSS, clean up.
async fn measure(
    plane: &ControlPlane,
    client: &kube::Client,
    contender: &Contender,
    count: usize,
    concurrent: usize,
    url: &str,
) -> anyhow::Result<Measurement> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let namespace = format!("bench-{}-{count}-{stamp}", contender.label);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": namespace}}))?,
        )
        .await?;
    let storage = tempfile::Builder::new()
        .prefix(&format!("bench-{}-", contender.label))
        .tempdir()?;
    // Flux's storage setup refuses a missing directory.
    std::fs::create_dir_all(storage.path().join("data"))?;
    let (storage_port, metrics_port, health_port) = (free_port()?, free_port()?, free_port()?);
    let log_path = storage.path().join("controller.log");
    let log = std::fs::File::create(&log_path)?;
    let mut command = Command::new(&contender.program);
    command
        .args(&contender.leading)
        .args([
            format!("--storage-path={}", storage.path().join("data").display()),
            format!("--storage-addr=127.0.0.1:{storage_port}"),
            format!("--storage-adv-addr=127.0.0.1:{storage_port}"),
            format!("--metrics-addr=127.0.0.1:{metrics_port}"),
            format!("--health-addr=127.0.0.1:{health_port}"),
            "--watch-all-namespaces=false".into(),
            format!("--concurrent={concurrent}"),
            "--log-level=error".into(),
        ])
        .env("KUBECONFIG", plane.kubeconfig_path())
        .env("RUNTIME_NAMESPACE", &namespace)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", contender.program.display()))?;
    let result = drive(client, &mut child, &namespace, count, url, health_port).await;
    let cleanup = cleanup(client, &namespace).await;
    stop(&mut child);
    let _ = namespaces
        .delete(&namespace, &DeleteParams::default())
        .await;
    match result {
        Ok(m) => cleanup.map(|()| m),
        Err(e) => {
            let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Err(e.context(format!(
                "{} run failed; last log lines:\n{}",
                contender.label,
                tail.join("\n")
            )))
        }
    }
}

async fn drive(
    client: &kube::Client,
    child: &mut Child,
    namespace: &str,
    count: usize,
    url: &str,
    health_port: u16,
) -> anyhow::Result<Measurement> {
    let pid = child.id();
    let readyz = format!("127.0.0.1:{health_port}");
    wait_until(
        Duration::from_secs(60),
        "controller readiness probe",
        || {
            let readyz = readyz.clone();
            let exited = child.try_wait().ok().flatten();
            async move {
                if let Some(status) = exited {
                    anyhow::bail!("controller exited early: {status}");
                }
                Ok(http_status(&readyz, "/readyz").await == Some(200))
            }
        },
    )
    .await?;

    let api: Api<GitRepository> = Api::namespaced(client.clone(), namespace);
    let started = Instant::now();
    let mut peak = 0;
    // Creates go out 32 at a time so creation itself does not dominate at N=1000.
    let mut pending = tokio::task::JoinSet::new();
    for i in 0..count {
        let object: GitRepository = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": format!("repo-{i:04}")},
            "spec": {"url": url, "interval": "60m", "ref": {"branch": "master"}},
        }))?;
        let api = api.clone();
        pending.spawn(async move { api.create(&PostParams::default(), &object).await });
        if pending.len() >= 32
            && let Some(done) = pending.join_next().await
        {
            done??;
        }
        peak = peak.max(peak_rss_kib(pid));
    }
    while let Some(done) = pending.join_next().await {
        done??;
    }

    let deadline = started + Duration::from_secs(600) + Duration::from_secs(count as u64);
    loop {
        peak = peak.max(peak_rss_kib(pid));
        let ready = api
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|r| is_ready(r))
            .count();
        if ready == count {
            let wall = started.elapsed();
            peak = peak.max(peak_rss_kib(pid));
            return Ok(Measurement {
                wall,
                peak_rss_kib: peak,
            });
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("controller exited with {status} after {ready}/{count} Ready");
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {ready}/{count} Ready after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub(super) fn is_ready(repo: &GitRepository) -> bool {
    repo.status.as_ref().is_some_and(|s| {
        super::ready_at_generation(
            repo.metadata.generation,
            s.observed_generation,
            s.conditions.as_deref(),
        )
    })
}

/// Deletes the namespace's GitRepositories while the controller still runs (it owns their
/// finalizers), so the namespace does not hang once the controller is gone.
async fn cleanup(client: &kube::Client, namespace: &str) -> anyhow::Result<()> {
    let api: Api<GitRepository> = Api::namespaced(client.clone(), namespace);
    api.delete_collection(&DeleteParams::default(), &ListParams::default())
        .await?;
    wait_until(Duration::from_secs(300), "GitRepositories deleted", || {
        let api = api.clone();
        async move {
            Ok(api
                .list(&ListParams::default().limit(1))
                .await?
                .items
                .is_empty())
        }
    })
    .await
}

/// `VmHWM` (peak resident set) of `pid` in KiB; 0 once the process is gone.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

const BEGIN: &str = "<!-- bench source: begin (cargo xtask bench source rewrites this block) -->";
const END: &str = "<!-- bench source: end -->";

/// Rewrites the `bench source` block of docs/benchmarks.md, keeping rows of other counts.
fn write_results(
    count: usize,
    concurrent: usize,
    ours: &Measurement,
    theirs: &Result<Measurement, String>,
    machine: &[(String, String)],
) -> anyhow::Result<()> {
    let path = repo_root().join("docs/benchmarks.md");
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let (before, block, after) = match (existing.find(BEGIN), existing.find(END)) {
        (Some(b), Some(e)) if b < e => (
            existing[..b].to_owned(),
            existing[b..e].to_owned(),
            existing[e + END.len()..].to_owned(),
        ),
        _ if existing.is_empty() => (
            "# Benchmarks\n\nTimings live here, never in tests (DESIGN.md §5): each benchmark runs \
             Flux's own controller side by side in the same invocation and reports ratios.\n\n"
                .to_owned(),
            String::new(),
            "\n".to_owned(),
        ),
        _ => (format!("{existing}\n"), String::new(), "\n".to_owned()),
    };
    // Rows are keyed by N: a new run replaces its own row and keeps the others.
    let mut rows: BTreeMap<usize, String> = block
        .lines()
        .filter_map(|l| {
            let n = l
                .strip_prefix("| ")?
                .split(" |")
                .next()?
                .trim()
                .parse()
                .ok()?;
            Some((n, l.to_owned()))
        })
        .collect();
    let notes: Vec<String> = block
        .lines()
        .filter(|l| l.starts_with("- N=") && !l.starts_with(&format!("- N={count}:")))
        .map(str::to_owned)
        .collect();
    let today = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let (flux_wall, flux_rss, wall_ratio, rss_ratio, note) = match theirs {
        Ok(t) => (
            format!("{:.1} s", t.wall.as_secs_f64()),
            format!("{:.1} MiB", mib(t.peak_rss_kib)),
            format!("{:.2}", ours.wall.as_secs_f64() / t.wall.as_secs_f64()),
            format!(
                "{:.2}",
                ours.peak_rss_kib as f64 / t.peak_rss_kib.max(1) as f64
            ),
            None,
        ),
        Err(why) => (
            "not run".into(),
            "not run".into(),
            "n/a".into(),
            "n/a".into(),
            Some(format!(
                "- N={count}: Flux's source-controller could not be built: {}",
                why.lines().last().unwrap_or_default()
            )),
        ),
    };
    rows.insert(
        count,
        format!(
            "| {count} | {concurrent} | {:.1} s | {flux_wall} | {wall_ratio} | {:.1} MiB | {flux_rss} | {rss_ratio} | {today} |",
            ours.wall.as_secs_f64(),
            mib(ours.peak_rss_kib),
        ),
    );
    let mut out = String::new();
    out.push_str(BEGIN);
    out.push_str("\n## source-controller: N GitRepositories to Ready\n\n");
    out.push_str(
        "N GitRepositories (`interval: 60m`, `ref.branch: master`) pointing at ONE repository on \
         testkit's loopback Git server (git http-backend), created 32 at a time; wall time from \
         the first create until every object is Ready=True at its generation (polled every \
         250 ms), and the controller process's peak RSS (`VmHWM` from /proc). driftless runs \
         first, then Flux, each as a process on its own namespace of the same local control \
         plane with the same flags (`--concurrent`, `--watch-all-namespaces=false`, \
         `--log-level=error`) and the client defaults of each (kube-rs: no client-side rate \
         limit; controller-runtime: QPS 50 / burst 300 as Flux sets them). driftless is a \
         `--release` build and Flux a `go build -trimpath -ldflags='-s -w'` build unless the \
         list below says otherwise. Ratios are driftless / Flux: below 1 is better.\n\n",
    );
    out.push_str(
        "| N | --concurrent | driftless wall | Flux wall | wall ratio | driftless peak RSS | Flux peak RSS | RSS ratio | date |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for row in rows.values() {
        out.push_str(row);
        out.push('\n');
    }
    let command: Vec<String> = std::env::args().skip(1).collect();
    let mut all_notes = notes;
    all_notes.push(format!(
        "- N={count}: measured with `cargo xtask {}`",
        command.join(" ")
    ));
    all_notes.extend(note);
    all_notes.sort();
    if !all_notes.is_empty() {
        out.push('\n');
        for n in &all_notes {
            out.push_str(n);
            out.push('\n');
        }
    }
    out.push_str("\nMachine (last run):\n\n");
    for (k, v) in machine {
        out.push_str(&format!("- {k}: {v}\n"));
    }
    out.push_str(END);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, format!("{before}{out}{after}"))?;
    Ok(())
}
