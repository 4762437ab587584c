//! HelmReleases from every chart source a user points them at, end to end on the local
//! control plane: an OCIRepository selecting the Helm chart layer (`chartRef`), a chart
//! template on an `oci` HelmRepository, and a chart template on a GitRepository whose chart
//! has a `file://` dependency in the same repository. The real `helm list -A` shows every
//! release as deployed.

mod common;

use common::*;
use driftless_api::helm::HelmRelease;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use testkit::git_server::{GitAuth, GitServer};
use testkit::helm_repo::package;
use testkit::oci_registry::{HELM_CHART_MEDIA_TYPE, OciRegistry, RegistryAuth};

/// The API of source kind `kind` in the test's namespace.
fn sources(fx: &Fixture, kind: &str) -> Api<kube::api::DynamicObject> {
    let plural = match kind {
        "OCIRepository" => "ocirepositories",
        "HelmRepository" => "helmrepositories",
        _ => "gitrepositories",
    };
    let resource = kube::discovery::ApiResource {
        group: "source.toolkit.fluxcd.io".into(),
        version: "v1".into(),
        api_version: "source.toolkit.fluxcd.io/v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    Api::namespaced_with(fx.cluster.client.clone(), &fx.ns, &resource)
}

/// Creates a source object of the test's shard.
async fn create_source(fx: &Fixture, kind: &str, name: &str, spec: Value) -> anyhow::Result<()> {
    let object: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": kind,
        "metadata": {"name": name, "labels": {SHARD_LABEL: fx.ns}},
        "spec": spec,
    }))?;
    sources(fx, kind)
        .create(&PostParams::default(), &object)
        .await?;
    Ok(())
}

/// Deletes a source and waits until its finalizer has run (the controller must still be up).
async fn delete_source(fx: &Fixture, kind: &str, name: &str) -> anyhow::Result<()> {
    let api = sources(fx, kind);
    api.delete(name, &Default::default()).await?;
    testkit::wait::until(WAIT, &format!("{kind} {name} to be deleted"), || {
        let api = api.clone();
        async move {
            match api.get_opt(name).await {
                Ok(None) => Ok(Some(())),
                Ok(Some(_)) => Err("still there".to_owned()),
                Err(e) => Err(e.to_string()),
            }
        }
    })
    .await
    .map_err(anyhow::Error::msg)
}

/// A HelmRelease of the test's shard with exactly `spec` (no default chart template).
async fn create_release(fx: &Fixture, name: &str, spec: Value) -> anyhow::Result<()> {
    let hr: HelmRelease = serde_json::from_value(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "labels": {SHARD_LABEL: fx.ns}},
        "spec": spec,
    }))?;
    fx.api.create(&PostParams::default(), &hr).await?;
    Ok(())
}

/// The test chart at 0.1.0, packaged.
fn demo_chart() -> anyhow::Result<Vec<u8>> {
    let mut files = chart_files(CHART_V1);
    files.retain(|(p, _)| *p != "Chart.yaml");
    files.push(("Chart.yaml", CHART_V1));
    package("demo", "0.1.0", &files)
}

/// `helm list -A` entries of the namespace: (name, chart, status).
fn helm_list(fx: &Fixture) -> anyhow::Result<Vec<(String, String, String)>> {
    let list = Helm::new(&fx.cluster)?.json(&["list", "-A", "-o", "json"])?;
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
    let mut out: Vec<(String, String, String)> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["namespace"] == fx.ns.as_str())
        .map(|r| (text(r, "name"), text(r, "chart"), text(r, "status")))
        .collect();
    out.sort();
    Ok(out)
}

#[tokio::test]
async fn releases_install_from_an_oci_chart_ref_and_from_an_oci_helmrepository()
-> anyhow::Result<()> {
    let fx = Fixture::start("hc-oci").await?;
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    let digest = registry.push_helm_chart("charts/demo", "demo", "0.1.0", demo_chart()?);
    // Flux versions a chart from an OCIRepository with the manifest digest as metadata.
    let by_ref_version = format!("0.1.0+{}", &digest["sha256:".len()..][..12]);

    create_source(
        &fx,
        "OCIRepository",
        "demo",
        json!({
            "url": registry.oci_url("charts/demo"),
            "interval": "1h",
            "ref": {"semver": ">=0.1.0"},
            "layerSelector": {"mediaType": HELM_CHART_MEDIA_TYPE, "operation": "copy"},
        }),
    )
    .await?;
    create_release(
        &fx,
        "by-ref",
        json!({
            "interval": "10m",
            "chartRef": {"kind": "OCIRepository", "name": "demo"},
            "values": {"greeting": "from-oci-ref"},
        }),
    )
    .await?;

    create_source(
        &fx,
        "HelmRepository",
        "oci-charts",
        json!({"url": registry.oci_url("charts"), "type": "oci", "interval": "1h"}),
    )
    .await?;
    create_release(
        &fx,
        "by-repo",
        json!({
            "interval": "10m",
            "chart": {
                "metadata": {"labels": {SHARD_LABEL: fx.ns}},
                "spec": {
                    "chart": "demo",
                    "version": "0.1.x",
                    "interval": "1m",
                    "sourceRef": {"kind": "HelmRepository", "name": "oci-charts"},
                },
            },
            "values": {"greeting": "from-oci-helmrepository"},
        }),
    )
    .await?;

    let hr = wait_released(&fx.api, "by-ref", 1).await?;
    let status = hr.status.clone().expect("status");
    assert_eq!(
        status.last_attempted_revision.as_deref(),
        Some(by_ref_version.as_str())
    );
    wait_released(&fx.api, "by-repo", 1).await?;
    let client = &fx.cluster.client;
    assert_eq!(
        greeting(client, &fx.ns, "by-ref-cfg").await?.as_deref(),
        Some("from-oci-ref")
    );
    assert_eq!(
        greeting(client, &fx.ns, "by-repo-cfg").await?.as_deref(),
        Some("from-oci-helmrepository")
    );
    let deployed = |name: &str| {
        (
            name.to_owned(),
            "demo-0.1.0".to_owned(),
            "deployed".to_owned(),
        )
    };
    assert_eq!(
        helm_list(&fx)?,
        vec![deployed("by-ref"), deployed("by-repo")]
    );
    delete_source(&fx, "OCIRepository", "demo").await?;
    delete_source(&fx, "HelmRepository", "oci-charts").await?;
    fx.finish(&["by-ref", "by-repo"]).await
}

#[tokio::test]
async fn a_release_installs_a_chart_from_git_with_a_file_dependency() -> anyhow::Result<()> {
    let fx = Fixture::start("hc-git").await?;
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("platform")?;
    repo.commit_files(
        "main",
        &[
            (
                "charts/app/Chart.yaml",
                "apiVersion: v2\nname: app\nversion: 1.2.0\ndependencies:\n- name: common\n  version: ~1.0.0\n  repository: file://../common\n",
            ),
            ("charts/app/values.yaml", "greeting: from-git\n"),
            (
                "charts/app/templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n  greeting: {{ include \"common.greeting\" . | quote }}\n",
            ),
            (
                "charts/common/Chart.yaml",
                "apiVersion: v2\nname: common\nversion: 1.0.3\ntype: library\n",
            ),
            (
                "charts/common/templates/_helpers.tpl",
                "{{- define \"common.greeting\" -}}{{ .Values.greeting }} via common{{- end -}}\n",
            ),
        ],
        "App chart with a library dependency",
    )?;
    create_source(
        &fx,
        "GitRepository",
        "platform",
        json!({"url": git.url("platform"), "interval": "1h", "ref": {"branch": "main"}}),
    )
    .await?;
    create_release(
        &fx,
        "app",
        json!({
            "interval": "10m",
            "chart": {
                "metadata": {"labels": {SHARD_LABEL: fx.ns}},
                "spec": {
                    "chart": "./charts/app",
                    "interval": "1m",
                    "sourceRef": {"kind": "GitRepository", "name": "platform"},
                },
            },
        }),
    )
    .await?;
    let hr = wait_released(&fx.api, "app", 1).await?;
    let ready = condition(&hr, "Ready").expect("Ready");
    assert_eq!(
        ready.message,
        format!(
            "Helm install succeeded for release {}/app.v1 with chart app@1.2.0",
            fx.ns
        )
    );
    assert_eq!(
        greeting(&fx.cluster.client, &fx.ns, "app-cfg")
            .await?
            .as_deref(),
        Some("from-git via common")
    );
    assert_eq!(
        helm_list(&fx)?,
        vec![(
            "app".to_owned(),
            "app-1.2.0".to_owned(),
            "deployed".to_owned()
        )]
    );
    delete_source(&fx, "GitRepository", "platform").await?;
    fx.finish(&["app"]).await
}
