//! The Kustomization workload, shaped as fluxcd/flux-benchmark's `flux-ks-bench` module shapes
//! it: N Kustomizations in ONE namespace, all applying the same small app from one source into
//! that namespace (`targetNamespace`), kept apart by `postBuild.substitute` giving each its own
//! `${INDEX}` in the object names; `interval: 60m`, `retryInterval: 2m`, `prune: true`,
//! `wait: true`, `timeout: 1m`. The app is a Deployment (scaled to zero by default, as
//! flux-benchmark's is), a Service and a ConfigMap.

use serde_json::{Value, json};

/// Where the app lives in the benchmark repository.
pub(super) const APP_PATH: &str = "./app";

/// The GitRepository every Kustomization reads.
pub(super) const SOURCE_NAME: &str = "bench";

/// The repository files: the app's three manifests with `${INDEX}` placeholders, listed by a
/// kustomization.yaml.
pub(super) fn app_files(replicas: u32) -> Vec<(&'static str, String)> {
    vec![
        (
            "app/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - configmap.yaml\n  - service.yaml\n  - deployment.yaml\n"
                .to_owned(),
        ),
        ("app/configmap.yaml", CONFIGMAP.to_owned()),
        ("app/service.yaml", SERVICE.to_owned()),
        (
            "app/deployment.yaml",
            DEPLOYMENT.replace("REPLICAS", &replicas.to_string()),
        ),
        ("README.md", "kustomize benchmark fixture\n".to_owned()),
    ]
}

const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: app-${INDEX}
data:
  # Not a quoted ${INDEX} alone: Flux substitutes after kustomize has dropped the quotes,
  # and a value like 0007 would then arrive as a number.
  owner: app-${INDEX}
  greeting: hello from the benchmark
";

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: app-${INDEX}
spec:
  # Headless: the shared plane's service CIDR has no room for a thousand cluster IPs.
  clusterIP: None
  selector:
    app: app-${INDEX}
  ports:
    - name: http
      port: 80
      targetPort: http
";

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-${INDEX}
spec:
  replicas: REPLICAS
  selector:
    matchLabels:
      app: app-${INDEX}
  template:
    metadata:
      labels:
        app: app-${INDEX}
    spec:
      containers:
        - name: app
          image: ghcr.io/stefanprodan/podinfo:6.5.3
          ports:
            - name: http
              containerPort: 9898
          envFrom:
            - configMapRef:
                name: app-${INDEX}
          resources:
            requests:
              cpu: 1m
              memory: 16Mi
";

/// The same three manifests as a Helm chart's templates (`templates/<file>`), for `bench helm`:
/// every object is named after the release and the Deployment's replicas come from
/// `.Values.replicaCount`.
pub(super) fn chart_templates() -> Vec<(&'static str, String)> {
    let template = |manifest: &str| {
        manifest
            .replace("app-${INDEX}", "{{ .Release.Name }}")
            .replace("REPLICAS", "{{ .Values.replicaCount }}")
    };
    vec![
        ("templates/configmap.yaml", template(CONFIGMAP)),
        ("templates/service.yaml", template(SERVICE)),
        ("templates/deployment.yaml", template(DEPLOYMENT)),
    ]
}

/// The name of Kustomization `i` (also its `${INDEX}`-derived object names: `app-<i>`).
pub(super) fn index(i: usize) -> String {
    format!("{i:04}")
}

/// Kustomization `i` of the workload in `namespace`.
pub(super) fn kustomization(i: usize, namespace: &str) -> Value {
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": format!("app-{}", index(i)), "namespace": namespace},
        "spec": {
            "interval": "60m",
            "retryInterval": "2m",
            "path": APP_PATH,
            "prune": true,
            "wait": true,
            "timeout": "1m",
            "targetNamespace": namespace,
            "sourceRef": {"kind": "GitRepository", "name": SOURCE_NAME},
            "postBuild": {"substitute": {"INDEX": index(i)}},
        },
    })
}

/// The GitRepository of the workload.
pub(super) fn git_repository(namespace: &str, url: &str) -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": SOURCE_NAME, "namespace": namespace},
        "spec": {"url": url, "interval": "60m", "ref": {"branch": "master"}},
    })
}

/// What Kustomization `i` applies, for the floor: the three manifests with `${INDEX}`
/// substituted, in `namespace`, carrying the ownership labels the controllers add.
pub(super) fn rendered(i: usize, namespace: &str, replicas: u32) -> String {
    let owner = format!(
        "  labels:\n    kustomize.toolkit.fluxcd.io/name: app-{}\n    kustomize.toolkit.fluxcd.io/namespace: {namespace}\n  namespace: {namespace}\n",
        index(i)
    );
    [
        CONFIGMAP.to_owned(),
        SERVICE.to_owned(),
        DEPLOYMENT.replace("REPLICAS", &replicas.to_string()),
    ]
    .iter()
    .map(|doc| {
        doc.replace("${INDEX}", &index(i)).replacen(
            "metadata:\n",
            &format!("metadata:\n{owner}"),
            1,
        )
    })
    .collect::<Vec<_>>()
    .join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_applies_the_same_three_objects_a_kustomization_names() {
        let docs = driftless_ssa::decode::decode_yaml(&rendered(7, "ns", 0)).expect("decodes");
        let names: Vec<(String, String, String)> = docs
            .iter()
            .map(|d| {
                (
                    d.types.as_ref().map(|t| t.kind.clone()).unwrap_or_default(),
                    d.metadata.name.clone().unwrap_or_default(),
                    d.metadata.namespace.clone().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("ConfigMap".into(), "app-0007".into(), "ns".into()),
                ("Service".into(), "app-0007".into(), "ns".into()),
                ("Deployment".into(), "app-0007".into(), "ns".into()),
            ]
        );
        let deployment = &docs[2];
        assert_eq!(deployment.data["spec"]["replicas"], 0);
        assert_eq!(
            deployment.metadata.labels.as_ref().expect("labels")["kustomize.toolkit.fluxcd.io/name"],
            "app-0007"
        );
    }

    #[test]
    fn every_repository_manifest_is_listed_by_its_kustomization_yaml() {
        let files = app_files(1);
        let listing = &files[0].1;
        for (path, _) in files.iter().filter(|(p, _)| p.ends_with(".yaml")).skip(1) {
            let file = path.trim_start_matches("app/");
            assert!(listing.contains(file), "{file} missing from {listing}");
        }
    }

    #[test]
    fn the_chart_templates_name_every_object_after_the_release() {
        for (path, text) in chart_templates() {
            assert!(!text.contains("app-${INDEX}"), "{path}: {text}");
            assert!(text.contains("name: {{ .Release.Name }}"), "{path}: {text}");
        }
        let deployment = &chart_templates()[2].1;
        assert!(deployment.contains("replicas: {{ .Values.replicaCount }}"));
    }
}
