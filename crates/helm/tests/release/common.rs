//! Helpers shared by the release integration tests: the pinned `helm` binary run against the
//! local control plane, a small chart written to disk, rendering, reading a ConfigMap back.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use driftless_helm::release::{Common, CrdPolicy, Install, Rendered, Upgrade};
use driftless_helm::{Chart, Options, Values};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::Value;

pub const CHART_YAML: &str = "apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: \"1.16.0\"\n";
pub const VALUES_YAML: &str = "greeting: hello\n";
pub const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n  greeting: {{ .Values.greeting | quote }}\n";
pub const JOB_HOOK: &str = r#"apiVersion: batch/v1
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

pub struct Helm {
    bin: PathBuf,
    kubeconfig: PathBuf,
    home: tempfile::TempDir,
}

impl Helm {
    pub fn new(kubeconfig: PathBuf) -> Helm {
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

    pub fn run(&self, args: &[&str]) -> String {
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

    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.run(args)).expect("helm prints JSON")
    }
}

pub fn write_chart(dir: &Path, with_hook: bool) -> PathBuf {
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

pub fn values(v: Value) -> Values {
    match v {
        Value::Object(m) => m,
        _ => Values::new(),
    }
}

pub fn render(chart: &Chart, name: &str, namespace: &str, user: &Values) -> Rendered {
    let opts = Options {
        release_name: name.into(),
        namespace: namespace.into(),
        ..Options::default()
    };
    let text = driftless_helm::template(chart.clone(), user.clone(), &opts).expect("renders");
    Rendered::from_template_output(&text).expect("parses")
}

pub fn common() -> Common {
    Common {
        timeout: Duration::from_secs(60),
        ..Common::default()
    }
}

pub async fn greeting(client: &kube::Client, ns: &str, name: &str) -> String {
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

/// Installing release `name` of `chart` into `ns` with `values`, rendered here.
pub fn install_req<'a>(
    name: &str,
    ns: &str,
    chart: &'a Chart,
    values: &Values,
    common: Common,
) -> Install<'a> {
    Install {
        name: name.into(),
        namespace: ns.into(),
        chart,
        values: values.clone(),
        rendered: render(chart, name, ns, values),
        crds: CrdPolicy::Create,
        replace: false,
        labels: Default::default(),
        common,
    }
}

/// Upgrading release `name` (in `ns`) to `chart` with `values`, rendered here.
pub fn upgrade_req<'a>(
    name: &str,
    ns: &str,
    chart: &'a Chart,
    values: &Values,
    common: Common,
) -> Upgrade<'a> {
    Upgrade {
        name: name.into(),
        chart,
        values: values.clone(),
        rendered: render(chart, name, ns, values),
        crds: CrdPolicy::Skip,
        labels: Default::default(),
        common,
    }
}
