//! Helpers for the integration tests: the CRDs installed idempotently; a [`Source`] that plays
//! source-controller (a GitRepository whose `status.artifact` points at a real artifact server on
//! loopback, holding a tar.gz of files the test writes); the controller run in-process on its own
//! label shard; and waits on a Kustomization's status.

#![allow(dead_code)]

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use driftless_api::kustomize::Kustomization;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::DeleteParams;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};
use testkit::{TestCluster, TestNamespace};

/// Label that shards objects to one test's controller.
pub const SHARD_LABEL: &str = "driftless.test/shard";

/// How long any wait on the cluster may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(90);

/// Installs the Kustomization, source and HelmRelease CRDs (shared, never deleted).
pub async fn install_crds(client: &kube::Client) -> anyhow::Result<()> {
    let wanted = [
        "kustomizations.kustomize.toolkit.fluxcd.io",
        "gitrepositories.source.toolkit.fluxcd.io",
        "ocirepositories.source.toolkit.fluxcd.io",
        "buckets.source.toolkit.fluxcd.io",
        "externalartifacts.source.toolkit.fluxcd.io",
        // dependsOn may name a HelmRelease.
        "helmreleases.helm.toolkit.fluxcd.io",
    ];
    for crd in driftless_api::crds()
        .into_iter()
        .filter(|c| wanted.contains(&c.metadata.name.as_deref().unwrap_or_default()))
    {
        testkit::install_crd(client, &crd, "driftless-kustomize-controller-tests").await?;
    }
    Ok(())
}

/// Plays source-controller: serves artifacts from a temp dir and publishes them in the status
/// of a GitRepository nobody else reconciles.
pub struct Source {
    storage: tempfile::TempDir,
    port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The GitRepository's namespace.
    pub namespace: String,
    /// The GitRepository's name.
    pub name: String,
    /// The source kind (`GitRepository`, `ExternalArtifact`…).
    pub kind: String,
    revision: u32,
}

impl Source {
    /// Starts the artifact server and creates the GitRepository `name` in `namespace`.
    pub async fn start(client: &kube::Client, namespace: &str, name: &str) -> anyhow::Result<Self> {
        Self::start_kind(client, namespace, name, "GitRepository").await
    }

    /// [`Source::start`] for another source kind (its spec left minimal: nobody reconciles it).
    pub async fn start_kind(
        client: &kube::Client,
        namespace: &str,
        name: &str,
        kind: &str,
    ) -> anyhow::Result<Self> {
        let storage = tempfile::Builder::new().prefix("artifacts-").tempdir()?;
        let spec = match kind {
            "GitRepository" => {
                json!({"url": "https://example.invalid/fleet", "interval": "1h", "suspend": true})
            }
            "OCIRepository" => {
                json!({"url": "oci://example.invalid/fleet", "interval": "1h", "suspend": true})
            }
            "Bucket" => json!({
                "bucketName": "fleet", "endpoint": "example.invalid", "interval": "1h", "suspend": true
            }),
            _ => json!({}),
        };
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": kind,
            "metadata": {"name": name},
            "spec": spec,
        }))?;
        source_api(client, namespace, kind)
            .create(&PostParams::default(), &object)
            .await?;
        let mut source = Self {
            storage,
            port: 0,
            shutdown: None,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            kind: kind.to_owned(),
            revision: 0,
        };
        source.serve().await?;
        Ok(source)
    }

    /// (Re)starts the artifact server on a fresh loopback port; later revisions use it.
    pub async fn serve(&mut self) -> anyhow::Result<()> {
        self.stop_serving();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        self.port = listener.local_addr()?.port();
        let store = driftless_artifact::Storage::new(
            self.storage.path(),
            format!("127.0.0.1:{}", self.port),
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(driftless_artifact::serve(
            listener,
            driftless_artifact::router(&store),
            async move {
                let _ = rx.await;
            },
        ));
        self.shutdown = Some(tx);
        Ok(())
    }

    /// Packs `files` (path, content) as a new revision and publishes it; returns the revision.
    pub async fn publish(
        &mut self,
        client: &kube::Client,
        files: &[(&str, &str)],
    ) -> anyhow::Result<String> {
        self.revision += 1;
        let tree = tempfile::tempdir()?;
        for (path, content) in files {
            let path = tree.path().join(path);
            std::fs::create_dir_all(path.parent().context("file has a parent")?)?;
            std::fs::write(path, content)?;
        }
        let rules = driftless_artifact::IgnoreRules::for_source(tree.path(), None)?;
        let bytes = driftless_artifact::write_tar_gz(tree.path(), &rules, Vec::new())?;
        let digest = sha256(&bytes);
        let file = format!("{}.tar.gz", self.revision);
        let rel = format!(
            "{}/{}/{}/{file}",
            self.kind.to_lowercase(),
            self.namespace,
            self.name
        );
        let path = self.storage.path().join(&rel);
        std::fs::create_dir_all(path.parent().context("artifact has a parent")?)?;
        std::fs::write(&path, &bytes)?;
        let revision = format!("main@sha1:{:040x}", self.revision);
        let status = json!({"status": {"artifact": {
            "digest": digest,
            "lastUpdateTime": "2026-01-01T00:00:00Z",
            "path": rel,
            "revision": revision,
            "size": bytes.len(),
            "url": format!("http://127.0.0.1:{}/{rel}", self.port),
        }}});
        source_api(client, &self.namespace, &self.kind)
            .patch_status(&self.name, &PatchParams::default(), &Patch::Merge(status))
            .await?;
        Ok(revision)
    }

    /// Stops serving artifacts (the artifact server is "down").
    pub fn stop_serving(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        self.stop_serving();
    }
}

fn source_api(client: &kube::Client, namespace: &str, kind: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "source.toolkit.fluxcd.io",
        "v1",
        kind,
    ));
    Api::namespaced_with(client.clone(), namespace, &resource)
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: driftless_kustomize_controller::Args,
}

/// A kustomize-controller running on a tokio task for one test.
pub struct RunningController {
    /// The shard label value objects of this test carry.
    pub shard: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), driftless_kustomize_controller::RunError>>>,
}

impl RunningController {
    /// Starts a controller that only sees Kustomizations labelled `SHARD_LABEL=<shard>`.
    pub async fn start(cluster: &TestCluster, shard: &str, extra: &[&str]) -> anyhow::Result<Self> {
        let argv = [
            "kustomize-controller".to_owned(),
            "--metrics-addr=0".to_owned(),
            "--health-addr=0".to_owned(),
            format!("--watch-label-selector={SHARD_LABEL}={shard}"),
            "--min-retry-delay=100ms".to_owned(),
            "--max-retry-delay=2s".to_owned(),
            "--requeue-dependency=5s".to_owned(),
            "--http-retry=1".to_owned(),
        ];
        let flag_name = |arg: &str| arg.split('=').next().unwrap_or_default().to_owned();
        let overridden: Vec<String> = extra.iter().map(|a| flag_name(a)).collect();
        let argv = argv
            .into_iter()
            .filter(|a| !overridden.contains(&flag_name(a)))
            .chain(extra.iter().map(|a| (*a).to_owned()));
        let args = Cli::try_parse_from(argv)?.args;
        let config = cluster.plane.config().await?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(driftless_kustomize_controller::run(
            args,
            config,
            async move {
                let _ = rx.await;
            },
        ));
        Ok(Self {
            shard: shard.to_owned(),
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Kills the controller where it is (no graceful shutdown), as a crash or OOM kill would.
    pub fn abort(&mut self) {
        self.shutdown.take();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Signals shutdown and waits for the controller to stop.
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

/// A Kustomization in `shard` applying `path` of `source`, with `spec` merged in.
pub fn kustomization(name: &str, shard: &str, source: &Source, spec: Value) -> Kustomization {
    let mut base = json!({
        "interval": "10m",
        "path": "./",
        "prune": true,
        "sourceRef": {"kind": source.kind, "name": source.name},
    });
    if let (Some(base), Some(extra)) = (base.as_object_mut(), spec.as_object()) {
        base.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "labels": {SHARD_LABEL: shard}},
        "spec": base,
    }))
    .expect("a valid Kustomization")
}

/// The condition `type_` of `ks`.
pub fn condition<'a>(ks: &'a Kustomization, type_: &str) -> Option<&'a Condition> {
    ks.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == type_))
}

/// Waits until `check` accepts the Kustomization, and returns it.
pub async fn wait_for(
    api: &Api<Kustomization>,
    name: &str,
    what: &str,
    check: impl Fn(&Kustomization) -> bool,
) -> anyhow::Result<Kustomization> {
    testkit::wait::object(api, name, WAIT, what, check).await
}

/// Waits for Ready=True having applied `revision`.
pub async fn wait_applied(
    api: &Api<Kustomization>,
    name: &str,
    revision: &str,
) -> anyhow::Result<Kustomization> {
    wait_for(api, name, &format!("{name} applied {revision}"), |ks| {
        condition(ks, "Ready").is_some_and(|c| c.status == "True")
            && ks
                .status
                .as_ref()
                .and_then(|s| s.last_applied_revision.as_deref())
                == Some(revision)
    })
    .await
}

/// Waits for Ready=False with `reason`.
pub async fn wait_failing(
    api: &Api<Kustomization>,
    name: &str,
    reason: &str,
) -> anyhow::Result<Kustomization> {
    wait_for(api, name, &format!("{name} Ready=False {reason}"), |ks| {
        condition(ks, "Ready").is_some_and(|c| c.status == "False" && c.reason == reason)
    })
    .await
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// A ConfigMap manifest.
pub fn config_map(name: &str, data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{data}\"\n"
    )
}

/// One test's world: a namespace, a source, a controller on the test's shard.
pub struct Fixture {
    pub cluster: testkit::TestCluster,
    pub ns: TestNamespace,
    pub source: Source,
    pub controller: RunningController,
    pub api: Api<Kustomization>,
    pub config_maps: Api<ConfigMap>,
}

/// Starts a [`Fixture`] whose controller gets `extra` flags.
pub async fn fixture(shard: &str, extra: &[&str]) -> anyhow::Result<Fixture> {
    fixture_with_source(shard, extra, "GitRepository").await
}

/// [`fixture`] whose source is of `kind`.
pub async fn fixture_with_source(
    shard: &str,
    extra: &[&str],
    kind: &str,
) -> anyhow::Result<Fixture> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, shard).await?;
    let source = Source::start_kind(&cluster.client, ns.name(), "fleet", kind).await?;
    let controller = RunningController::start(&cluster, shard, extra).await?;
    let api = Api::namespaced(cluster.client.clone(), ns.name());
    let config_maps = Api::namespaced(cluster.client.clone(), ns.name());
    Ok(Fixture {
        cluster,
        ns,
        source,
        controller,
        api,
        config_maps,
    })
}

impl Fixture {
    /// Creates Kustomization `name` in the fixture's namespace with `spec` merged in.
    pub async fn create(&self, name: &str, spec: serde_json::Value) -> anyhow::Result<()> {
        let mut ks = kustomization(name, &self.controller.shard, &self.source, spec);
        ks.metadata.namespace = Some(self.ns.name().to_owned());
        self.api.create(&PostParams::default(), &ks).await?;
        Ok(())
    }

    /// Deletes the Kustomizations while the controller still runs (their finalizers would
    /// otherwise keep the namespace terminating), then stops it; the namespace goes on drop.
    pub async fn finish(self) -> anyhow::Result<()> {
        self.api
            .delete_collection(&DeleteParams::default(), &Default::default())
            .await?;
        testkit::wait::until(WAIT, "every Kustomization is finalized", || async {
            let left = self
                .api
                .list(&Default::default())
                .await
                .map_err(|e| e.to_string())?;
            Ok(left.items.is_empty().then_some(()))
        })
        .await
        .map_err(anyhow::Error::msg)?;
        self.controller.stop().await
    }
}
