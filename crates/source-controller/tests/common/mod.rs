//! Helpers for the integration tests: the GitRepository CRD installed idempotently, the
//! controller run in-process on its own label shard with a temp storage dir and an ephemeral
//! loopback artifact port, and waits on the object's status.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use driftless_api::source::GitRepository;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use testkit::TestCluster;

/// Label that shards objects to one test's controller.
pub const SHARD_LABEL: &str = "driftless.test/shard";

/// How long any wait on the cluster may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(90);

const CRD: &str = "gitrepositories.source.toolkit.fluxcd.io";

/// Installs the GitRepository CRD (server-side apply with force; shared, never deleted) and waits
/// until it is Established and served.
pub async fn install_crd(client: &kube::Client) -> anyhow::Result<()> {
    let crd = driftless_api::crds()
        .into_iter()
        .find(|c| c.metadata.name.as_deref() == Some(CRD))
        .context("driftless_api::crds() has the GitRepository CRD")?;
    testkit::install_crd(client, &crd, "driftless-source-controller-tests").await
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: driftless_source_controller::Args,
}

/// A source-controller running on a tokio task for one test.
pub struct RunningController {
    /// Storage root (`--storage-path`).
    pub storage: tempfile::TempDir,
    /// The shard label value objects of this test carry.
    pub shard: String,
    /// The artifact server's loopback port (part of every artifact URL it advertises).
    pub port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), driftless_source_controller::RunError>>>,
}

impl RunningController {
    /// Starts a controller that only sees objects labelled `SHARD_LABEL=<shard>`.
    pub async fn start(cluster: &TestCluster, shard: &str) -> anyhow::Result<Self> {
        Self::start_with(cluster, shard, &[]).await
    }

    /// [`RunningController::start`] with extra flags.
    pub async fn start_with(
        cluster: &TestCluster,
        shard: &str,
        extra: &[&str],
    ) -> anyhow::Result<Self> {
        let storage = tempfile::Builder::new()
            .prefix("source-controller-")
            .tempdir()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let argv = [
            "source-controller".to_owned(),
            format!("--storage-path={}", storage.path().display()),
            "--storage-addr=127.0.0.1:0".to_owned(),
            format!("--storage-adv-addr=127.0.0.1:{port}"),
            "--metrics-addr=0".to_owned(),
            "--health-addr=0".to_owned(),
            format!("--watch-label-selector={SHARD_LABEL}={shard}"),
            "--min-retry-delay=100ms".to_owned(),
            "--max-retry-delay=2s".to_owned(),
            "--artifact-retention-ttl=0s".to_owned(),
        ];
        // An extra flag replaces the default of the same name (clap refuses repeats), so a
        // test can enable e.g. `--metrics-addr`.
        let flag_name = |arg: &str| arg.split('=').next().unwrap_or_default().to_owned();
        let overridden: Vec<String> = extra.iter().map(|a| flag_name(a)).collect();
        let argv = argv
            .into_iter()
            .filter(|a| !overridden.contains(&flag_name(a)))
            .chain(extra.iter().map(|a| (*a).to_owned()));
        let args = Cli::try_parse_from(argv)?.args;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let client = cluster.client.clone();
        let task = tokio::spawn(driftless_source_controller::run(
            args,
            client,
            listener,
            async move {
                let _ = rx.await;
            },
        ));
        Ok(Self {
            storage,
            shard: shard.to_owned(),
            port,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The storage directory of one GitRepository.
    pub fn object_dir(&self, namespace: &str, name: &str) -> PathBuf {
        self.storage
            .path()
            .join("gitrepository")
            .join(namespace)
            .join(name)
    }

    /// Signals shutdown and waits for the controller and its servers to stop.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .context("controller stops on the shutdown signal")???;
        }
        Ok(())
    }
}

/// A GitRepository in the test's shard.
pub fn git_repository(
    name: &str,
    shard: &str,
    url: &str,
    spec: Value,
) -> anyhow::Result<GitRepository> {
    let mut spec_json = json!({"url": url, "interval": "1h0m0s"});
    if let (Some(base), Some(extra)) = (spec_json.as_object_mut(), spec.as_object()) {
        base.extend(extra.clone());
    }
    Ok(serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name, "labels": {SHARD_LABEL: shard}},
        "spec": spec_json,
    }))?)
}

/// Creates `repo` in `namespace`.
pub async fn create(
    api: &Api<GitRepository>,
    repo: &GitRepository,
) -> anyhow::Result<GitRepository> {
    Ok(api.create(&PostParams::default(), repo).await?)
}

/// The condition `type_` of `repo`.
pub fn condition<'a>(repo: &'a GitRepository, type_: &str) -> Option<&'a Condition> {
    repo.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == type_))
}

/// Waits until `check` accepts the GitRepository, and returns it.
pub async fn wait_for(
    api: &Api<GitRepository>,
    name: &str,
    what: &str,
    check: impl Fn(&GitRepository) -> bool,
) -> anyhow::Result<GitRepository> {
    testkit::wait::object(api, name, WAIT, what, check).await
}

/// Waits for Ready with `status` and `reason`.
pub async fn wait_ready(
    api: &Api<GitRepository>,
    name: &str,
    status: &str,
    reason: &str,
) -> anyhow::Result<GitRepository> {
    wait_for(api, name, &format!("{name} Ready={status} {reason}"), |r| {
        condition(r, "Ready").is_some_and(|c| c.status == status && c.reason == reason)
            && r.status.as_ref().and_then(|s| s.observed_generation) == r.metadata.generation
    })
    .await
}

/// Waits for Ready=False with `reason` (a retried failure keeps observedGeneration behind).
pub async fn wait_failing(
    api: &Api<GitRepository>,
    name: &str,
    reason: &str,
) -> anyhow::Result<GitRepository> {
    wait_for(api, name, &format!("{name} Ready=False {reason}"), |r| {
        condition(r, "Ready").is_some_and(|c| c.status == "False" && c.reason == reason)
    })
    .await
}

/// Waits until an Event in `namespace` satisfies `check`, and returns every Event then.
pub async fn wait_event(
    client: &kube::Client,
    namespace: &str,
    what: &str,
    check: impl Fn(&Event) -> bool,
) -> anyhow::Result<(Event, Vec<Event>)> {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let check = &check;
    testkit::wait::until(WAIT, what, || {
        let events = events.clone();
        async move {
            let list = events
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            let found = list.items.iter().find(|e| check(e)).cloned();
            Ok(found.map(|e| (e, list.items)))
        }
    })
    .await
    .map_err(anyhow::Error::msg)
}

/// Sets `reconcile.fluxcd.io/requestedAt`, as `flux reconcile source git` does.
pub async fn request_reconcile(
    api: &Api<GitRepository>,
    name: &str,
    token: &str,
) -> anyhow::Result<()> {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}),
        ),
    )
    .await?;
    Ok(())
}

/// Merges `spec` into the object's spec.
pub async fn patch_spec(api: &Api<GitRepository>, name: &str, spec: Value) -> anyhow::Result<()> {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": spec })),
    )
    .await?;
    Ok(())
}

/// A plain HTTP/1.1 GET of `url` (loopback only): status code and body.
pub use testkit::http_get;

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Runs the control plane's kubectl and returns its stdout.
pub fn kubectl(cluster: &TestCluster, args: &[&str]) -> anyhow::Result<String> {
    let output = std::process::Command::new(cluster.plane.bin_dir().join("kubectl"))
        .env("KUBECONFIG", cluster.plane.kubeconfig_path())
        .args(args)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// Every file under `root`, relative, sorted.
pub fn files_under(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(root)?.display().to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Waits until every GitRepository in `api`'s namespace is finalized and gone.
pub async fn wait_all_gone(api: &Api<GitRepository>) -> anyhow::Result<()> {
    testkit::wait::until(WAIT, "every GitRepository finalized", || {
        let api = api.clone();
        async move {
            let left = api
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            if left.items.is_empty() {
                Ok(Some(()))
            } else {
                Err(format!("{} left", left.items.len()))
            }
        }
    })
    .await
    .map_err(anyhow::Error::msg)
}

/// Asserts `secret` appears neither in any GitRepository of `api`'s namespace
/// nor in the namespace's events, once an event of `reason` was recorded.
pub async fn assert_secret_not_leaked(
    client: &kube::Client,
    api: &Api<GitRepository>,
    namespace: &str,
    reason: &str,
    secret: &str,
) -> anyhow::Result<()> {
    let objects = serde_json::to_string(&api.list(&ListParams::default()).await?.items)?;
    anyhow::ensure!(
        !objects.contains(secret),
        "the secret leaked into an object"
    );
    let (_, events) = wait_event(client, namespace, &format!("a {reason} event"), |e| {
        e.reason.as_deref() == Some(reason)
    })
    .await?;
    anyhow::ensure!(
        !serde_json::to_string(&events)?.contains(secret),
        "the secret leaked into events"
    );
    Ok(())
}

/// A Secret named `name` holding `data` (string values).
pub fn secret(name: &str, data: &[(&str, &str)]) -> k8s_openapi::api::core::v1::Secret {
    k8s_openapi::api::core::v1::Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| {
                    (
                        (*k).to_owned(),
                        k8s_openapi::ByteString(v.as_bytes().to_vec()),
                    )
                })
                .collect(),
        ),
        ..Default::default()
    }
}

/// The artifact `repo` reports, fetched and digest-checked as consumers do, in a temp dir.
pub async fn fetch_artifact(repo: &GitRepository) -> anyhow::Result<tempfile::TempDir> {
    let artifact = repo
        .status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .context("no artifact")?;
    let out = tempfile::tempdir()?;
    driftless_artifact::Fetcher::new(driftless_artifact::FetchOptions::default())?
        .fetch(&artifact.url, &artifact.digest, out.path())
        .await?;
    Ok(out)
}

/// Deletes every GitRepository in `api`'s namespace and waits until they are finalized.
pub async fn delete_all_repositories(api: &Api<GitRepository>) -> anyhow::Result<()> {
    for repo in api.list(&ListParams::default()).await?.items {
        if let Some(name) = repo.metadata.name {
            api.delete(&name, &kube::api::DeleteParams::default())
                .await?;
        }
    }
    wait_all_gone(api).await
}
