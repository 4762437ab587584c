//! The synthetic large overlay: `bases` bases of `per_base` objects each (ConfigMaps,
//! ServiceAccounts, Deployments and Services that refer to one another by name), each base with
//! a name prefix, labels, a ConfigMap and a Secret generator, a JSON patch, a strategic-merge
//! patch and a replacement, under one overlay that adds a namespace, another prefix,
//! annotations, an image override, a generator and a patch of its own. Written at bench time so
//! its size is a flag, not a committed fixture.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Objects per group of four (ConfigMap, ServiceAccount, Deployment, Service).
const KINDS: usize = 4;

/// Writes the overlay under `root/overlay` (bases beside it) and returns the overlay's path and
/// how many objects its bases hold: `objects` rounded up to whole groups of four per base.
pub(super) fn write(
    root: &Path,
    objects: usize,
    bases: usize,
) -> anyhow::Result<(std::path::PathBuf, usize)> {
    let bases = bases.max(1);
    let groups = objects.div_ceil(KINDS * bases).max(1);
    for b in 0..bases {
        let dir = root.join(format!("base-{b}"));
        std::fs::create_dir_all(&dir)?;
        write_file(&dir, "kustomization.yaml", &base_kustomization(b))?;
        write_file(&dir, "objects.yaml", &base_objects(b, groups))?;
    }
    let overlay = root.join("overlay");
    std::fs::create_dir_all(&overlay)?;
    write_file(
        &overlay,
        "kustomization.yaml",
        &overlay_kustomization(bases),
    )?;
    Ok((overlay, groups * KINDS * bases))
}

fn write_file(dir: &Path, name: &str, text: &str) -> anyhow::Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

fn base_kustomization(b: usize) -> String {
    format!(
        r#"apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namePrefix: b{b}-
labels:
- pairs:
    tier: base-{b}
resources:
- objects.yaml
configMapGenerator:
- name: settings
  literals:
  - LOG_LEVEL=info
  - REGION=region-{b}
secretGenerator:
- name: credentials
  literals:
  - token=secret-{b}
patches:
- target:
    kind: Deployment
  patch: |-
    - op: add
      path: /spec/template/metadata/annotations
      value:
        patched-by: base-{b}
- target:
    kind: Deployment
    labelSelector: parity=even
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: any
    spec:
      replicas: 3
replacements:
- source:
    kind: ConfigMap
    name: settings
    fieldPath: data.REGION
  targets:
  - select:
      kind: Deployment
    fieldPaths:
    - spec.template.metadata.labels.region
    options:
      create: true
"#
    )
}

/// `groups` of a ConfigMap, a ServiceAccount, a Deployment using both (and the generated
/// ConfigMap and Secret) and a Service selecting it.
fn base_objects(b: usize, groups: usize) -> String {
    let mut out = String::new();
    for g in 0..groups {
        let parity = if g % 2 == 0 { "even" } else { "odd" };
        let _ = write!(
            out,
            r#"---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-{g}
data:
  index: "{g}"
  base: "{b}"
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: runner-{g}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{g}
  labels:
    app: app-{g}
    parity: {parity}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: app-{g}
  template:
    metadata:
      labels:
        app: app-{g}
    spec:
      serviceAccountName: runner-{g}
      containers:
      - name: main
        image: nginx:1.25
        envFrom:
        - configMapRef:
            name: settings
        env:
        - name: INDEX
          valueFrom:
            configMapKeyRef:
              name: config-{g}
              key: index
        - name: TOKEN
          valueFrom:
            secretKeyRef:
              name: credentials
              key: token
---
apiVersion: v1
kind: Service
metadata:
  name: app-{g}
spec:
  selector:
    app: app-{g}
  ports:
  - port: 80
    targetPort: 8080
"#
        );
    }
    out
}

fn overlay_kustomization(bases: usize) -> String {
    let mut resources = String::new();
    for b in 0..bases {
        let _ = writeln!(resources, "- ../base-{b}");
    }
    format!(
        r#"apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: prod
namePrefix: prod-
commonAnnotations:
  owner: bench
resources:
{resources}images:
- name: nginx
  newTag: "1.27"
configMapGenerator:
- name: global
  literals:
  - CLUSTER=bench
patches:
- target:
    kind: Service
  patch: |-
    - op: add
      path: /metadata/labels/exposed
      value: "true"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overlay_holds_the_requested_number_of_objects_across_its_bases() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (overlay, written) = write(dir.path(), 2000, 8).expect("written");
        // 2000 over 8 bases of groups of four rounds up to 63 groups a base.
        assert_eq!(written, 2016);
        let text = std::fs::read_to_string(overlay.join("kustomization.yaml")).expect("read");
        assert!(text.contains("- ../base-7\n"), "{text}");
        let objects: usize = (0..8)
            .map(|b| {
                std::fs::read_to_string(dir.path().join(format!("base-{b}/objects.yaml")))
                    .expect("base")
                    .matches("\nkind: ")
                    .count()
            })
            .sum();
        assert_eq!(objects, written);
    }
}
