//! Our release storage and actions against the local control plane, with the real `helm`
//! binary (pinned in crates/testkit/tools.toml) as the judge: it lists, shows the history,
//! prints the manifest and values of, and rolls back releases we made, and we read back what
//! it wrote, including a release it installed itself.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use driftless_helm::release::{
    self, Common, CrdPolicy, Install, KubeCluster, KubeSecrets, Rendered, Status, Storage,
    Uninstall, Upgrade,
};
use driftless_helm::{Chart, Options, Values};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::{Value, json};

const CHART_YAML: &str = "apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: \"1.16.0\"\n";
const VALUES_YAML: &str = "greeting: hello\n";
const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n  greeting: {{ .Values.greeting | quote }}\n";
const JOB_HOOK: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-hook
  annotations:
    helm.sh/hook: post-install,post-upgrade
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: c
          image: busybox
"#;

struct Helm {
    bin: PathBuf,
    kubeconfig: PathBuf,
    home: tempfile::TempDir,
}

impl Helm {
    fn new(kubeconfig: PathBuf) -> Helm {
        let tool = testkit::gotools::pinned_tool("helm").expect("helm is pinned");
        let bin = tool
            .ensure(&testkit::Cache::from_env())
            .expect("build helm")
            .path("helm");
        Helm {
            bin,
            kubeconfig,
            home: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn run(&self, args: &[&str]) -> String {
        let home = self.home.path();
        let out = Command::new(&self.bin)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .output()
            .expect("run helm");
        assert!(
            out.status.success(),
            "helm {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.run(args)).expect("helm prints JSON")
    }
}

fn write_chart(dir: &Path, with_hook: bool) -> PathBuf {
    let root = dir.join("demo");
    std::fs::create_dir_all(root.join("templates")).expect("mkdir");
    std::fs::write(root.join("Chart.yaml"), CHART_YAML).expect("write");
    std::fs::write(root.join("values.yaml"), VALUES_YAML).expect("write");
    std::fs::write(root.join("templates/cm.yaml"), CM).expect("write");
    if with_hook {
        std::fs::write(root.join("templates/hook.yaml"), JOB_HOOK).expect("write");
    }
    root
}

fn values(v: Value) -> Values {
    match v {
        Value::Object(m) => m,
        _ => Values::new(),
    }
}

fn render(chart: &Chart, name: &str, namespace: &str, user: &Values) -> Rendered {
    let opts = Options {
        release_name: name.into(),
        namespace: namespace.into(),
        ..Options::default()
    };
    let text = driftless_helm::template(chart.clone(), user.clone(), &opts).expect("renders");
    Rendered::from_template_output(&text).expect("parses")
}

fn common() -> Common {
    Common {
        timeout: Duration::from_secs(60),
        ..Common::default()
    }
}

async fn greeting(client: &kube::Client, ns: &str, name: &str) -> String {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    cms.get(name)
        .await
        .expect("configmap")
        .data
        .unwrap_or_default()
        .get("greeting")
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn helm_lists_shows_and_rolls_back_our_releases_and_we_read_its_rollback() {
    let cluster = testkit::cluster().await.expect("cluster");
    let ns = testkit::TestNamespace::create(&cluster, "helm-release")
        .await
        .expect("namespace");
    let ns = ns.name().to_string();
    let helm = Helm::new(cluster.plane.kubeconfig_path());
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = driftless_helm::load(&write_chart(dir.path(), true)).expect("loads");
    let storage = Storage::new(KubeSecrets::new(cluster.client.clone(), &ns));
    let kube = KubeCluster::new(cluster.client.clone());

    let v1 = values(json!({"greeting": "hello"}));
    let installed = release::install(
        &storage,
        &kube,
        Install {
            name: "demo".into(),
            namespace: ns.clone(),
            chart: &chart,
            values: v1.clone(),
            rendered: render(&chart, "demo", &ns, &v1),
            crds: CrdPolicy::Create,
            replace: false,
            labels: Default::default(),
            common: Common {
                wait: true,
                ..common()
            },
        },
    )
    .await
    .expect("installs");
    assert_eq!(installed.status(), Status::Deployed);
    let hook = &installed.hooks[0];
    assert_eq!(
        (hook.name.as_str(), hook.last_run.phase.as_str()),
        ("demo-hook", "Succeeded")
    );
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), &ns);
    assert!(
        jobs.get_opt("demo-hook").await.expect("get").is_some(),
        "before-hook-creation keeps the hook"
    );

    let list = helm.json(&["list", "-n", &ns, "-o", "json"]);
    assert_eq!(list[0]["name"], "demo");
    assert_eq!(list[0]["revision"], "1");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["chart"], "demo-0.1.0");
    assert_eq!(list[0]["app_version"], "1.16.0");

    let v2 = values(json!({"greeting": "hi"}));
    release::upgrade(
        &storage,
        &kube,
        Upgrade {
            name: "demo".into(),
            chart: &chart,
            values: v2.clone(),
            rendered: render(&chart, "demo", &ns, &v2),
            crds: CrdPolicy::Skip,
            labels: Default::default(),
            common: common(),
        },
    )
    .await
    .expect("upgrades");
    assert_eq!(greeting(&cluster.client, &ns, "demo-cfg").await, "hi");

    let history = helm.json(&["history", "demo", "-n", &ns, "-o", "json"]);
    let rows: Vec<(i64, String, String)> = history
        .as_array()
        .expect("array")
        .iter()
        .map(|h| {
            (
                h["revision"].as_i64().unwrap_or_default(),
                h["status"].as_str().unwrap_or_default().to_string(),
                h["description"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (1, "superseded".into(), "Install complete".into()),
            (2, "deployed".into(), "Upgrade complete".into())
        ]
    );
    let ours = storage.last("demo").await.expect("last").expect("stored");
    let manifest = helm.run(&["get", "manifest", "demo", "-n", &ns]);
    assert_eq!(manifest.trim_end(), ours.manifest.trim_end());
    assert_eq!(
        helm.json(&["get", "values", "demo", "-n", &ns, "-o", "json"]),
        json!({"greeting": "hi"})
    );

    helm.run(&[
        "rollback",
        "demo",
        "1",
        "-n",
        &ns,
        "--wait",
        "--timeout",
        "60s",
    ]);
    assert_eq!(greeting(&cluster.client, &ns, "demo-cfg").await, "hello");
    let back: Vec<(u32, Status)> = storage
        .history("demo")
        .await
        .expect("history")
        .iter()
        .map(|r| (r.version, r.status()))
        .collect();
    assert_eq!(
        back,
        vec![
            (1, Status::Superseded),
            (2, Status::Superseded),
            (3, Status::Deployed)
        ]
    );
    let rolled = storage
        .deployed("demo")
        .await
        .expect("deployed")
        .expect("one");
    assert_eq!(
        rolled.info.clone().unwrap_or_default().description,
        "Rollback to 1"
    );
    assert_eq!(rolled.config, Some(v1));
    assert_eq!(rolled.manifest, installed.manifest);

    // Our rollback, on top of helm's, as helm sees it.
    release::rollback(
        &storage,
        &kube,
        release::Rollback {
            name: "demo".into(),
            version: 2,
            common: common(),
        },
    )
    .await
    .expect("rolls back to 2");
    assert_eq!(greeting(&cluster.client, &ns, "demo-cfg").await, "hi");
    let history = helm.json(&["history", "demo", "-n", &ns, "-o", "json"]);
    let last = &history[3];
    assert_eq!(
        (&last["revision"], &last["status"], &last["description"]),
        (&json!(4), &json!("deployed"), &json!("Rollback to 2"))
    );
    assert_eq!(history[2]["status"], "superseded");
    assert_eq!(
        helm.json(&["get", "values", "demo", "-n", &ns, "-o", "json"]),
        json!({"greeting": "hi"})
    );

    release::uninstall(
        &storage,
        &kube,
        Uninstall {
            name: "demo".into(),
            keep_history: false,
            common: Common {
                wait: true,
                ..common()
            },
        },
    )
    .await
    .expect("uninstalls");
    assert_eq!(
        helm.json(&["list", "-n", &ns, "-a", "-o", "json"]),
        json!([])
    );
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
    assert!(cms.get_opt("demo-cfg").await.expect("get").is_none());
}

#[tokio::test]
async fn a_release_helm_installed_is_decoded_and_upgraded_by_us() {
    let cluster = testkit::cluster().await.expect("cluster");
    let ns = testkit::TestNamespace::create(&cluster, "helm-adopt")
        .await
        .expect("namespace");
    let ns = ns.name().to_string();
    let helm = Helm::new(cluster.plane.kubeconfig_path());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_chart(dir.path(), false);
    helm.run(&[
        "install",
        "theirs",
        path.to_str().expect("utf-8 path"),
        "-n",
        &ns,
        "--set",
        "greeting=hey",
        "--labels",
        "team=blue",
    ]);
    let storage = Storage::new(KubeSecrets::new(cluster.client.clone(), &ns));
    let theirs = storage.last("theirs").await.expect("last").expect("stored");
    assert_eq!((theirs.version, theirs.status()), (1, Status::Deployed));
    assert_eq!(theirs.chart_label(), "demo-0.1.0");
    assert_eq!(theirs.config, Some(values(json!({"greeting": "hey"}))));
    assert_eq!(theirs.labels.get("team").map(String::as_str), Some("blue"));
    assert!(theirs.manifest.contains("name: theirs-cfg"));
    let info = theirs.info.clone().unwrap_or_default();
    assert_eq!(info.description, "Install complete");

    let chart = driftless_helm::load(&path).expect("loads");
    let v = values(json!({"greeting": "ours"}));
    release::upgrade(
        &storage,
        &KubeCluster::new(cluster.client.clone()),
        Upgrade {
            name: "theirs".into(),
            chart: &chart,
            values: v.clone(),
            rendered: render(&chart, "theirs", &ns, &v),
            crds: CrdPolicy::Skip,
            labels: Default::default(),
            common: common(),
        },
    )
    .await
    .expect("upgrades a release helm made");
    assert_eq!(greeting(&cluster.client, &ns, "theirs-cfg").await, "ours");
    let history = helm.json(&["history", "theirs", "-n", &ns, "-o", "json"]);
    let statuses: Vec<&str> = history
        .as_array()
        .expect("array")
        .iter()
        .map(|h| h["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(statuses, vec!["superseded", "deployed"]);
    let list = helm.json(&["list", "-n", &ns, "-l", "team=blue", "-o", "json"]);
    assert_eq!(list[0]["revision"], "2", "custom labels carried over");
    let first = storage.get("theirs", 1).await.expect("revision 1");
    assert_eq!(
        first.info.clone().unwrap_or_default().first_deployed,
        info.first_deployed
    );

    // And back: helm upgrades on top of our revision.
    helm.run(&[
        "upgrade",
        "theirs",
        path.to_str().expect("utf-8 path"),
        "-n",
        &ns,
        "--set",
        "greeting=back",
    ]);
    assert_eq!(greeting(&cluster.client, &ns, "theirs-cfg").await, "back");
    let back: Vec<(u32, Status)> = storage
        .history("theirs")
        .await
        .expect("history")
        .iter()
        .map(|r| (r.version, r.status()))
        .collect();
    assert_eq!(
        back,
        vec![
            (1, Status::Superseded),
            (2, Status::Superseded),
            (3, Status::Deployed)
        ]
    );
}

#[tokio::test]
async fn an_object_another_release_owns_is_not_taken_over() {
    let cluster = testkit::cluster().await.expect("cluster");
    let ns = testkit::TestNamespace::create(&cluster, "helm-owner")
        .await
        .expect("namespace");
    let ns = ns.name().to_string();
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
    let foreign: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "demo-cfg"}, "data": {"greeting": "mine"}
    }))
    .expect("configmap");
    cms.create(&Default::default(), &foreign)
        .await
        .expect("create");
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = driftless_helm::load(&write_chart(dir.path(), false)).expect("loads");
    let storage = Storage::new(KubeSecrets::new(cluster.client.clone(), &ns));
    let v = Values::new();
    let err = release::install(
        &storage,
        &KubeCluster::new(cluster.client.clone()),
        Install {
            name: "demo".into(),
            namespace: ns.clone(),
            chart: &chart,
            values: v.clone(),
            rendered: render(&chart, "demo", &ns, &v),
            crds: CrdPolicy::Create,
            replace: false,
            labels: Default::default(),
            common: common(),
        },
    )
    .await
    .expect_err("refused");
    assert_eq!(
        err.to_string(),
        format!(
            "Unable to continue with install: ConfigMap \"demo-cfg\" in namespace \"{ns}\" exists and cannot be imported into the current release: invalid ownership metadata; label validation error: missing key \"app.kubernetes.io/managed-by\": must be set to \"Helm\"; annotation validation error: missing key \"meta.helm.sh/release-name\": must be set to \"demo\"; annotation validation error: missing key \"meta.helm.sh/release-namespace\": must be set to \"{ns}\""
        )
    );
    assert_eq!(greeting(&cluster.client, &ns, "demo-cfg").await, "mine");
    assert!(storage.history("demo").await.expect("history").is_empty());
}

fn crd(group: &str, description: &str) -> String {
    format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          description: {description}
          x-kubernetes-preserve-unknown-fields: true
"#
    )
}

async fn crd_description(client: &kube::Client, group: &str) -> String {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = crds.get(&format!("widgets.{group}")).await.expect("crd");
    crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .and_then(|s| s.description.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn crds_are_created_before_the_objects_that_need_them_and_replaced_only_under_create_replace()
{
    let cluster = testkit::cluster().await.expect("cluster");
    let ns = testkit::TestNamespace::create(&cluster, "helm-crds")
        .await
        .expect("namespace");
    let ns = ns.name().to_string();
    let group = format!("{ns}.example.com");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = write_chart(dir.path(), false);
    std::fs::create_dir_all(root.join("crds")).expect("mkdir");
    let widget = "apiVersion: {{ .Values.group }}/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 1\n";
    std::fs::write(root.join("templates/widget.yaml"), widget).expect("write");
    let storage = Storage::new(KubeSecrets::new(cluster.client.clone(), &ns));
    let kube = KubeCluster::new(cluster.client.clone());
    let v = values(json!({"group": group}));
    let render_crds = |description: &str| {
        std::fs::write(root.join("crds/widgets.yaml"), crd(&group, description)).expect("write");
        let chart = driftless_helm::load(&root).expect("loads");
        let opts = Options {
            release_name: "crds".into(),
            namespace: ns.clone(),
            include_crds: true,
            ..Options::default()
        };
        let text = driftless_helm::template(chart.clone(), v.clone(), &opts).expect("renders");
        (
            chart,
            Rendered::from_template_output(&text).expect("parses"),
        )
    };

    let (chart, rendered) = render_crds("first");
    assert_eq!(rendered.crds.len(), 1);
    let rel = release::install(
        &storage,
        &kube,
        Install {
            name: "crds".into(),
            namespace: ns.clone(),
            chart: &chart,
            values: v.clone(),
            rendered,
            crds: CrdPolicy::Create,
            replace: false,
            labels: Default::default(),
            common: common(),
        },
    )
    .await
    .expect("installs the CRD, then the Widget");
    assert!(
        !rel.manifest.contains("CustomResourceDefinition"),
        "CRDs stay out of the manifest"
    );
    assert_eq!(crd_description(&cluster.client, &group).await, "first");

    for (policy, description, expected) in [
        (CrdPolicy::Create, "second", "first"),
        (CrdPolicy::CreateReplace, "third", "third"),
    ] {
        let (chart, rendered) = render_crds(description);
        release::upgrade(
            &storage,
            &kube,
            Upgrade {
                name: "crds".into(),
                chart: &chart,
                values: v.clone(),
                rendered,
                crds: policy,
                labels: Default::default(),
                common: common(),
            },
        )
        .await
        .expect("upgrades");
        assert_eq!(
            crd_description(&cluster.client, &group).await,
            expected,
            "{policy:?}"
        );
    }

    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
    crds.delete(&format!("widgets.{group}"), &Default::default())
        .await
        .expect("cleanup");
}

#[tokio::test]
async fn a_release_stored_in_another_namespace_is_listed_there_with_its_own_namespace() {
    let cluster = testkit::cluster().await.expect("cluster");
    let target = testkit::TestNamespace::create(&cluster, "helm-target")
        .await
        .expect("namespace");
    let store = testkit::TestNamespace::create(&cluster, "helm-store")
        .await
        .expect("namespace");
    let (target, store) = (target.name().to_string(), store.name().to_string());
    let helm = Helm::new(cluster.plane.kubeconfig_path());
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = driftless_helm::load(&write_chart(dir.path(), false)).expect("loads");
    let storage = Storage::new(KubeSecrets::new(cluster.client.clone(), &store));
    let v = Values::new();
    release::install(
        &storage,
        &KubeCluster::new(cluster.client.clone()),
        Install {
            name: "split".into(),
            namespace: target.clone(),
            chart: &chart,
            values: v.clone(),
            rendered: render(&chart, "split", &target, &v),
            crds: CrdPolicy::Create,
            replace: false,
            labels: Default::default(),
            common: common(),
        },
    )
    .await
    .expect("installs");
    assert_eq!(
        greeting(&cluster.client, &target, "split-cfg").await,
        "hello"
    );
    let list = helm.json(&["list", "-n", &store, "-o", "json"]);
    assert_eq!(list[0]["name"], "split");
    assert_eq!(list[0]["namespace"], target.as_str());
    assert_eq!(helm.json(&["list", "-n", &target, "-o", "json"]), json!([]));
}

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      nodeSelector: {{ .Values.nodeSelector | toJson }}
      containers:
        - name: web
          image: nginx
"#;

#[tokio::test]
async fn wait_holds_the_release_until_ready_and_a_timeout_fails_the_upgrade() {
    let cluster = testkit::cluster().await.expect("cluster");
    let ns = testkit::TestNamespace::create(&cluster, "helm-wait")
        .await
        .expect("namespace");
    let ns = ns.name().to_string();
    let helm = Helm::new(cluster.plane.kubeconfig_path());
    let dir = tempfile::tempdir().expect("tempdir");
    let root = write_chart(dir.path(), false);
    std::fs::write(root.join("templates/web.yaml"), DEPLOYMENT).expect("write");
    let chart = driftless_helm::load(&root).expect("loads");
    let storage = Storage::new(KubeSecrets::new(cluster.client.clone(), &ns));
    let kube = KubeCluster::new(cluster.client.clone());
    let waiting = |secs| Common {
        wait: true,
        timeout: Duration::from_secs(secs),
        ..Common::default()
    };

    let v = values(json!({"nodeSelector": {}}));
    release::install(
        &storage,
        &kube,
        Install {
            name: "web".into(),
            namespace: ns.clone(),
            chart: &chart,
            values: v.clone(),
            rendered: render(&chart, "web", &ns, &v),
            crds: CrdPolicy::Create,
            replace: false,
            labels: Default::default(),
            common: waiting(90),
        },
    )
    .await
    .expect("installs once the Deployment is available");
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(cluster.client.clone(), &ns);
    let ready = deployments
        .get("web-web")
        .await
        .expect("deployment")
        .status
        .and_then(|s| s.ready_replicas)
        .unwrap_or_default();
    assert_eq!(ready, 1, "wait returned before the Deployment was ready");

    let v = values(json!({"nodeSelector": {"driftless.test/none": "x"}}));
    let err = release::upgrade(
        &storage,
        &kube,
        Upgrade {
            name: "web".into(),
            chart: &chart,
            values: v.clone(),
            rendered: render(&chart, "web", &ns, &v),
            crds: CrdPolicy::Skip,
            labels: Default::default(),
            common: waiting(5),
        },
    )
    .await
    .expect_err("an unschedulable rollout times out");
    assert!(err.to_string().contains("timeout waiting for"), "{err}");
    let history = helm.json(&["history", "web", "-n", &ns, "-o", "json"]);
    let rows: Vec<(&str, &str)> = history
        .as_array()
        .expect("array")
        .iter()
        .map(|h| {
            (
                h["status"].as_str().unwrap_or_default(),
                h["description"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(rows[0], ("deployed", "Install complete"));
    assert_eq!(rows[1].0, "failed");
    assert!(
        rows[1].1.starts_with("Upgrade \"web\" failed: "),
        "{}",
        rows[1].1
    );
}

#[tokio::test]
async fn a_hook_the_api_server_rejects_fails_the_install_and_helm_shows_why() {
    let cluster = testkit::cluster().await.expect("cluster");
    let ns = testkit::TestNamespace::create(&cluster, "helm-badhook")
        .await
        .expect("namespace");
    let ns = ns.name().to_string();
    let helm = Helm::new(cluster.plane.kubeconfig_path());
    let dir = tempfile::tempdir().expect("tempdir");
    let root = write_chart(dir.path(), false);
    let hook = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_A_Valid_Name\n  annotations:\n    helm.sh/hook: pre-install\n";
    std::fs::write(root.join("templates/hook.yaml"), hook).expect("write");
    let chart = driftless_helm::load(&root).expect("loads");
    let storage = Storage::new(KubeSecrets::new(cluster.client.clone(), &ns));
    let v = Values::new();
    let err = release::install(
        &storage,
        &KubeCluster::new(cluster.client.clone()),
        Install {
            name: "bad".into(),
            namespace: ns.clone(),
            chart: &chart,
            values: v.clone(),
            rendered: render(&chart, "bad", &ns, &v),
            crds: CrdPolicy::Create,
            replace: false,
            labels: Default::default(),
            common: common(),
        },
    )
    .await
    .expect_err("the hook is rejected");
    assert!(
        err.to_string().starts_with(
            "failed pre-install: warning: Hook pre-install demo/templates/hook.yaml failed: "
        ),
        "{err}"
    );
    let list = helm.json(&["list", "-n", &ns, "-a", "-o", "json"]);
    assert_eq!(list[0]["status"], "failed");
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
    assert!(
        cms.get_opt("bad-cfg").await.expect("get").is_none(),
        "nothing applied after a failed pre-install hook"
    );
}
