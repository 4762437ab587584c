use serde_json::json;

use super::*;

const RENDERED: &str = "---
# Source: demo/crds/crd.yaml
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: things.example.com
---
# Source: demo/templates/deploy.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: app
          image: nginx:1.25
---
# Source: demo/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-cfg
  annotations:
    keep: me
data:
  greeting: hello
---
# Source: demo/templates/hook.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-hook
  annotations:
    helm.sh/hook: pre-install
data:
  hook: \"yes\"
";

fn release(spec: serde_json::Value) -> HelmRelease {
    let mut base = json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "team"},
        "spec": {"interval": "1m", "chartRef": {"kind": "OCIRepository", "name": "demo"}},
    });
    if let (Some(s), Some(extra)) = (base["spec"].as_object_mut(), spec.as_object()) {
        s.extend(extra.clone());
    }
    serde_json::from_value(base).expect("a HelmRelease")
}

/// The documents of a post-rendered output: (path, object).
fn documents(text: &str) -> Vec<(String, serde_json::Value)> {
    text.split("---\n# Source: ")
        .skip(1)
        .map(|chunk| {
            let (path, content) = chunk.split_once('\n').expect("a header line");
            let node = yaml::parse_documents(content).expect("yaml")[0]
                .clone()
                .expect("a document");
            (path.to_owned(), yaml::to_json(&node))
        })
        .collect()
}

fn find<'a>(
    docs: &'a [(String, serde_json::Value)],
    name: &str,
) -> &'a (String, serde_json::Value) {
    docs.iter()
        .find(|(_, o)| o["metadata"]["name"] == name)
        .expect("the object")
}

const PATCH_REPLICAS: &str = "- op: replace\n  path: /spec/replicas\n  value: 3\n";

fn patched() -> serde_json::Value {
    json!({"postRenderers": [
        {"kustomize": {
            "patches": [
                {"target": {"kind": "Deployment", "name": "web"}, "patch": PATCH_REPLICAS},
                {"target": {"kind": "ConfigMap"}, "patch": "- op: add\n  path: /data/patched\n  value: \"true\"\n"},
            ],
            "images": [{"name": "nginx", "newTag": "1.27"}],
        }},
    ]})
}

#[test]
fn every_rendered_object_gets_the_origin_labels_and_keeps_its_source_path() {
    let out = Pipeline::of(&release(json!({})))
        .run(RENDERED)
        .expect("renders");
    let docs = documents(&out);
    assert_eq!(docs.len(), 4);
    for name in ["web", "web-cfg", "web-hook"] {
        let (_, o) = find(&docs, name);
        assert_eq!(
            o["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"],
            "web"
        );
        assert_eq!(
            o["metadata"]["labels"]["helm.toolkit.fluxcd.io/namespace"],
            "team"
        );
    }
    assert_eq!(find(&docs, "web").0, "demo/templates/deploy.yaml");
    assert_eq!(find(&docs, "web-hook").0, "demo/templates/hook.yaml");
}

#[test]
fn chart_crds_pass_through_untouched_and_first() {
    let out = Pipeline::of(&release(patched()))
        .run(RENDERED)
        .expect("renders");
    assert!(out.starts_with(
        "---\n# Source: demo/crds/crd.yaml\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: things.example.com\n---\n# Source: "
    ));
}

#[test]
fn kustomize_patches_and_images_apply_in_order_and_the_filename_annotation_is_removed() {
    let out = Pipeline::of(&release(patched()))
        .run(RENDERED)
        .expect("renders");
    let docs = documents(&out);
    let (path, deploy) = find(&docs, "web");
    assert_eq!(path, "demo/templates/deploy.yaml");
    assert_eq!(deploy["spec"]["replicas"], 3);
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    assert_eq!(deploy["metadata"].get("annotations"), None);
    let (_, cm) = find(&docs, "web-cfg");
    assert_eq!(cm["data"]["patched"], "true");
    assert_eq!(cm["metadata"]["annotations"], json!({"keep": "me"}));
    assert!(!out.contains(FILENAME_ANNOTATION));
}

#[test]
fn a_later_post_renderer_sees_what_an_earlier_one_made() {
    let spec = json!({"postRenderers": [
        {"kustomize": {"patches": [{"target": {"kind": "Deployment"}, "patch": PATCH_REPLICAS}]}},
        {"kustomize": {"patches": [{"target": {"kind": "Deployment"},
            "patch": "- op: test\n  path: /spec/replicas\n  value: 3\n- op: replace\n  path: /spec/replicas\n  value: 4\n"}]}},
    ]});
    let out = Pipeline::of(&release(spec)).run(RENDERED).expect("renders");
    assert_eq!(find(&documents(&out), "web").1["spec"]["replicas"], 4);
}

#[test]
fn hooks_are_post_rendered_unless_the_strategy_is_nohooks() {
    for (strategy, seen) in [("combined", true), ("separate", true), ("nohooks", false)] {
        let mut spec = patched();
        spec["postRenderStrategy"] = json!(strategy);
        let out = Pipeline::of(&release(spec)).run(RENDERED).expect("renders");
        let docs = documents(&out);
        let (path, hook) = find(&docs, "web-hook");
        assert_eq!(path, "demo/templates/hook.yaml");
        assert_eq!(hook["data"].get("patched").is_some(), seen, "{strategy}");
        assert_eq!(
            hook["metadata"]
                .get("labels")
                .is_some_and(|l| l.get("helm.toolkit.fluxcd.io/name").is_some()),
            seen,
            "{strategy}: hooks bypass the origin labels too"
        );
        assert_eq!(find(&docs, "web-cfg").1["data"]["patched"], "true");
    }
}

#[test]
fn a_patch_that_does_not_apply_is_an_error_without_the_scratch_directory() {
    let spec = json!({"postRenderers": [{"kustomize": {"patches": [
        {"target": {"kind": "Deployment"}, "patch": "- op: replace\n  path: /spec/missing/field\n  value: 1\n"},
    ]}}]});
    let err = Pipeline::of(&release(spec))
        .run(RENDERED)
        .expect_err("the patch fails");
    let message = err.to_string();
    assert!(
        matches!(err, PostRenderError::Kustomize { .. }),
        "{message}"
    );
    assert!(!message.contains("/tmp"), "{message}");
}

#[test]
fn the_digest_input_is_the_json_go_writes_for_the_post_renderers() {
    let spec = json!({"postRenderers": [
        {"kustomize": {
            "patches": [{"target": {"labelSelector": "a=b", "kind": "Deployment", "group": "apps"},
                         "patch": "x: <&>"}],
            "images": [{"name": "nginx", "digest": "sha256:abc", "newTag": ""}],
        }},
        {},
    ]});
    let hr = release(spec);
    let renderers = hr.spec.post_renderers.as_deref().expect("set");
    assert_eq!(
        go_json(renderers),
        "[{\"kustomize\":{\"patches\":[{\"patch\":\"x: \\u003c\\u0026\\u003e\",\"target\":{\"group\":\"apps\",\"kind\":\"Deployment\",\"labelSelector\":\"a=b\"}}],\"images\":[{\"name\":\"nginx\",\"digest\":\"sha256:abc\"}]}},{}]\n"
    );
    let d = digest(Some(renderers)).expect("a digest");
    assert_eq!(
        d,
        format!("sha256:{}", hex::encode(Sha256::digest(go_json(renderers))))
    );
    assert_eq!(digest(None), None);
    assert_eq!(
        digest(Some(&[])),
        Some(format!("sha256:{}", hex::encode(Sha256::digest("[]\n"))))
    );
}

/// Expected values printed by Flux helm-controller v1.6.4's own
/// `internal/postrender.Digest(digest.Canonical, …)` (what sets
/// `status.observedPostRenderersDigest`) for the same lists, decoded from the same JSON, by a
/// throwaway Go program.
#[test]
fn digests_equal_those_flux_helm_controller_computes() {
    let cases = [
        (
            json!([{"kustomize": {
                "patches": [{"patch": "- op: add\n  path: /metadata/labels/x\n  value: <&>",
                             "target": {"kind": "Deployment", "labelSelector": "app=web"}}],
                "images": [{"name": "nginx", "newTag": "1.27", "digest": "sha256:abc"}],
            }}]),
            "sha256:6588049282554236ac5ea5ec29687336f7ae1b24f5f82e8031e9a7c450c28a3c",
        ),
        (
            json!([
                {"kustomize": {"images": [{"name": "busybox", "newName": "registry.example.com/busybox"}]}},
                {},
            ]),
            "sha256:154b4ac17bcd0c1649bdeaa663ff6a97eccfe04cba30147fa9e441bfa8010a90",
        ),
        (
            json!([{"kustomize": {"patches": [{"patch": "h\u{e9}llo \u{2713} \u{2028}", "target": {}}]}}]),
            "sha256:06bb20498a638ae2d08d0f2ea62d8a1b13160559b1772ca16d7bc2e44256740e",
        ),
        (
            json!([]),
            "sha256:37517e5f3dc66819f61f5a7bb8ace1921282415f10551d2defa5c3eb0985b570",
        ),
    ];
    for (renderers, flux) in cases {
        let hr = release(json!({"postRenderers": renderers}));
        let renderers = hr.spec.post_renderers.as_deref().expect("set");
        assert_eq!(
            digest(Some(renderers)).as_deref(),
            Some(flux),
            "{renderers:?}"
        );
    }
}
