//! `build kustomization` and `diff kustomization` against a Kustomization that
//! kustomize-controller (running in-process on a label shard) applied from a loopback artifact:
//! the build reads substitutions from the cluster, and the diff reports drift, new objects and
//! pruned ones, with Secret values masked and exit status set on changes.

mod commands_common;
#[path = "../../kustomize-controller/tests/common/mod.rs"]
mod kc;

use std::path::Path;

use commands_common::{capture, kube};
use driftless_cli::commands::build::{LocalBuild, build, manifests};
use driftless_cli::commands::diff::{CHANGES_FOUND, DiffArgs, DiffKustomization, DiffWhat, diff};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;

fn write(dir: &Path, files: &[(&str, &str)]) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        std::fs::remove_file(entry.expect("entry").path()).expect("clean");
    }
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write");
    }
}

fn secret(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  password: {value}\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_reports_drift_new_and_pruned_objects_and_never_prints_secret_values() {
    let mut fx = kc::fixture("cli-diff", &[]).await.expect("fixture");
    let client = fx.cluster.client.clone();
    let ns = fx.ns.name().to_owned();
    let applied_secret = secret("db", "hunter2-applied");
    let revision = fx
        .source
        .publish(
            &client,
            &[
                ("cm.yaml", &kc::config_map("settings", "one")),
                ("gone.yaml", &kc::config_map("gone", "x")),
                ("secret.yaml", &applied_secret),
            ],
        )
        .await
        .expect("published");
    fx.create(
        "apps",
        json!({"targetNamespace": ns, "postBuild": {
            "substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]}}),
    )
    .await
    .expect("created");
    let vars = serde_json::from_value::<ConfigMap>(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "vars"},
        "data": {"greeting": "hello"}}))
    .expect("cm");
    Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &vars)
        .await
        .expect("vars");
    kc::wait_applied(&fx.api, "apps", &revision)
        .await
        .expect("applied");
    let dir = tempfile::tempdir().expect("tempdir");
    let local = LocalBuild {
        name: "apps".into(),
        path: dir.path().to_path_buf(),
        ..LocalBuild::default()
    };
    let args = DiffArgs {
        kube: kube(&ns),
        what: DiffWhat::Kustomization(DiffKustomization {
            local: local.clone(),
            progress_bar: false,
            ignore_not_found: false,
        }),
    };

    // The same files as applied: nothing to report, success.
    write(
        dir.path(),
        &[
            ("cm.yaml", &kc::config_map("settings", "one")),
            ("gone.yaml", &kc::config_map("gone", "x")),
            ("secret.yaml", &applied_secret),
        ],
    );
    let run = capture(async |p| diff(&client, &args, p).await).await;
    run.result.expect("no drift");
    assert_eq!(run.out, "");

    // A changed value, a new object, a removed one and a changed Secret.
    write(
        dir.path(),
        &[
            ("cm.yaml", &kc::config_map("settings", "${greeting}")),
            ("new.yaml", &kc::config_map("extra", "y")),
            ("secret.yaml", &secret("db", "hunter2-local")),
        ],
    );
    let run = capture(async |p| diff(&client, &args, p).await).await;
    let error = run.result.expect_err("changes exit non-zero").to_string();
    assert!(error.contains(CHANGES_FOUND), "{error}");
    let out = &run.out;
    assert!(
        out.contains(&format!("► ConfigMap/{ns}/settings drifted\n")),
        "{out}"
    );
    assert!(
        out.contains("\ndata.value\n± value change\n- one\n+ hello\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!("► ConfigMap/{ns}/extra created\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("► ConfigMap/{ns}/gone deleted\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("► Secret/{ns}/db drifted\n")),
        "{out}"
    );
    assert!(
        out.contains("*** (before)") && out.contains("*** (after)"),
        "{out}"
    );
    assert!(!out.contains("hunter2"), "a secret value leaked:\n{out}");

    // build prints the local objects with the substitution read from the cluster.
    let built = build(Some(&client), &ns, &local).await.expect("built");
    let text = manifests(&built.objects).expect("yaml");
    assert!(text.contains("  value: hello\n"), "{text}");
    assert!(
        text.contains("kustomize.toolkit.fluxcd.io/name: apps\n"),
        "{text}"
    );
    assert!(text.ends_with("---\n"), "{text}");
}
