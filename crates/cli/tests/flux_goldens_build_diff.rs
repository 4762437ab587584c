//! The upstream flux CLI's own goldens for `flux build kustomization` and `flux diff
//! kustomization` (tests/fixtures/flux-build, see its SOURCES.md), run through our commands with
//! the flags flux's tests pass and compared byte for byte. Build runs twice: from a local
//! Kustomization file in dry-run mode (no cluster), and against the Kustomization seeded in the
//! local control plane. Diff seeds the objects flux's test applies before each case.
//!
//! Flux builds in kustomize's input order (its krusty options leave `Reorder` unset), and so do
//! we: outputs are compared whole, in order.
//!
//! Where flux's tests use the `default` namespace as the Kustomization's `targetNamespace`, these
//! use a namespace of their own (parallel test binaries share one control plane), and the
//! goldens' `/default/` and `namespace: default` are read with that namespace instead.

mod commands_common;
#[path = "../../kustomize-controller/tests/common/mod.rs"]
mod kc;

use std::path::{Path, PathBuf};

use commands_common::{capture, kube};
use driftless_cli::commands::build::{LocalBuild, build, manifests};
use driftless_cli::commands::diff::{
    CHANGED, CHANGES_FOUND, DiffArgs, DiffKustomization, DiffWhat, FAILED, diff, normalize,
};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{GroupVersionKind, TypeMeta};
use serde_json::Value;
use testkit::TestNamespace;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/flux-build")
}

/// A fixture with flux's template value filled in and the target namespace swapped in.
fn fixture(name: &str, fluxns: &str, target: &str) -> String {
    let text = std::fs::read_to_string(fixtures().join(name)).expect("fixture");
    text.replace("{{ .fluxns }}", fluxns)
        .replace("namespace: default\n", &format!("namespace: {target}\n"))
        .replace("/default/", &format!("/{target}/"))
}

/// The Kustomization of upstream's TestBuildLocalKustomization.
fn kustomization_file(dir: &Path, fluxns: &str, target: &str) -> PathBuf {
    let text = format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
  namespace: {fluxns}
spec:
  interval: 5m0s
  path: ./kustomize
  force: true
  prune: true
  sourceRef:
    kind: GitRepository
    name: podinfo
  targetNamespace: {target}
  postBuild:
    substitute:
      cluster_env: \"prod\"
      cluster_region: \"eu-central-1\"
"
    );
    let path = dir.join("podinfo.yaml");
    std::fs::write(&path, text).expect("write kustomization file");
    path
}

/// A build's documents, each with its closing `---`, in order (one per line of an assertion
/// failure's report).
fn documents(text: &str) -> Vec<String> {
    text.split_inclusive("---\n").map(str::to_owned).collect()
}

/// Flux's build cases: directory and golden (plus, below, those with flags).
const BUILDS: [(&str, &str); 3] = [
    ("podinfo", "podinfo-result.yaml"),
    ("delete-service", "podinfo-without-service-result.yaml"),
    (
        "var-substitution",
        "podinfo-with-var-substitution-result.yaml",
    ),
];

fn local(path: PathBuf, file: Option<PathBuf>) -> LocalBuild {
    LocalBuild {
        name: "podinfo".into(),
        path,
        kustomization_file: file,
        ..LocalBuild::default()
    }
}

/// Flux's build cases with flags: `--ignore-paths` (with the directory's `.sourceignore`) and
/// `--recursive --local-sources`, each also with `--in-memory-build`. The nested Kustomization
/// lands in the `target` namespace, so its source is looked up there.
fn flagged_builds(root: &Path, target: &str) -> Vec<(LocalBuild, &'static str)> {
    let ignore = LocalBuild {
        ignore_paths: vec!["!configmap.yaml".into(), "!secret.yaml".into()],
        ..local(root.join("ignore"), None)
    };
    let recursive = LocalBuild {
        recursive: true,
        local_sources: vec![
            format!("GitRepository/{target}/podinfo={}", root.display())
                .parse()
                .expect("local source"),
        ],
        ..local(root.join("podinfo-with-my-app"), None)
    };
    let mut cases = Vec::new();
    for (build, golden) in [
        (ignore, "podinfo-with-ignore-result.yaml"),
        (recursive, "podinfo-with-my-app-result.yaml"),
    ] {
        let in_memory = LocalBuild {
            in_memory_build: true,
            ..build.clone()
        };
        cases.push((build, golden));
        cases.push((in_memory, golden));
    }
    cases
}

/// Runs `local` from the fixtures directory (`--in-memory-build` reads nothing outside it).
async fn build_text(client: Option<&kube::Client>, fluxns: &str, local: &LocalBuild) -> String {
    let built = build(client, fluxns, local)
        .await
        .map_err(|e| format!("{}: {e}", local.path.display()))
        .expect("builds");
    manifests(&built.objects).expect("yaml")
}

#[tokio::test]
async fn a_dry_run_build_from_a_kustomization_file_prints_each_of_fluxs_golden_documents_byte_for_byte()
 {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = kustomization_file(dir.path(), "flux-system", "default");
    for (path, golden) in BUILDS {
        let text = build_text(
            None,
            "flux-system",
            &local(fixtures().join(path), Some(file.clone())),
        )
        .await;
        assert_eq!(
            documents(&text),
            documents(&fixture(golden, "flux-system", "default")),
            "flux build kustomization podinfo --path {path}"
        );
    }
    for (mut flagged, golden) in flagged_builds(&fixtures(), "default") {
        flagged.kustomization_file = Some(file.clone());
        let text = build_text(None, "flux-system", &flagged).await;
        assert_eq!(
            documents(&text),
            documents(&fixture(golden, "flux-system", "default")),
            "{flagged:?}"
        );
    }
}

#[tokio::test]
async fn an_in_memory_build_cannot_read_outside_the_current_directory() {
    // The tests run in the crate's directory; a temporary directory is outside it.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = kustomization_file(dir.path(), "flux-system", "default");
    let manifests_dir = dir.path().join("manifests");
    std::fs::create_dir(&manifests_dir).expect("mkdir");
    std::fs::write(
        manifests_dir.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: outside\n",
    )
    .expect("write");
    let mut outside = local(manifests_dir, Some(file));
    let text = build_text(None, "flux-system", &outside).await;
    assert!(text.contains("name: outside"), "{text}");
    outside.in_memory_build = true;
    let error = build(None, "flux-system", &outside)
        .await
        .err()
        .expect("outside the current directory");
    assert!(
        error.to_string().starts_with("kustomize build failed:"),
        "{error}"
    );
}

#[tokio::test]
async fn build_refuses_an_empty_path_and_a_missing_kustomization_file_in_fluxs_words() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = kustomization_file(dir.path(), "flux-system", "default");
    let error = build(None, "flux-system", &local(PathBuf::new(), Some(file)))
        .await
        .err()
        .expect("an empty path fails");
    assert_eq!(error.to_string(), "invalid resource path \"\"");
    let wrong = local(
        fixtures().join("podinfo"),
        Some(PathBuf::from("./wrongfile/")),
    );
    let error = build(None, "flux-system", &wrong)
        .await
        .err()
        .expect("a missing file fails");
    assert_eq!(
        error.to_string(),
        "invalid kustomization file \"./wrongfile/\""
    );
}

fn diff_args(fluxns: &str, local: LocalBuild, ignore_not_found: bool) -> DiffArgs {
    DiffArgs {
        kube: kube(fluxns),
        what: DiffWhat::Kustomization(DiffKustomization {
            local,
            progress_bar: false,
            ignore_not_found,
        }),
    }
}

/// Applies the YAML documents of `text` server-side, as flux's test seeds the cluster.
async fn seed(client: &kube::Client, text: &str) -> Vec<(Api<DynamicObject>, String)> {
    let documents: Vec<Value> = serde_saphyr::from_multiple(text).expect("yaml");
    let mut applied = Vec::new();
    for mut document in documents.into_iter().filter(|d| !d.is_null()) {
        // Flux's test normalizes what it seeds as its diff normalizes the build (a Secret's
        // stringData is applied as data).
        normalize::one(&mut document);
        let types: TypeMeta = serde_json::from_value(document.clone()).expect("type meta");
        let gvk = GroupVersionKind::try_from(&types).expect("gvk");
        let (resource, _) = kube::discovery::pinned_kind(client, &gvk)
            .await
            .expect("kind served");
        let namespace = document["metadata"]["namespace"].as_str().expect("ns");
        let name = document["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_owned();
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        api.patch(
            &name,
            // The diff's own field manager, as flux's test seeds with the builder's manager:
            // fields the new build drops are then removed, not kept by another owner.
            &PatchParams::apply("kustomize-controller").force(),
            &Patch::Apply(&document),
        )
        .await
        .map_err(|e| format!("seeding {name}: {e}"))
        .expect("seeded");
        applied.push((api, name));
    }
    applied
}

async fn unseed(applied: Vec<(Api<DynamicObject>, String)>) {
    for (api, name) in applied {
        api.delete(&name, &DeleteParams::default())
            .await
            .expect("delete seeded object");
    }
}

/// The control plane's client with the CRDs, and two fresh namespaces (kept while the guards
/// live): the Flux Kustomization's and its target.
async fn setup(prefix: &str) -> (kube::Client, [TestNamespace; 2], String, String) {
    let cluster = testkit::cluster().await.expect("cluster");
    let client = cluster.client.clone();
    kc::install_crds(&client).await.expect("crds");
    let fluxns = TestNamespace::create(&cluster, prefix)
        .await
        .expect("namespace");
    let target = TestNamespace::create(&cluster, &format!("{prefix}-target"))
        .await
        .expect("namespace");
    let names = (fluxns.name().to_owned(), target.name().to_owned());
    (client, [fluxns, target], names.0, names.1)
}

#[tokio::test(flavor = "multi_thread")]
async fn build_and_diff_against_the_seeded_kustomization_print_fluxs_goldens() {
    let (client, _namespaces, fluxns, target) = setup("flux-goldens").await;
    // Our CRD serves v1 only; the spec is the same in v1beta2, which upstream's file uses.
    let ks = fixture("podinfo-kustomization.yaml", &fluxns, &target)
        .replace(
            "kustomize.toolkit.fluxcd.io/v1beta2",
            "kustomize.toolkit.fluxcd.io/v1",
        )
        .replace(
            "targetNamespace: default",
            &format!("targetNamespace: {target}"),
        );
    let seeded_ks = seed(&client, &ks).await;

    for (path, golden) in BUILDS {
        let text = build_text(Some(&client), &fluxns, &local(fixtures().join(path), None)).await;
        assert_eq!(
            documents(&text),
            documents(&fixture(golden, &fluxns, &target)),
            "flux build kustomization podinfo --path {path} (from the cluster)"
        );
    }
    // The nested Kustomization's `targetNamespace: default` read as the test's target namespace,
    // in a copy of the fixtures (outside the current directory, so not with --in-memory-build,
    // which the dry-run test covers).
    let copy = tempfile::tempdir().expect("tempdir");
    for dir in [
        "ignore",
        "ignore/not_deployable",
        "podinfo-with-my-app",
        "my-app",
    ] {
        std::fs::create_dir_all(copy.path().join(dir)).expect("mkdir");
        for entry in std::fs::read_dir(fixtures().join(dir)).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                let text = std::fs::read_to_string(&path).expect("read");
                let text = text.replace(
                    "targetNamespace: default",
                    &format!("targetNamespace: {target}"),
                );
                std::fs::write(
                    copy.path().join(dir).join(path.file_name().expect("name")),
                    text,
                )
                .expect("write");
            }
        }
    }
    for (flagged, golden) in flagged_builds(copy.path(), &target)
        .into_iter()
        .filter(|(b, _)| !b.in_memory_build)
    {
        let text = build_text(Some(&client), &fluxns, &flagged).await;
        assert_eq!(
            documents(&text),
            documents(&fixture(golden, &fluxns, &target).replace(
                "targetNamespace: default",
                &format!("targetNamespace: {target}")
            )),
            "{flagged:?} (from the cluster)"
        );
    }

    let cases = [
        (None, "diff/nothing-is-deployed.golden"),
        (
            Some("diff/deployment.yaml"),
            "diff/diff-with-deployment.golden",
        ),
        (
            Some("diff/service.yaml"),
            "diff/diff-with-drifted-service.golden",
        ),
        (
            Some("diff/secret.yaml"),
            "diff/diff-with-drifted-secret.golden",
        ),
        (
            Some("diff/key-sops-secret.yaml"),
            "diff/diff-with-drifted-key-sops-secret.golden",
        ),
        (
            Some("diff/value-sops-secret.yaml"),
            "diff/diff-with-drifted-value-sops-secret.golden",
        ),
        (
            Some("diff/dockerconfigjson-sops-secret.yaml"),
            "diff/diff-with-dockerconfigjson-sops-secret.golden",
        ),
        (
            Some("diff/stringdata-sops-secret.yaml"),
            "diff/diff-with-drifted-stringdata-sops-secret.golden",
        ),
    ];
    let args = diff_args(&fluxns, local(fixtures().join("podinfo"), None), false);
    let mut differences = Vec::new();
    for (object, golden) in cases {
        let seeded = match object {
            Some(file) => seed(&client, &fixture(file, &fluxns, &target)).await,
            None => Vec::new(),
        };
        let run = capture(async |p| diff(&client, &args, p).await).await;
        unseed(seeded).await;
        let error = run.result.expect_err("changes found");
        assert_eq!(error.exit_code(), CHANGED, "{golden}: {error}");
        assert_eq!(error.to_string(), CHANGES_FOUND, "{golden}");
        let want = fixture(golden, &fluxns, &target);
        if run.out != want {
            differences.push(format!(
                "{golden}:\n--- flux\n{want}--- driftless\n{}",
                run.out
            ));
        }
    }

    // --recursive: the nested Kustomization exists in the cluster, so it is diffed from its
    // local source and its changes follow a 📁 line (flux's own golden for this case carries
    // objects left over by its other tests, so the lines are asserted here instead).
    let seeded_app = seed(&client, &fixture("diff/my-app.yaml", &fluxns, &target)).await;
    let recursive = LocalBuild {
        recursive: true,
        local_sources: vec![
            format!("GitRepository/{target}/podinfo={}", fixtures().display())
                .parse()
                .expect("local source"),
        ],
        ..local(fixtures().join("podinfo-with-my-app"), None)
    };
    let run =
        capture(async |p| diff(&client, &diff_args(&fluxns, recursive, false), p).await).await;
    unseed(seeded_app).await;
    let error = run.result.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains(CHANGES_FOUND), "{error}");
    assert_eq!(
        run.out,
        format!("📁 Kustomization/{target}/my-app changed\n► ConfigMap/default/my-app created\n")
    );

    unseed(seeded_ks).await;
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// A Flux Kustomization file of flux's testdata with its `targetNamespace` swapped in, written
/// to `dir`.
fn kustomization_fixture(dir: &Path, name: &str, fluxns: &str, target: &str) -> PathBuf {
    let text = fixture(name, fluxns, target).replace(
        "targetNamespace: default",
        &format!("targetNamespace: {target}"),
    );
    let path = dir.join(name.replace('/', "-"));
    std::fs::write(&path, text).expect("write kustomization file");
    path
}

/// Flux's diff cases for a Kustomization that is not in the cluster (`--ignore-not-found` with
/// `--kustomization-file`): a new one, drift ignore rules, taking ownership of an existing
/// object, and a new namespace.
#[tokio::test(flavor = "multi_thread")]
async fn diff_of_a_kustomization_not_in_the_cluster_prints_fluxs_goldens() {
    let (client, _namespaces, fluxns, target) = setup("flux-new").await;
    let dir = tempfile::tempdir().expect("tempdir");

    // Without --ignore-not-found, a missing Kustomization is an error, in flux's words.
    let file = kustomization_fixture(
        dir.path(),
        "diff/flux-kustomization-local-only.yaml",
        &fluxns,
        &target,
    );
    let missing = LocalBuild {
        kustomization_file: Some(file.clone()),
        ..local(fixtures().join("podinfo"), None)
    };
    let run =
        capture(async |p| diff(&client, &diff_args(&fluxns, missing.clone(), false), p).await)
            .await;
    let error = run.result.err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        error,
        "failed to get kustomization object: kustomizations.kustomize.toolkit.fluxcd.io \"podinfo\" not found"
    );

    let cases = [
        (
            "podinfo",
            "podinfo",
            "diff/flux-kustomization-local-only.yaml",
            None,
            "diff/nothing-is-deployed.golden",
        ),
        (
            "podinfo",
            "podinfo",
            "diff/flux-kustomization-multiobj.yaml",
            None,
            "diff/nothing-is-deployed.golden",
        ),
        (
            "podinfo",
            "podinfo",
            "diff/flux-kustomization-drift-ignore.yaml",
            Some("diff/drifted-service-no-labels.yaml"),
            "diff/diff-with-drift-ignore.golden",
        ),
        (
            "configmaps",
            "configmaps",
            "diff/flux-kustomization-configmaps.yaml",
            Some("diff/existing-configmap.yaml"),
            "diff/diff-taking-ownership.golden",
        ),
        (
            "new-namespace-only",
            "new-namespace-only",
            "diff/flux-kustomization-new-namespace-only.yaml",
            None,
            "diff/diff-new-namespace-only.golden",
        ),
    ];
    let mut differences = Vec::new();
    for (name, path, file, object, golden) in cases {
        let file = kustomization_fixture(dir.path(), file, &fluxns, &target);
        let local = LocalBuild {
            name: name.into(),
            kustomization_file: Some(file),
            ..local(fixtures().join(path), None)
        };
        let seeded = match object {
            Some(object) => seed(&client, &fixture(object, &fluxns, &target)).await,
            None => Vec::new(),
        };
        let run =
            capture(async |p| diff(&client, &diff_args(&fluxns, local.clone(), true), p).await)
                .await;
        unseed(seeded).await;
        let error = run.result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains(CHANGES_FOUND), "{golden}: {error}");
        let want = fixture(golden, &fluxns, &target);
        if run.out != want {
            differences.push(format!(
                "{golden}:\n--- flux\n{want}--- driftless\n{}",
                run.out
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));

    // A new namespace with an object in it: the object's dry-run fails as the namespace does
    // not exist yet, and the diff fails (status 2) with flux's message.
    let file = kustomization_fixture(
        dir.path(),
        "diff/flux-kustomization-new-namespace-and-configmap.yaml",
        &fluxns,
        &target,
    );
    let local_new = LocalBuild {
        name: "new-namespace-and-configmap".into(),
        kustomization_file: Some(file),
        ..local(fixtures().join("new-namespace-and-configmap"), None)
    };
    let run = capture(async |p| diff(&client, &diff_args(&fluxns, local_new, true), p).await).await;
    let error = run.result.expect_err("the dry-run fails");
    assert_eq!(error.exit_code(), FAILED);
    assert_eq!(
        error.to_string(),
        "ConfigMap/new-ns/app-config not found: namespaces \"new-ns\" not found"
    );
}

/// flux's drift ignore case with its rule's target narrowed by set-based label selectors: one
/// that selects the Service gives flux's golden, one that does not reports the ports' drift.
#[tokio::test(flavor = "multi_thread")]
async fn drift_ignore_rules_select_their_targets_with_set_based_label_selectors() {
    let (client, _namespaces, fluxns, target) = setup("flux-ignore-sel").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let original = fixture(
        "diff/flux-kustomization-drift-ignore.yaml",
        &fluxns,
        &target,
    )
    .replace(
        "targetNamespace: default",
        &format!("targetNamespace: {target}"),
    );
    let with_selector = |selector: &str| {
        let text = original.replace(
            "        kind: Service\n",
            &format!("        kind: Service\n        labelSelector: \"{selector}\"\n"),
        );
        assert_ne!(
            text, original,
            "the rule's target is where the test expects it"
        );
        let path = dir.path().join(format!("ks-{}.yaml", text.len()));
        std::fs::write(&path, text).expect("write kustomization file");
        LocalBuild {
            kustomization_file: Some(path),
            ..local(fixtures().join("podinfo"), None)
        }
    };
    let selecting = with_selector("kustomize.toolkit.fluxcd.io/name in (podinfo, other),!legacy");
    let not_selecting = with_selector("kustomize.toolkit.fluxcd.io/name notin (podinfo)");
    let seeded = seed(
        &client,
        &fixture("diff/drifted-service-no-labels.yaml", &fluxns, &target),
    )
    .await;
    let selected =
        capture(async |p| diff(&client, &diff_args(&fluxns, selecting, true), p).await).await;
    let unselected =
        capture(async |p| diff(&client, &diff_args(&fluxns, not_selecting, true), p).await).await;
    unseed(seeded).await;
    for run in [&selected, &unselected] {
        let error = run.result.as_ref().expect_err("changes found");
        assert_eq!(error.exit_code(), CHANGED, "{error}");
    }
    assert_eq!(
        selected.out,
        fixture("diff/diff-with-drift-ignore.golden", &fluxns, &target)
    );
    let out = &unselected.out;
    assert!(
        out.contains(&format!("► Service/{target}/podinfo drifted\n")),
        "{out}"
    );
    assert!(out.contains("spec.ports"), "{out}");
}

/// The kind and name of each YAML document of `text`, in order.
fn kinds_and_names(documents: &[String]) -> Vec<(String, String)> {
    documents
        .iter()
        .flat_map(|d| serde_saphyr::from_multiple::<Value>(d).expect("yaml"))
        .filter(|d| !d.is_null())
        .map(|d| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (text(&d["kind"]), text(&d["metadata"]["name"]))
        })
        .collect()
}

#[tokio::test]
async fn kustomize_controller_builds_its_objects_in_the_order_driftless_build_prints_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = kustomization_file(dir.path(), "flux-system", "default");
    let ks: driftless_api::kustomize::Kustomization =
        serde_saphyr::from_str(&std::fs::read_to_string(&file).expect("read")).expect("ks");
    for (path, _) in BUILDS {
        let text = build_text(
            None,
            "flux-system",
            &local(fixtures().join(path), Some(file.clone())),
        )
        .await;
        let cli = kinds_and_names(&documents(&text));
        let controller = driftless_kustomize_controller::build::kustomize(
            &ks,
            &fixtures(),
            &fixtures().join(path),
        )
        .expect("the controller builds");
        assert_eq!(kinds_and_names(&controller), cli, "{path}");
        // Not kustomize's kind order: the Service comes before the Secrets in the input.
        let position = |kind: &str| cli.iter().position(|(k, _)| k == kind);
        if path == "podinfo" {
            assert!(position("Service") < position("Secret"), "{cli:?}");
        }
    }
}
