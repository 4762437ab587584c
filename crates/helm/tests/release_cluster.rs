//! The release actions on the local control plane: ownership checks, CRD policies, `--wait`
//! through the ssa crate's health assessment, and hooks the API server rejects.

use std::time::Duration;

use driftless_helm::release::{
    self, Common, CrdPolicy, Install, KubeCluster, KubeSecrets, Rendered, Storage, Upgrade,
};
use driftless_helm::{Options, Values};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::json;

#[path = "release/common.rs"]
mod common;
use common::*;

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
        install_req("demo", &ns, &chart, &v, common()),
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
        install_req("web", &ns, &chart, &v, waiting(90)),
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
        upgrade_req("web", &ns, &chart, &v, waiting(5)),
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
        install_req("bad", &ns, &chart, &v, common()),
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
