//! Helpers for the integration tests: the CRDs installed idempotently; source-controller and
//! helm-controller run in-process on one label shard per test (so parallel test binaries do not
//! take each other's objects), against a loopback Helm repository; HelmRelease objects and
//! waits on their status; the pinned `helm` binary pointed at the local control plane.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use driftless_api::helm::HelmRelease;
use driftless_api::source::HelmRepository;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use testkit::TestCluster;
use testkit::helm_repo::HelmRepoServer;

/// Label that shards objects to one test's controllers.
pub const SHARD_LABEL: &str = "driftless.test/shard";

/// How long any wait on the cluster may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(120);

/// The test chart: a ConfigMap greeting with the values, an invalid object when `broken` is
/// set (the API server refuses it, so the Helm action fails), and a Deployment of `replicas`
/// when `deployment` is set.
pub fn chart_files(app_version: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "values.yaml",
            "greeting: hello\nbroken: false\nwithTest: false\ndeployment: false\nreplicas: 1\n",
        ),
        (
            "templates/deploy.yaml",
            "{{- if .Values.deployment }}\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-app\nspec:\n  replicas: {{ .Values.replicas }}\n  selector:\n    matchLabels:\n      app: {{ .Release.Name }}-app\n  template:\n    metadata:\n      labels:\n        app: {{ .Release.Name }}-app\n    spec:\n      containers:\n        - name: app\n          image: nginx:1.25\n{{- end }}\n",
        ),
        (
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  appVersion: {{ .Chart.AppVersion | quote }}\n  revision: {{ .Release.Revision | quote }}\n  upgrade: {{ .Release.IsUpgrade | quote }}\n",
        ),
        (
            "templates/broken.yaml",
            "{{- if .Values.broken }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_A_Valid_Name\ndata: {}\n{{- end }}\n",
        ),
        (
            "templates/test.yaml",
            "{{- if .Values.withTest }}\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ .Release.Name }}-test\n  annotations:\n    helm.sh/hook: test\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: t\n          image: busybox\n{{- end }}\n",
        ),
        (
            "values.schema.json",
            "{\"type\": \"object\", \"properties\": {\"greeting\": {\"type\": \"string\"}}}",
        ),
        ("Chart.yaml", app_version),
    ]
}

/// `Chart.yaml` of version `0.1.0` of the test chart.
pub const CHART_V1: &str = "apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: \"1.0.0\"\n";
/// `Chart.yaml` of version `0.2.0` of the test chart.
pub const CHART_V2: &str = "apiVersion: v2\nname: demo\nversion: 0.2.0\nappVersion: \"2.0.0\"\n";

/// Installs the HelmRelease and Helm source CRDs (shared, never deleted).
pub async fn install_crds(client: &kube::Client) -> anyhow::Result<()> {
    let wanted = [
        "helmreleases.helm.toolkit.fluxcd.io",
        "helmrepositories.source.toolkit.fluxcd.io",
        "helmcharts.source.toolkit.fluxcd.io",
        "ocirepositories.source.toolkit.fluxcd.io",
        // source-controller watches every source kind.
        "gitrepositories.source.toolkit.fluxcd.io",
        "buckets.source.toolkit.fluxcd.io",
        "externalartifacts.source.toolkit.fluxcd.io",
    ];
    for crd in driftless_api::crds()
        .into_iter()
        .filter(|c| wanted.contains(&c.metadata.name.as_deref().unwrap_or_default()))
    {
        testkit::install_crd(client, &crd, "driftless-helm-controller-tests").await?;
    }
    Ok(())
}

#[derive(Debug, Parser)]
struct SourceCli {
    #[command(flatten)]
    args: driftless_source_controller::Args,
}

#[derive(Debug, Parser)]
struct HelmCli {
    #[command(flatten)]
    args: driftless_helm_controller::Args,
}

type Task<E> = tokio::task::JoinHandle<Result<(), E>>;

/// source-controller and helm-controller on tokio tasks for one test, with a loopback Helm
/// repository holding the test chart.
pub struct Controllers {
    /// The shard label value objects of this test carry.
    pub shard: String,
    /// The Helm repository.
    pub repo: HelmRepoServer,
    storage: tempfile::TempDir,
    shutdown: Vec<tokio::sync::oneshot::Sender<()>>,
    source: Option<Task<driftless_source_controller::RunError>>,
    helm: Option<Task<driftless_helm_controller::RunError>>,
}

impl Controllers {
    /// Starts both controllers on `shard`, serving version 0.1.0 of the test chart, and creates
    /// the HelmRepository `charts` in `namespace`.
    pub async fn start(
        cluster: &TestCluster,
        namespace: &str,
        shard: &str,
    ) -> anyhow::Result<Self> {
        Self::start_with(cluster, namespace, shard, &[]).await
    }

    /// [`Controllers::start`] with `extra` helm-controller flags.
    pub async fn start_with(
        cluster: &TestCluster,
        namespace: &str,
        shard: &str,
        extra: &[&str],
    ) -> anyhow::Result<Self> {
        let repo = HelmRepoServer::start(None).await?;
        let mut files = chart_files(CHART_V1);
        files.retain(|(p, _)| *p != "Chart.yaml");
        files.push(("Chart.yaml", CHART_V1));
        repo.add_chart("demo", "0.1.0", &files)?;
        let storage = tempfile::Builder::new().prefix("helm-sc-").tempdir()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let selector = format!("--watch-label-selector={SHARD_LABEL}={shard}");
        let source_args = SourceCli::try_parse_from([
            "source-controller".to_owned(),
            format!("--storage-path={}", storage.path().display()),
            "--storage-addr=127.0.0.1:0".to_owned(),
            format!("--storage-adv-addr=127.0.0.1:{port}"),
            "--metrics-addr=0".to_owned(),
            "--health-addr=0".to_owned(),
            selector.clone(),
            "--min-retry-delay=100ms".to_owned(),
            "--max-retry-delay=2s".to_owned(),
            "--artifact-retention-ttl=0s".to_owned(),
        ])?
        .args;
        let helm_args = HelmCli::try_parse_from(
            [
                "helm-controller".to_owned(),
                "--metrics-addr=0".to_owned(),
                "--health-addr=0".to_owned(),
                selector,
                "--min-retry-delay=200ms".to_owned(),
                "--max-retry-delay=2s".to_owned(),
                "--requeue-dependency=2s".to_owned(),
                "--http-retry=1".to_owned(),
            ]
            .into_iter()
            .chain(extra.iter().map(|a| (*a).to_owned())),
        )?
        .args;
        let (source_tx, source_rx) = tokio::sync::oneshot::channel::<()>();
        let source = tokio::spawn(driftless_source_controller::run(
            source_args,
            cluster.client.clone(),
            listener,
            async move {
                let _ = source_rx.await;
            },
        ));
        let config = cluster.plane.config().await?;
        let (helm_tx, helm_rx) = tokio::sync::oneshot::channel::<()>();
        let helm = tokio::spawn(driftless_helm_controller::run(
            helm_args,
            config,
            async move {
                let _ = helm_rx.await;
            },
        ));
        let repos: Api<HelmRepository> = Api::namespaced(cluster.client.clone(), namespace);
        let object: HelmRepository = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "charts", "labels": {SHARD_LABEL: shard}},
            "spec": {"url": repo.url(), "interval": "1h"},
        }))?;
        repos.create(&PostParams::default(), &object).await?;
        Ok(Self {
            shard: shard.to_owned(),
            repo,
            storage,
            shutdown: vec![source_tx, helm_tx],
            source: Some(source),
            helm: Some(helm),
        })
    }

    /// Publishes version 0.2.0 of the test chart.
    pub fn publish_v2(&self) -> anyhow::Result<()> {
        let mut files = chart_files(CHART_V2);
        files.retain(|(p, _)| *p != "Chart.yaml");
        files.push(("Chart.yaml", CHART_V2));
        self.repo.add_chart("demo", "0.2.0", &files)?;
        Ok(())
    }

    /// Signals shutdown and waits for both controllers to stop.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        for tx in self.shutdown.drain(..) {
            let _ = tx.send(());
        }
        if let Some(task) = self.helm.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .context("helm-controller stops on the shutdown signal")???;
        }
        if let Some(task) = self.source.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .context("source-controller stops on the shutdown signal")???;
        }
        Ok(())
    }
}

/// A HelmRelease `name` in `shard` of chart `demo` from the `charts` repository, with `spec`
/// merged in.
pub fn helm_release(name: &str, shard: &str, spec: Value) -> HelmRelease {
    let mut base = json!({
        "interval": "10m",
        "chart": {
            "metadata": {"labels": {SHARD_LABEL: shard}},
            "spec": {
                "chart": "demo",
                "version": "*",
                "interval": "1m",
                "sourceRef": {"kind": "HelmRepository", "name": "charts"},
            },
        },
    });
    if let (Some(base), Some(extra)) = (base.as_object_mut(), spec.as_object()) {
        base.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "labels": {SHARD_LABEL: shard}},
        "spec": base,
    }))
    .expect("a valid HelmRelease")
}

/// The condition `type_` of `hr`.
pub fn condition<'a>(hr: &'a HelmRelease, type_: &str) -> Option<&'a Condition> {
    hr.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == type_))
}

/// Waits until `check` accepts the HelmRelease, and returns it.
pub async fn wait_for(
    api: &Api<HelmRelease>,
    name: &str,
    what: &str,
    check: impl Fn(&HelmRelease) -> bool,
) -> anyhow::Result<HelmRelease> {
    match testkit::wait::object(api, name, WAIT, what, check).await {
        Ok(hr) => Ok(hr),
        Err(e) => {
            // The chart sources' status is what usually explains a release that never came.
            let namespace = api
                .get(name)
                .await
                .ok()
                .and_then(|hr| hr.metadata.namespace);
            let client = api.clone().into_client();
            let mut sources = String::new();
            if let Some(ns) = namespace {
                let charts: Api<driftless_api::source::HelmChart> =
                    Api::namespaced(client.clone(), &ns);
                let repos: Api<HelmRepository> = Api::namespaced(client, &ns);
                if let Ok(list) = charts.list(&Default::default()).await {
                    for c in list {
                        sources.push_str(&format!(
                            "HelmChart {:?} gen {:?}: {}\n",
                            c.metadata.name,
                            c.metadata.generation,
                            serde_json::to_string(&c.status).unwrap_or_default()
                        ));
                    }
                }
                if let Ok(list) = repos.list(&Default::default()).await {
                    for r in list {
                        sources.push_str(&format!(
                            "HelmRepository {:?}: {}\n",
                            r.metadata.name,
                            serde_json::to_string(&r.status).unwrap_or_default()
                        ));
                    }
                }
            }
            Err(e.context(sources))
        }
    }
}

/// Waits for Ready=True at Helm revision `version` (the newest history entry).
pub async fn wait_released(
    api: &Api<HelmRelease>,
    name: &str,
    version: i64,
) -> anyhow::Result<HelmRelease> {
    wait_for(
        api,
        name,
        &format!("{name} Ready at revision {version}"),
        |hr| {
            condition(hr, "Ready").is_some_and(|c| c.status == "True")
                && latest_version(hr) == Some(version)
        },
    )
    .await
}

/// Waits for Ready=False with `reason`.
pub async fn wait_failing(
    api: &Api<HelmRelease>,
    name: &str,
    reason: &str,
) -> anyhow::Result<HelmRelease> {
    wait_for(api, name, &format!("{name} Ready=False {reason}"), |hr| {
        condition(hr, "Ready").is_some_and(|c| c.status == "False" && c.reason == reason)
    })
    .await
}

/// The Helm revision of the newest history entry.
pub fn latest_version(hr: &HelmRelease) -> Option<i64> {
    hr.status
        .as_ref()
        .and_then(|s| s.history.as_ref())
        .and_then(|h| h.first())
        .map(|s| s.version)
}

/// Merges `patch` into the HelmRelease.
pub async fn merge(api: &Api<HelmRelease>, name: &str, patch: Value) -> anyhow::Result<()> {
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    Ok(())
}

/// The `greeting` of ConfigMap `name`, when it exists.
pub async fn greeting(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> anyhow::Result<Option<String>> {
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), ns);
    Ok(cms
        .get_opt(name)
        .await?
        .and_then(|cm| cm.data.unwrap_or_default().get("greeting").cloned()))
}

/// The pinned `helm` binary run against the local control plane.
pub struct Helm {
    bin: PathBuf,
    kubeconfig: PathBuf,
    home: tempfile::TempDir,
}

impl Helm {
    /// The pinned helm (built once into the tools cache).
    pub fn new(cluster: &TestCluster) -> anyhow::Result<Helm> {
        let tool = testkit::gotools::pinned_tool("helm").context("helm is pinned")?;
        let bin = tool.ensure(&testkit::Cache::from_env())?.path("helm");
        Ok(Helm {
            bin,
            kubeconfig: cluster.plane.kubeconfig_path(),
            home: tempfile::tempdir()?,
        })
    }

    /// Runs helm with `args` and parses its JSON output.
    pub fn json(&self, args: &[&str]) -> anyhow::Result<Value> {
        let home = self.home.path();
        let out = Command::new(&self.bin)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "helm {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(serde_json::from_slice(&out.stdout)?)
    }
}

/// Runs kubectl (the one of the local control plane) with `args`.
pub fn kubectl(cluster: &TestCluster, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(cluster.plane.bin_dir().join("kubectl"))
        .env("KUBECONFIG", cluster.plane.kubeconfig_path())
        .args(args)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits until HelmRelease `name` is gone (its finalizer done).
pub async fn wait_gone(api: &Api<HelmRelease>, name: &str) -> anyhow::Result<()> {
    testkit::wait::until(WAIT, &format!("{name} to be deleted"), || async move {
        match api.get_opt(name).await {
            Ok(None) => Ok(Some(())),
            Ok(Some(hr)) => Err(serde_json::to_string(&hr.status).unwrap_or_default()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .map_err(anyhow::Error::msg)
}

/// One test's world: the cluster, a fresh namespace (also the shard), both controllers and
/// the HelmRelease API of the namespace.
pub struct Fixture {
    /// The shared control plane.
    pub cluster: TestCluster,
    /// The namespace name.
    pub ns: String,
    /// The controllers and the chart repository.
    pub controllers: Controllers,
    /// HelmReleases of the namespace.
    pub api: Api<HelmRelease>,
    _namespace: testkit::TestNamespace,
}

impl Fixture {
    /// CRDs installed, a namespace `<prefix>-…` created, controllers started.
    pub async fn start(prefix: &str) -> anyhow::Result<Self> {
        Self::start_with(prefix, &[]).await
    }

    /// [`Fixture::start`] with `extra` helm-controller flags.
    pub async fn start_with(prefix: &str, extra: &[&str]) -> anyhow::Result<Self> {
        let cluster = testkit::cluster().await?;
        install_crds(&cluster.client).await?;
        let namespace = testkit::TestNamespace::create(&cluster, prefix).await?;
        let ns = namespace.name().to_owned();
        let controllers = Controllers::start_with(&cluster, &ns, &ns, extra).await?;
        let api = Api::namespaced(cluster.client.clone(), &ns);
        Ok(Self {
            cluster,
            ns,
            controllers,
            api,
            _namespace: namespace,
        })
    }

    /// Creates HelmRelease `name` of the test chart with `spec` merged in.
    pub async fn create(&self, name: &str, spec: Value) -> anyhow::Result<()> {
        let hr = helm_release(name, &self.controllers.shard, spec);
        self.api.create(&PostParams::default(), &hr).await?;
        Ok(())
    }

    /// Asks the HelmRepository `charts` to index the repository again (after charts were
    /// added), with `token` as the request.
    pub async fn reindex_charts(&self, token: &str) -> anyhow::Result<()> {
        let repos: Api<HelmRepository> = Api::namespaced(self.cluster.client.clone(), &self.ns);
        let annotations = json!({"reconcile.fluxcd.io/requestedAt": token});
        repos
            .patch(
                "charts",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": annotations}})),
            )
            .await?;
        Ok(())
    }

    /// Deletes the HelmReleases `names` (their finalizers run while the controller is up),
    /// then stops the controllers.
    pub async fn finish(self, names: &[&str]) -> anyhow::Result<()> {
        for name in names {
            self.api
                .delete(name, &kube::api::DeleteParams::default())
                .await?;
            wait_gone(&self.api, name).await?;
        }
        self.controllers.stop().await
    }
}

/// `data[key]` of ConfigMap `name`.
pub async fn cm_value(
    client: &kube::Client,
    ns: &str,
    name: &str,
    key: &str,
) -> anyhow::Result<Option<String>> {
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), ns);
    Ok(cms
        .get_opt(name)
        .await?
        .and_then(|cm| cm.data.unwrap_or_default().get(key).cloned()))
}
