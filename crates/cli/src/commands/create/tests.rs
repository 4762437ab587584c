use clap::Parser;

use super::*;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: CreateArgs,
}

fn export(argv: &str) -> Result<String, ClusterError> {
    let args = Cli::try_parse_from(std::iter::once("create").chain(argv.split_whitespace()))
        .expect("parses")
        .args;
    let object = object(&args)?;
    Ok(yaml::go_stream(&[object]).expect("renders"))
}

#[test]
fn a_git_source_exports_as_flux_exports_it() {
    // flux's own golden file for this command line.
    let text = export(
        "source git podinfo --url=https://github.com/stefanprodan/podinfo --branch=master \
         --sparse-checkout-paths .cosign,non-existent-dir/ --ignore-paths .cosign,non-existent-dir/ -n default --interval 1m",
    )
    .expect("valid");
    assert_eq!(
        text,
        "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: podinfo\n  namespace: default\n\
         spec:\n  ignore: |-\n    .cosign\n    non-existent-dir/\n  interval: 1m0s\n  ref:\n    branch: master\n\
         \x20 sparseCheckout:\n  - .cosign\n  - non-existent-dir/\n  url: https://github.com/stefanprodan/podinfo\n"
    );
}

#[test]
fn a_basic_auth_git_secret_exports_its_credentials_as_string_data() {
    let text = export(
        "secret git podinfo-auth --url=https://github.com/stefanprodan/podinfo --username=my-username --password=my-password --namespace=my-namespace",
    )
    .expect("valid");
    assert_eq!(
        text,
        "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: podinfo-auth\n  namespace: my-namespace\n\
         stringData:\n  password: my-password\n  username: my-username\n"
    );
}

#[test]
fn a_kustomization_needs_a_source_and_takes_kind_name_and_namespace() {
    let err = export("kustomization my-app --path=./deploy").expect_err("no source");
    assert_eq!(err.to_string(), "invalid argument: source is required");
    let text = export("kustomization apps --source=GitRepository/fleet.infra --path=./apps --prune=true --interval=5m")
        .expect("valid");
    assert!(
        text.contains("  interval: 5m0s\n  path: ./apps\n  prune: true\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  sourceRef:\n    kind: GitRepository\n    name: fleet\n    namespace: infra\n"
        ),
        "{text}"
    );
}

#[test]
fn a_git_source_without_a_ref_is_refused() {
    let err = export("source git podinfo --url=https://example.com/repo").expect_err("no ref");
    assert!(err.to_string().contains("a Git ref is required"), "{err}");
}

#[test]
fn a_helm_repository_exports_as_flux_exports_it() {
    // flux's golden files for these command lines.
    let https = export(
        "source helm podinfo --url=https://stefanprodan.github.io/charts/podinfo --interval 5m -n flux-system",
    )
    .expect("valid");
    assert_eq!(
        https,
        "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: podinfo\n  \
         namespace: flux-system\nspec:\n  interval: 5m0s\n  url: https://stefanprodan.github.io/charts/podinfo\n"
    );
    let oci = export(
        "source helm podinfo --url=oci://ghcr.io/stefanprodan/charts/podinfo --interval 5m --secret-ref=creds -n flux-system",
    )
    .expect("valid");
    assert_eq!(
        oci,
        "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: podinfo\n  \
         namespace: flux-system\nspec:\n  interval: 5m0s\n  secretRef:\n    name: creds\n  type: oci\n  \
         url: oci://ghcr.io/stefanprodan/charts/podinfo\n"
    );
    let err = export("source helm podinfo --url=git://example.com/charts").expect_err("scheme");
    assert_eq!(
        err.to_string(),
        "invalid argument: url scheme 'git' not supported, can be: http, https and oci"
    );
}

#[test]
fn an_oci_repository_exports_as_flux_exports_it() {
    let text = export(
        "source oci podinfo --url=oci://ghcr.io/stefanprodan/manifests/podinfo --tag=6.3.5 --interval 10m \
         --layer-media-type=application/vnd.cncf.helm.chart.content.v1.tar+gzip --layer-operation=copy -n flux-system",
    )
    .expect("valid");
    assert_eq!(
        text,
        "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: podinfo\n  \
         namespace: flux-system\nspec:\n  interval: 10m0s\n  layerSelector:\n    \
         mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip\n    operation: copy\n  ref:\n    \
         tag: 6.3.5\n  url: oci://ghcr.io/stefanprodan/manifests/podinfo\n"
    );
    let secret =
        export("source oci podinfo --url=ghcr.io/org/app --tag-semver=1.x --secret-ref=creds")
            .expect("valid");
    assert!(
        secret.contains(
            "  ref:\n    semver: 1.x\n  secretRef:\n    name: creds\n  url: oci://ghcr.io/org/app\n"
        ),
        "{secret}"
    );
    let err = export("source oci podinfo").expect_err("no url");
    assert_eq!(err.to_string(), "invalid argument: url is required");
}

#[test]
fn a_bucket_names_its_bucket_endpoint_and_provider() {
    let text = export(
        "source bucket podinfo --bucket-name=podinfo --endpoint=minio.minio.svc.cluster.local:9000 --insecure --secret-ref=minio",
    )
    .expect("valid");
    assert!(
        text.contains("spec:\n  bucketName: podinfo\n  endpoint: minio.minio.svc.cluster.local:9000\n  \
                       insecure: true\n  interval: 1m0s\n  provider: generic\n  secretRef:\n    name: minio\n"),
        "{text}"
    );
    assert!(export("source bucket podinfo --endpoint=x").is_err());
}

#[test]
fn a_helm_release_takes_its_chart_template_values_and_policies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (base, prod) = (dir.path().join("base.yaml"), dir.path().join("prod.yaml"));
    std::fs::write(
        &base,
        "replicaCount: 1\nimage:\n  tag: 6.0.0\n  pullPolicy: Always\n",
    )
    .expect("write");
    std::fs::write(&prod, "replicaCount: 3\nimage:\n  tag: 6.5.0\n").expect("write");
    let text = export(&format!(
        "helmrelease podinfo --source=HelmRepository/podinfo.flux-system --chart=podinfo --chart-version=>6.0.0 \
         --target-namespace=apps --create-target-namespace --crds=CreateReplace --values={},{} \
         --values-from=configmap/overrides --interval=10m -n apps",
        base.display(),
        prod.display()
    ))
    .expect("valid");
    assert_eq!(
        text,
        "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\n  namespace: apps\n\
         spec:\n  chart:\n    spec:\n      chart: podinfo\n      reconcileStrategy: ChartVersion\n      sourceRef:\n        \
         kind: HelmRepository\n        name: podinfo\n        namespace: flux-system\n      version: '>6.0.0'\n  \
         install:\n    crds: Create\n    createNamespace: true\n  interval: 10m0s\n  targetNamespace: apps\n  \
         upgrade:\n    crds: CreateReplace\n  values:\n    image:\n      pullPolicy: Always\n      tag: 6.5.0\n    \
         replicaCount: 3\n  valuesFrom:\n  - kind: ConfigMap\n    name: overrides\n"
    );
    let chart_ref = export("hr podinfo --chart-ref=OCIRepository/podinfo").expect("valid");
    assert!(
        chart_ref.contains("  chartRef:\n    kind: OCIRepository\n    name: podinfo\n"),
        "{chart_ref}"
    );
    for (line, message) in [
        (
            "hr podinfo --source=HelmRepository/podinfo",
            "chart name or path is required",
        ),
        (
            "hr podinfo --source=Kustomization/x --chart=c",
            "source kind 'Kustomization' is not supported",
        ),
        (
            "hr podinfo --source=HelmRepository/p --chart=c --reconcile-strategy=Sometimes",
            "invalid reconcile strategy",
        ),
        (
            "hr podinfo --source=HelmRepository/p --chart=c --values-from=Deployment/x",
            "reference kind 'Deployment'",
        ),
    ] {
        let err = export(line).expect_err(line).to_string();
        assert!(err.contains(message), "{line}: {err}");
    }
}

#[test]
fn helm_and_registry_secrets_carry_their_credentials_in_the_expected_shape() {
    let helm = export("secret helm repo-auth --username=u --password=p -n apps").expect("valid");
    assert!(
        helm.ends_with("stringData:\n  password: p\n  username: u\n"),
        "{helm}"
    );
    let oci = export("secret oci ghcr-auth --url=ghcr.io --username=bot --password=tok -n apps")
        .expect("valid");
    assert!(
        oci.contains("type: kubernetes.io/dockerconfigjson\n"),
        "{oci}"
    );
    assert!(
        oci.contains(
            r#"'{"auths":{"ghcr.io":{"username":"bot","password":"tok","auth":"Ym90OnRvaw=="}}}'"#
        ),
        "{oci}"
    );
    assert!(export("secret oci x --url=ghcr.io --username=bot").is_err());
}
