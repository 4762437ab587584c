//! `build kustomization` and `diff kustomization` against a Kustomization that
//! kustomize-controller (running in-process on a label shard) applied from a loopback artifact:
//! the build reads substitutions from the cluster, and the diff reports drift, new objects and
//! pruned ones, with Secret values masked and exit status set on changes. The binary's exit
//! statuses are flux's: 0 without changes, 1 with changes, 2 when the diff fails.

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

/// Runs the `driftless` binary with `args` and returns its exit status and stderr.
fn driftless(args: &[&str]) -> (Option<i32>, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_driftless"))
        .args(args)
        .output()
        .expect("runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_diff_binary_exits_0_without_changes_1_with_changes_and_2_when_it_fails() {
    let cluster = testkit::cluster().await.expect("cluster");
    kc::install_crds(&cluster.client).await.expect("crds");
    let ns = testkit::TestNamespace::create(&cluster, "cli-diff-exit")
        .await
        .expect("namespace");
    let ns = ns.name().to_owned();
    let kubeconfig = cluster.plane.kubeconfig_path();
    let kubeconfig = kubeconfig.to_str().expect("utf-8 path");
    let dir = tempfile::tempdir().expect("tempdir");
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).expect("mkdir");
    let ks_file = dir.path().join("ks.yaml");
    std::fs::write(
        &ks_file,
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: exit\n  namespace: {ns}\nspec:\n  interval: 5m\n  path: ./\n  prune: true\n  targetNamespace: {ns}\n  sourceRef:\n    kind: GitRepository\n    name: exit\n"
        ),
    )
    .expect("write");
    let config_map = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels:\n    kustomize.toolkit.fluxcd.io/name: exit\n    kustomize.toolkit.fluxcd.io/namespace: {ns}\ndata:\n  key: {value}\n"
        )
    };
    let path = manifests.to_str().expect("utf-8 path").to_owned();
    let ks = ks_file.to_str().expect("utf-8 path").to_owned();
    let run_diff = |path: &str, kubeconfig: &str| {
        driftless(&[
            "diff",
            "ks",
            "exit",
            "--path",
            path,
            "--kustomization-file",
            &ks,
            "--ignore-not-found",
            "--progress-bar=false",
            "-n",
            &ns,
            "--kubeconfig",
            kubeconfig,
        ])
    };

    // The object in the cluster as the build makes it: no changes.
    std::fs::write(manifests.join("cm.yaml"), config_map("one")).expect("write");
    let applied: ConfigMap = serde_saphyr::from_str(&config_map("one")).expect("config map");
    Api::<ConfigMap>::namespaced(cluster.client.clone(), &ns)
        .patch(
            "settings",
            &kube::api::PatchParams::apply("kustomize-controller"),
            &kube::api::Patch::Apply(&applied),
        )
        .await
        .expect("seeded");
    let (code, stderr) = run_diff(&path, kubeconfig);
    assert_eq!(code, Some(0), "{stderr}");

    // A changed value: changes found.
    std::fs::write(manifests.join("cm.yaml"), config_map("two")).expect("write");
    let (code, stderr) = run_diff(&path, kubeconfig);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(CHANGES_FOUND), "{stderr}");

    // A path that is not a directory.
    let missing = dir.path().join("missing");
    let (code, stderr) = run_diff(missing.to_str().expect("utf-8 path"), kubeconfig);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("invalid resource path"), "{stderr}");

    // A build that fails: the kustomization names a file that is not there.
    std::fs::write(
        manifests.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- absent.yaml\n",
    )
    .expect("write");
    let (code, stderr) = run_diff(&path, kubeconfig);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("kustomize build failed"), "{stderr}");
    std::fs::remove_file(manifests.join("kustomization.yaml")).expect("rm");

    // A cluster that cannot be reached: a kubeconfig whose server refuses connections.
    let unreachable = dir.path().join("unreachable-kubeconfig");
    std::fs::write(
        &unreachable,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n",
    )
    .expect("write");
    let (code, stderr) = run_diff(&path, unreachable.to_str().expect("utf-8 path"));
    assert_eq!(code, Some(2), "{stderr}");

    // Flux ends a missing --kustomization-file with a plain error: status 1.
    let (code, stderr) = driftless(&[
        "diff",
        "ks",
        "exit",
        "--path",
        &path,
        "--kustomization-file",
        "/nonexistent/ks.yaml",
        "--progress-bar=false",
        "-n",
        &ns,
        "--kubeconfig",
        kubeconfig,
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("invalid kustomization file"), "{stderr}");
}
