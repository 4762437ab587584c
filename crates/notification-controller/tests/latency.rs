//! Latency benchmarks (ignored by default; run with
//! `cargo test -p driftless-notification-controller --test latency -- --ignored --nocapture`):
//! - webhook to annotated: a signed GitHub push until a watch sees the GitRepository's new
//!   `reconcile.fluxcd.io/requestedAt`;
//! - push to applied: a commit pushed to a loopback git server, the webhook sent, until the
//!   Kustomization (driftless source- and kustomize-controller in process) reports the commit
//!   as its last applied revision.
//!
//! Each prints p50/p90/max over its samples.

mod common;

use std::time::{Duration, Instant};

use clap::Parser;
use common::{
    RunningController, SHARD_LABEL, WAIT, create_secret, delete_receivers, hmac_sha256, http,
    install_crds,
};
use driftless_api::notification::Receiver;
use driftless_notification_controller::receiver::webhook_path;
use futures::StreamExt;
use kube::api::{Api, DynamicObject, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use testkit::TestNamespace;
use testkit::git_server::{GitAuth, GitServer};

const TOKEN: &str = "bench-token-91c3";

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name}: n={} p50={:?} p90={:?} max={:?}",
        samples.len(),
        at(0.5),
        at(0.9),
        at(1.0)
    );
}

async fn github_receiver(client: &kube::Client, ns: &str, shard: &str) -> anyhow::Result<String> {
    create_secret(client, ns, "webhook-token", &[("token", TOKEN)]).await?;
    let receiver: Receiver = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1",
        "kind": "Receiver",
        "metadata": {"name": "github", "labels": {SHARD_LABEL: shard}},
        "spec": {"type": "github", "events": ["push"], "secretRef": {"name": "webhook-token"},
                 "resources": [{"kind": "GitRepository", "name": "fleet"}]},
    }))?;
    let api: Api<Receiver> = Api::namespaced(client.clone(), ns);
    api.create(&PostParams::default(), &receiver).await?;
    let path = webhook_path(TOKEN, "github", ns);
    testkit::wait::object(&api, "github", WAIT, "receiver ready", |r| {
        r.status.as_ref().and_then(|s| s.webhook_path.as_deref()) == Some(path.as_str())
    })
    .await?;
    Ok(path)
}

async fn push_webhook(url: &str, n: usize) -> anyhow::Result<()> {
    let body = format!(r#"{{"ref":"refs/heads/master","n":{n}}}"#);
    let signature = format!("sha256={}", hmac_sha256(TOKEN, body.as_bytes()));
    let response = http(
        "POST",
        url,
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &signature),
        ],
        body.as_bytes(),
    )
    .await?;
    anyhow::ensure!(
        response.status == 200,
        "webhook answered {}",
        response.status
    );
    Ok(())
}

#[tokio::test]
#[ignore = "benchmark"]
async fn webhook_to_annotated_latency() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let client = &cluster.client;
    let ns = TestNamespace::create(&cluster, "nc-bench-hook").await?;
    let repos = common::flux_api(client, ns.name(), "GitRepository");
    common::create_inert_git_repository(client, ns.name(), "fleet").await?;
    let controller = RunningController::start(&cluster, "nc-bench-hook", &[]).await?;
    let path = github_receiver(client, ns.name(), &controller.shard).await?;
    let url = format!("{}{path}", controller.receiver_url);

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let watch = watcher(
        repos.clone(),
        watcher::Config::default().fields("metadata.name=fleet"),
    )
    .applied_objects();
    let watching = tokio::spawn(async move {
        futures::pin_mut!(watch);
        while let Some(Ok(obj)) = watch.next().await {
            if let Some(v) = obj
                .metadata
                .annotations
                .and_then(|a| a.get("reconcile.fluxcd.io/requestedAt").cloned())
            {
                let _ = tx.send((v, Instant::now()));
            }
        }
    });
    let mut samples = Vec::new();
    let mut last = String::new();
    for n in 0..40 {
        // Go's time string has microsecond-or-finer resolution; space the calls so each one
        // writes a new value.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let start = Instant::now();
        push_webhook(&url, n).await?;
        loop {
            let (value, seen) = tokio::time::timeout(WAIT, rx.recv())
                .await?
                .ok_or_else(|| anyhow::anyhow!("watch ended"))?;
            if value != last && seen >= start {
                last = value;
                samples.push(seen - start);
                break;
            }
        }
    }
    watching.abort();
    report("webhook to annotated (watch)", samples);
    delete_receivers(client, ns.name()).await?;
    controller.stop().await
}

#[derive(Debug, Parser)]
struct SourceCli {
    #[command(flatten)]
    args: driftless_source_controller::Args,
}

#[derive(Debug, Parser)]
struct KustomizeCli {
    #[command(flatten)]
    args: driftless_kustomize_controller::Args,
}

#[tokio::test]
#[ignore = "benchmark"]
async fn push_to_applied_latency() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let client = &cluster.client;
    let ns = TestNamespace::create(&cluster, "nc-bench-push").await?;
    let shard = "nc-bench-push";
    let git = GitServer::start(GitAuth::None).await?;
    let work = git.create_repo("fleet")?;
    let config_map = |n: usize| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pushed\ndata:\n  n: \"{n}\"\n")
    };
    work.commit_files("master", &[("cm.yaml", &config_map(0))], "initial")?;

    let storage = tempfile::Builder::new()
        .prefix("nc-bench-source-")
        .tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let source_args = SourceCli::try_parse_from([
        "source-controller".to_owned(),
        format!("--storage-path={}", storage.path().display()),
        "--storage-addr=127.0.0.1:0".to_owned(),
        format!("--storage-adv-addr=127.0.0.1:{port}"),
        "--metrics-addr=0".to_owned(),
        "--health-addr=0".to_owned(),
        format!("--watch-label-selector={SHARD_LABEL}={shard}"),
    ])?
    .args;
    let (stop_source, source_rx) = tokio::sync::oneshot::channel::<()>();
    let source = tokio::spawn(driftless_source_controller::run(
        source_args,
        client.clone(),
        listener,
        async move {
            let _ = source_rx.await;
        },
    ));
    let controller = RunningController::start(&cluster, shard, &[]).await?;
    let kustomize_args = KustomizeCli::try_parse_from([
        "kustomize-controller".to_owned(),
        "--metrics-addr=0".to_owned(),
        "--health-addr=0".to_owned(),
        format!("--events-addr={}/", controller.events_url),
        format!("--watch-label-selector={SHARD_LABEL}={shard}"),
    ])?
    .args;
    let (stop_kustomize, kustomize_rx) = tokio::sync::oneshot::channel::<()>();
    let kustomize = tokio::spawn(driftless_kustomize_controller::run(
        kustomize_args,
        cluster.plane.config().await?,
        async move {
            let _ = kustomize_rx.await;
        },
    ));

    let repos = common::flux_api(client, ns.name(), "GitRepository");
    let repo: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "fleet", "labels": {SHARD_LABEL: shard}},
        "spec": {"url": git.url("fleet"), "interval": "1h", "ref": {"branch": "master"}},
    }))?;
    repos.create(&PostParams::default(), &repo).await?;
    let kustomizations = common::flux_api(client, ns.name(), "Kustomization");
    let ks: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "apps", "labels": {SHARD_LABEL: shard}},
        "spec": {"interval": "1h", "path": "./", "prune": true, "targetNamespace": ns.name(),
                 "sourceRef": {"kind": "GitRepository", "name": "fleet"}},
    }))?;
    kustomizations.create(&PostParams::default(), &ks).await?;
    let path = github_receiver(client, ns.name(), &controller.shard).await?;
    let url = format!("{}{path}", controller.receiver_url);
    let applied = |ks: &DynamicObject| {
        ks.data["status"]["lastAppliedRevision"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    testkit::wait::object(&kustomizations, "apps", WAIT, "first apply", |ks| {
        !applied(ks).is_empty()
    })
    .await?;

    let mut samples = Vec::new();
    let mut fetched = Vec::new();
    for n in 1..=10 {
        let commit = work.commit_files(
            "master",
            &[("cm.yaml", &config_map(n))],
            &format!("change {n}"),
        )?;
        let start = Instant::now();
        push_webhook(&url, n).await?;
        testkit::wait::until(WAIT, &format!("commit {n} fetched"), || async {
            let repo = repos.get("fleet").await.map_err(|e| e.to_string())?;
            let rev = repo.data["status"]["artifact"]["revision"]
                .as_str()
                .unwrap_or_default();
            if rev.ends_with(&commit) {
                Ok(Some(()))
            } else {
                Err(rev.to_owned())
            }
        })
        .await
        .map_err(anyhow::Error::msg)?;
        fetched.push(start.elapsed());
        testkit::wait::until(WAIT, &format!("commit {n} applied"), || async {
            let ks = kustomizations
                .get("apps")
                .await
                .map_err(|e| e.to_string())?;
            let rev = applied(&ks);
            if rev.ends_with(&commit) {
                Ok(Some(()))
            } else {
                Err(rev)
            }
        })
        .await
        .map_err(anyhow::Error::msg)?;
        samples.push(start.elapsed());
    }
    report("push to fetched (webhook, source)", fetched);
    report("push to applied (webhook, source, kustomize)", samples);

    common::delete_all(&kustomizations).await?;
    common::delete_all(&repos).await?;
    delete_receivers(client, ns.name()).await?;
    let _ = stop_kustomize.send(());
    let _ = stop_source.send(());
    tokio::time::timeout(WAIT, kustomize).await???;
    tokio::time::timeout(WAIT, source).await???;
    controller.stop().await
}
