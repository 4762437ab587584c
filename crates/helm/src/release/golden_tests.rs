//! Our records against one the real helm (v3.22.0) wrote: `tests/release/chart` installed as
//! `helm install fixture tests/release/chart -n hr-fixture --set greeting=hi
//! --set-string nested.extra=x`, its Secret's payload decoded into
//! `tests/release/helm-v3.22.0-install.json`. No cluster or helm binary is needed here.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::fake::FakeCluster;
use super::*;

fn fixture(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/release")
        .join(file)
}

fn helms_record() -> Vec<u8> {
    std::fs::read(fixture("helm-v3.22.0-install.json")).expect("fixture")
}

/// Times differ from run to run; notes come from the caller (the renderer drops NOTES.txt).
fn normalize(mut v: Value) -> Value {
    for key in ["first_deployed", "last_deployed", "notes"] {
        v["info"][key] = json!("<x>");
    }
    for h in v["hooks"].as_array_mut().into_iter().flatten() {
        h["last_run"]["started_at"] = json!("<x>");
        h["last_run"]["completed_at"] = json!("<x>");
    }
    v
}

#[test]
fn helms_record_decodes_and_encodes_back_to_the_same_bytes() {
    let raw = helms_record();
    let release: Release = serde_json::from_slice(&raw).expect("decodes");
    assert_eq!(release.status(), Status::Deployed);
    assert_eq!(release.chart_label(), "fixture-1.2.3");
    assert_eq!(release.hooks.len(), 2);
    let again = codec::to_json(&release).expect("encodes");
    assert_eq!(again, String::from_utf8_lossy(&raw));
}

#[test]
fn our_install_records_what_helm_records_for_the_same_chart_and_values() {
    let chart = crate::load(&fixture("chart")).expect("chart loads");
    let values = match json!({"greeting": "hi", "nested": {"extra": "x"}}) {
        Value::Object(m) => m,
        _ => crate::Values::new(),
    };
    let opts = crate::Options {
        release_name: "fixture".into(),
        namespace: "hr-fixture".into(),
        ..crate::Options::default()
    };
    let text = crate::template(chart.clone(), values.clone(), &opts).expect("renders");
    let rendered = Rendered::from_template_output(&text).expect("parses");
    let storage = Storage::new(MemoryStore::default());
    let ours = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(install(
            &storage,
            &FakeCluster::default(),
            Install {
                name: "fixture".into(),
                namespace: "hr-fixture".into(),
                chart: &chart,
                values,
                rendered,
                crds: CrdPolicy::Create,
                replace: false,
                labels: Default::default(),
                common: Common::default(),
            },
        ))
        .expect("installs");
    let ours =
        normalize(serde_json::from_str(&codec::to_json(&ours).expect("encodes")).expect("json"));
    let theirs = normalize(serde_json::from_slice(&helms_record()).expect("json"));
    for key in [
        "chart",
        "config",
        "manifest",
        "hooks",
        "info",
        "version",
        "namespace",
        "name",
    ] {
        assert_eq!(ours[key], theirs[key], "{key} differs");
    }
    assert_eq!(ours, theirs);
}
