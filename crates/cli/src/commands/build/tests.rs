use base64::Engine as _;
use serde_json::json;

use super::*;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

const KS: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./
  prune: true
  targetNamespace: prod
  commonMetadata:
    labels:
      team: web
  postBuild:
    substitute:
      replicas: \"3\"
  sourceRef:
    kind: GitRepository
    name: fleet
";

#[tokio::test]
async fn a_dry_run_build_applies_the_overlay_substitutions_and_owner_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  replicas: \"${replicas}\"\n  missing: \"${nothing:=fallback}\"\n",
    );
    let file = dir.path().join("ks.yaml");
    write(
        dir.path(),
        "ks.yaml",
        &format!("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n---\n{KS}"),
    );
    // The Kustomization file sits outside the built path.
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).expect("mkdir");
    std::fs::rename(dir.path().join("cm.yaml"), manifests.join("cm.yaml")).expect("mv");
    let local = LocalBuild {
        name: "apps".into(),
        path: manifests.clone(),
        kustomization_file: Some(file),
        ..LocalBuild::default()
    };
    let built = build(None, "flux-system", &local).await.expect("builds");
    assert_eq!(
        manifests_text(&built.objects),
        // kustomize prints `${replicas}` plain, so the substituted 3 is a number, as in Flux.
        "apiVersion: v1\ndata:\n  missing: fallback\n  replicas: 3\nkind: ConfigMap\nmetadata:\n  labels:\n    \
         kustomize.toolkit.fluxcd.io/name: apps\n    kustomize.toolkit.fluxcd.io/namespace: flux-system\n    \
         team: web\n  name: settings\n  namespace: prod\n---\n"
    );
    // Flux generates a kustomization.yaml for the build; the directory is left as it was.
    assert!(!manifests.join("kustomization.yaml").exists());
}

fn manifests_text(objects: &[Value]) -> String {
    manifests(objects).expect("yaml")
}

#[tokio::test]
async fn a_kustomization_missing_from_the_file_or_a_dry_run_without_one_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "ks.yaml", KS);
    let mut local = LocalBuild {
        name: "other".into(),
        path: dir.path().to_path_buf(),
        kustomization_file: Some(dir.path().join("ks.yaml")),
        ..LocalBuild::default()
    };
    let error = build(None, "flux-system", &local)
        .await
        .err()
        .expect("not found");
    assert!(
        error
            .to_string()
            .contains("failed find kustomization with name 'other' and namespace 'flux-system'"),
        "{error}"
    );
    local.kustomization_file = None;
    let error = build(None, "flux-system", &local)
        .await
        .err()
        .expect("no file");
    assert!(
        error
            .to_string()
            .contains("kustomization file is required for dry-run"),
        "{error}"
    );
    local.path = dir.path().join("missing");
    let error = build(None, "flux-system", &local)
        .await
        .err()
        .expect("no dir");
    assert!(
        error.to_string().contains("invalid resource path"),
        "{error}"
    );
}

#[test]
fn sops_encrypted_secret_values_are_masked_never_printed() {
    let mut whole = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "data": {"password": "RU5DW0FFUzI1Nl9HQ00sZGF0YTpzZWNyZXRd"},
        "stringData": {"token": "ENC[AES256_GCM,data:abc]"},
        "sops": {"mac": "ENC[AES256_GCM,data:mac]", "version": "3.9"}});
    mask_sops(&mut whole);
    assert!(whole.get("sops").is_none());
    assert_eq!(whole["data"]["password"], "KipTT1BTKio=");
    assert_eq!(whole["stringData"]["token"], SOPS_MASK);

    // A plain Secret whose one value is an encrypted file: only that value is masked.
    let encrypted_file =
        base64::engine::general_purpose::STANDARD.encode("sops:\n  mac: ENC[AES256_GCM,data:x]\n");
    let mut partly =
        json!({"kind": "Secret", "data": {"file.yaml": encrypted_file, "plain": "eA=="}});
    mask_sops(&mut partly);
    assert_eq!(partly["data"]["file.yaml"], "KipTT1BTKio=");
    assert_eq!(partly["data"]["plain"], "eA==");

    let mut registry = json!({"kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": "ENC[AES256_GCM,data:x]"}, "sops": {"mac": "ENC[x]"}});
    mask_sops(&mut registry);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(registry["data"][".dockerconfigjson"].as_str().expect("str"))
        .expect("b64");
    assert_eq!(
        String::from_utf8(decoded).expect("utf8"),
        r#"{"mask":"**SOPS**"}"#
    );

    let mut cm = json!({"kind": "ConfigMap", "data": {"v": "ENC[sops]"}});
    mask_sops(&mut cm);
    assert_eq!(cm["data"]["v"], "ENC[sops]");
}

#[test]
fn fluxs_build_and_diff_flags_parse_as_flux_spells_them() {
    use clap::Parser as _;

    use crate::cli::{Cli, Command};
    use crate::commands::diff::DiffWhat;

    let cli = Cli::try_parse_from([
        "driftless",
        "build",
        "ks",
        "podinfo",
        "--path=./x",
        "--ignore-paths",
        "!a.yaml,b/**",
        "-r",
        "--local-sources",
        "GitRepository/flux-system/fleet=./git,OCIRepository/apps/oci=./oci",
        "--in-memory-build=true",
        "--strict-substitute",
        "--dry-run=false",
    ])
    .expect("parses");
    let Command::Build(args) = cli.command else {
        panic!("not build");
    };
    let BuildWhat::Kustomization(ks) = args.what;
    assert_eq!(ks.local.ignore_paths, vec!["!a.yaml", "b/**"]);
    assert!(ks.local.recursive && ks.local.in_memory_build && ks.local.strict_substitute);
    assert!(!ks.dry_run);
    assert_eq!(ks.local.local_sources.len(), 2);
    assert_eq!(ks.local.local_sources[1].source, "OCIRepository/apps/oci");

    let cli = Cli::try_parse_from([
        "driftless",
        "diff",
        "kustomization",
        "podinfo",
        "--path",
        "./x",
        "--progress-bar=false",
        "--ignore-not-found",
        "--recursive=true",
    ])
    .expect("parses");
    let Command::Diff(args) = cli.command else {
        panic!("not diff");
    };
    let DiffWhat::Kustomization(ks) = args.what;
    assert!(!ks.progress_bar && ks.ignore_not_found && ks.local.recursive);
    // diff has no --dry-run, as in flux.
    assert!(
        Cli::try_parse_from(["driftless", "diff", "ks", "x", "--path=.", "--dry-run"]).is_err()
    );
}
