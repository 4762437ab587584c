//! Helpers for the integration tests: the image CRDs installed idempotently, the controller run
//! in-process on its own label shard with its own tag store, a loopback registry, and builders
//! and waits for ImageRepositories and ImagePolicies.

#![allow(dead_code)]

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use driftless_api::image::{ImagePolicy, ImageRepository};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use testkit::oci_registry::{OciRegistry, RegistryAuth};
use testkit::{TestCluster, TestNamespace};

/// Label that shards objects to one test's controller.
pub const SHARD_LABEL: &str = "driftless.test/shard";

/// How long any wait on the cluster may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(60);

/// Installs the ImageRepository and ImagePolicy CRDs (shared, never deleted).
pub async fn install_crds(client: &kube::Client) -> anyhow::Result<()> {
    let wanted = [
        "imagerepositories.image.toolkit.fluxcd.io",
        "imagepolicies.image.toolkit.fluxcd.io",
    ];
    for crd in driftless_api::crds()
        .into_iter()
        .filter(|c| wanted.contains(&c.metadata.name.as_deref().unwrap_or_default()))
    {
        testkit::install_crd(client, &crd, "driftless-image-reflector-controller-tests").await?;
    }
    Ok(())
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: driftless_image_reflector_controller::Args,
}

/// An image-reflector-controller running on a tokio task for one test.
pub struct RunningController {
    /// The shard label value objects of this test carry.
    pub shard: String,
    /// The controller's `--storage-path`.
    pub storage: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task:
        Option<tokio::task::JoinHandle<Result<(), driftless_image_reflector_controller::RunError>>>,
}

impl RunningController {
    /// Starts a controller that only sees objects labelled `SHARD_LABEL=<shard>`.
    pub async fn start(cluster: &TestCluster, shard: &str, extra: &[&str]) -> anyhow::Result<Self> {
        let storage = tempfile::Builder::new().prefix("image-tags-").tempdir()?;
        Self::start_with_storage(cluster, shard, extra, storage).await
    }

    /// [`RunningController::start`] on an existing `--storage-path`.
    pub async fn start_with_storage(
        cluster: &TestCluster,
        shard: &str,
        extra: &[&str],
        storage: tempfile::TempDir,
    ) -> anyhow::Result<Self> {
        let argv = [
            "image-reflector-controller".to_owned(),
            "--metrics-addr=0".to_owned(),
            "--health-addr=0".to_owned(),
            format!("--watch-label-selector={SHARD_LABEL}={shard}"),
            "--min-retry-delay=100ms".to_owned(),
            "--max-retry-delay=2s".to_owned(),
            "--requeue-dependency=2s".to_owned(),
            format!("--storage-path={}", storage.path().display()),
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
        let task = tokio::spawn(driftless_image_reflector_controller::run(
            args,
            config,
            async move {
                let _ = rx.await;
            },
        ));
        Ok(Self {
            shard: shard.to_owned(),
            storage,
            shutdown: Some(tx),
            task: Some(task),
        })
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

/// A namespace, a registry, a controller and the APIs of one test.
pub struct Fixture {
    pub cluster: TestCluster,
    pub ns: TestNamespace,
    pub registry: OciRegistry,
    pub controller: RunningController,
    pub repos: Api<ImageRepository>,
    pub policies: Api<ImagePolicy>,
    pub secrets: Api<Secret>,
}

/// Starts a [`Fixture`] whose registry demands `auth`.
pub async fn fixture(shard: &str, auth: RegistryAuth) -> anyhow::Result<Fixture> {
    fixture_with(shard, auth, &[]).await
}

/// [`fixture`] whose controller gets `extra` flags.
pub async fn fixture_with(
    shard: &str,
    auth: RegistryAuth,
    extra: &[&str],
) -> anyhow::Result<Fixture> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, shard).await?;
    let registry = OciRegistry::start(auth).await?;
    let controller = RunningController::start(&cluster, shard, extra).await?;
    let repos = Api::namespaced(cluster.client.clone(), ns.name());
    let policies = Api::namespaced(cluster.client.clone(), ns.name());
    let secrets = Api::namespaced(cluster.client.clone(), ns.name());
    Ok(Fixture {
        cluster,
        ns,
        registry,
        controller,
        repos,
        policies,
        secrets,
    })
}

impl Fixture {
    /// `<registry host>/<repo>`.
    pub fn image(&self, repo: &str) -> String {
        format!("{}/{repo}", self.registry.host())
    }

    fn labelled(&self, name: &str, spec: Value) -> Value {
        self.labelled_in(self.ns.name(), name, spec)
    }

    fn labelled_in(&self, namespace: &str, name: &str, spec: Value) -> Value {
        json!({
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {SHARD_LABEL: self.controller.shard},
            },
            "spec": spec,
        })
    }

    /// Creates ImageRepository `name` with `spec` (apiVersion and kind added).
    pub async fn create_repository(&self, name: &str, spec: Value) -> anyhow::Result<()> {
        self.create_repository_in(self.ns.name(), name, spec).await
    }

    /// Creates ImageRepository `name` in `namespace` with `spec`.
    pub async fn create_repository_in(
        &self,
        namespace: &str,
        name: &str,
        spec: Value,
    ) -> anyhow::Result<()> {
        let mut body = self.labelled_in(namespace, name, spec);
        body["apiVersion"] = json!("image.toolkit.fluxcd.io/v1");
        body["kind"] = json!("ImageRepository");
        let repo: ImageRepository = serde_json::from_value(body)?;
        let api: Api<ImageRepository> = Api::namespaced(self.cluster.client.clone(), namespace);
        api.create(&PostParams::default(), &repo).await?;
        Ok(())
    }

    /// Creates ImagePolicy `name` with `spec`.
    pub async fn create_policy(&self, name: &str, spec: Value) -> anyhow::Result<()> {
        let mut body = self.labelled(name, spec);
        body["apiVersion"] = json!("image.toolkit.fluxcd.io/v1");
        body["kind"] = json!("ImagePolicy");
        let policy: ImagePolicy = serde_json::from_value(body)?;
        self.policies
            .create(&PostParams::default(), &policy)
            .await?;
        Ok(())
    }

    /// Creates a `kubernetes.io/dockerconfigjson` Secret for this registry.
    pub async fn create_pull_secret(
        &self,
        name: &str,
        username: &str,
        password: &str,
    ) -> anyhow::Result<()> {
        let config =
            json!({"auths": {self.registry.host(): {"username": username, "password": password}}});
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": self.ns.name()},
            "type": "kubernetes.io/dockerconfigjson",
            "stringData": {".dockerconfigjson": config.to_string()},
        }))?;
        self.secrets.create(&PostParams::default(), &secret).await?;
        Ok(())
    }

    /// Asks for a reconcile of ImageRepository `name` now, as `flux reconcile` does.
    pub async fn request_scan(&self, name: &str) -> anyhow::Result<()> {
        let stamp = jiff::Timestamp::now().to_string();
        let patch =
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": stamp}}});
        self.repos
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// Waits for ImageRepository `name` to satisfy `check`.
    pub async fn wait_repository(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&ImageRepository) -> bool,
    ) -> anyhow::Result<ImageRepository> {
        testkit::wait::object(&self.repos, name, WAIT, what, check).await
    }

    /// Waits for ImagePolicy `name` to satisfy `check`.
    pub async fn wait_policy(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&ImagePolicy) -> bool,
    ) -> anyhow::Result<ImagePolicy> {
        testkit::wait::object(&self.policies, name, WAIT, what, check).await
    }

    /// Deletes the objects while the controller still runs (their finalizers would otherwise
    /// keep the namespace terminating), then stops it; the namespace goes on drop.
    pub async fn finish(self) -> anyhow::Result<()> {
        self.policies
            .delete_collection(&DeleteParams::default(), &Default::default())
            .await?;
        self.repos
            .delete_collection(&DeleteParams::default(), &Default::default())
            .await?;
        let (repos, policies) = (&self.repos, &self.policies);
        testkit::wait::until(WAIT, "every image object is finalized", || async move {
            let left = repos
                .list(&Default::default())
                .await
                .map_err(|e| e.to_string())?;
            let pols = policies
                .list(&Default::default())
                .await
                .map_err(|e| e.to_string())?;
            Ok((left.items.is_empty() && pols.items.is_empty()).then_some(()))
        })
        .await
        .map_err(anyhow::Error::msg)?;
        self.controller.stop().await
    }
}

/// Condition lookups on the image kinds' statuses.
pub trait Conditions {
    /// `status.conditions`.
    fn conditions(&self) -> Option<&Vec<Condition>>;

    /// The condition `type_`, if set.
    fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions()
            .and_then(|c| c.iter().find(|c| c.type_ == type_))
    }

    /// The Ready condition; the test fails without one.
    fn ready(&self) -> Condition {
        self.condition("Ready").cloned().expect("Ready is set")
    }

    /// Whether `type_` has status `status`.
    fn is(&self, type_: &str, status: &str) -> bool {
        self.condition(type_).is_some_and(|c| c.status == status)
    }
}

impl Conditions for ImageRepository {
    fn conditions(&self) -> Option<&Vec<Condition>> {
        self.status.as_ref().and_then(|s| s.conditions.as_ref())
    }
}

impl Conditions for ImagePolicy {
    fn conditions(&self) -> Option<&Vec<Condition>> {
        self.status.as_ref().and_then(|s| s.conditions.as_ref())
    }
}

/// The latest tag of a policy, if resolved.
pub fn latest_tag(policy: &ImagePolicy) -> Option<&str> {
    policy
        .status
        .as_ref()
        .and_then(|s| s.latest_ref.as_ref())
        .map(|r| r.tag.as_str())
}

/// The tag count of a repository's last scan, if it scanned.
pub fn scanned_count(repo: &ImageRepository) -> Option<i64> {
    repo.status
        .as_ref()
        .and_then(|s| s.last_scan_result.as_ref())
        .map(|r| r.tag_count)
}
