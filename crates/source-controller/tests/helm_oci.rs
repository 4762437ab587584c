//! HelmChart from an `oci` HelmRepository against a loopback registry: the chart version
//! resolved from the registry's tags by a semver constraint, the chart layer pulled with the
//! repository's credentials (basic auth or a `.dockerconfigjson` Secret), a new tag followed on
//! the next reconcile, an exact version pulled without listing tags, and the failures users see
//! (no matching version, wrong password) with Flux's reasons and no secret in the message.

mod common;
mod helm_common;

use std::collections::BTreeMap;

use base64::Engine as _;
use common::*;
use driftless_api::source::{HelmChart, HelmRepository};
use helm_common::*;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::json;
use testkit::TestNamespace;
use testkit::helm_repo::package;
use testkit::oci_registry::{OciRegistry, RegistryAuth};

const VALUES: &str = "greeting: hello\n";

fn secret(name: &str, pairs: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        data: Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}

fn revision(chart: &HelmChart) -> Option<String> {
    chart
        .status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.revision.clone())
}

#[tokio::test]
async fn a_chart_from_an_oci_helmrepository_follows_the_highest_tag_matching_its_constraint()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_helm_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-helm-oci").await?;
    let registry = OciRegistry::start(RegistryAuth::Basic {
        username: "helm".into(),
        password: "oci-pass-123".into(),
    })
    .await?;
    let mut pushed = BTreeMap::new();
    for version in ["0.1.0", "0.2.0", "1.0.0-rc.1", "2.0.0"] {
        let tgz = package("demo", version, &[("values.yaml", VALUES)])?;
        registry.push_helm_chart("charts/demo", "demo", version, tgz.clone());
        pushed.insert(version, tgz);
    }
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let repos: Api<HelmRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let charts: Api<HelmChart> = Api::namespaced(cluster.client.clone(), ns.name());
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), ns.name());
    secrets
        .create(
            &PostParams::default(),
            &secret(
                "basic",
                &[("username", "helm"), ("password", "oci-pass-123")],
            ),
        )
        .await?;
    create_repository(
        &repos,
        "oci",
        ns.name(),
        &registry.oci_url("charts"),
        json!({"type": "oci", "secretRef": {"name": "basic"}, "insecure": true}),
    )
    .await?;
    create_chart(
        &charts,
        "demo",
        ns.name(),
        "oci",
        "demo",
        json!({"version": "<1.0.0"}),
    )
    .await?;
    let chart = chart_ready_is(&charts, "demo", "True", "ChartPullSucceeded").await?;
    assert_eq!(
        chart_ready(&chart).map(|c| c.message.as_str()),
        Some("pulled 'demo' chart with version '0.2.0'")
    );
    let status = chart.status.clone().expect("status");
    assert_eq!(status.observed_chart_name.as_deref(), Some("demo"));
    assert_eq!(status.observed_source_artifact_revision, None);
    let artifact = status.artifact.expect("artifact");
    assert_eq!(artifact.revision, "0.2.0");
    let (_, tgz) = http_get(&artifact.url).await?;
    assert_eq!(
        Some(&tgz),
        pushed.get("0.2.0"),
        "the pulled chart is stored as is"
    );
    assert_eq!(artifact.digest, sha256(&tgz));

    // A new tag is seen on the next reconcile.
    let tgz = package("demo", "0.3.0", &[("values.yaml", VALUES)])?;
    registry.push_helm_chart("charts/demo", "demo", "0.3.0", tgz);
    request_reconcile_helm(&charts, "demo", "one").await?;
    chart_until(&charts, "demo", "demo at 0.3.0", |c| {
        revision(c).as_deref() == Some("0.3.0")
    })
    .await?;

    // An exact version is pulled as its tag: the registry's tag list is not read.
    let listed_before = tag_lists(&registry);
    merge_spec(&charts, "demo", json!({"version": "0.1.0"})).await?;
    chart_until(&charts, "demo", "demo at 0.1.0", |c| {
        revision(c).as_deref() == Some("0.1.0")
    })
    .await?;
    assert_eq!(tag_lists(&registry), listed_before);

    // Values files are merged and the generation becomes version metadata.
    merge_spec(
        &charts,
        "demo",
        json!({"version": "*", "valuesFiles": ["values.yaml"]}),
    )
    .await?;
    chart_until(&charts, "demo", "demo at 2.0.0", |c| {
        revision(c).as_deref() == Some("2.0.0")
    })
    .await?;

    // A constraint nothing matches stalls with Flux's message.
    merge_spec(&charts, "demo", json!({"version": "5.x"})).await?;
    let chart = chart_ready_is(&charts, "demo", "False", "InvalidChartReference").await?;
    assert_eq!(
        chart_ready(&chart).map(|c| c.message.as_str()),
        Some(
            "invalid chart reference: failed to get chart version for remote reference: could not locate a version matching provided version string 5.x"
        )
    );
    charts.delete("demo", &Default::default()).await?;
    repos.delete("oci", &Default::default()).await?;
    controller.stop().await
}

fn tag_lists(registry: &OciRegistry) -> usize {
    registry
        .requests()
        .iter()
        .filter(|r| r.contains("/tags/list"))
        .count()
}

#[tokio::test]
async fn dockerconfigjson_credentials_pull_and_a_wrong_password_fails_without_leaking_it()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_helm_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-helm-oci-auth").await?;
    let registry = OciRegistry::start(RegistryAuth::Token {
        username: "robot".into(),
        password: "right-token-pass".into(),
    })
    .await?;
    let tgz = package("demo", "1.2.3+build.7", &[("values.yaml", VALUES)])?;
    registry.push_helm_chart("team/demo", "demo", "1.2.3+build.7", tgz);
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let repos: Api<HelmRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let charts: Api<HelmChart> = Api::namespaced(cluster.client.clone(), ns.name());
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), ns.name());
    let docker = |password: &str| {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("robot:{password}"));
        json!({"auths": {registry.host(): {"auth": auth}}}).to_string()
    };
    secrets
        .create(
            &PostParams::default(),
            &secret("wrong", &[(".dockerconfigjson", &docker("not-the-pass"))]),
        )
        .await?;
    secrets
        .create(
            &PostParams::default(),
            &secret(
                "right",
                &[(".dockerconfigjson", &docker("right-token-pass"))],
            ),
        )
        .await?;
    create_repository(
        &repos,
        "oci",
        ns.name(),
        &format!("{}/", registry.oci_url("team")),
        json!({"type": "oci", "secretRef": {"name": "wrong"}}),
    )
    .await?;
    create_chart(&charts, "demo", ns.name(), "oci", "demo", json!({})).await?;
    let chart = chart_ready_is(&charts, "demo", "False", "ChartPullError").await?;
    let message = chart_ready(&chart)
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.starts_with("chart pull error: failed to get chart version for remote reference: could not get tags for \"demo\""),
        "{message}"
    );
    assert!(!message.contains("not-the-pass"), "{message}");

    // The right credentials pull the chart; the build metadata tag `_` reads as `+`.
    merge_spec(&repos, "oci", json!({"secretRef": {"name": "right"}})).await?;
    request_reconcile_helm(&charts, "demo", "again").await?;
    let chart = chart_ready_is(&charts, "demo", "True", "ChartPullSucceeded").await?;
    assert_eq!(revision(&chart).as_deref(), Some("1.2.3+build.7"));
    charts.delete("demo", &Default::default()).await?;
    controller.stop().await
}

/// Runs the pinned `helm` with `args` off the runtime thread (the registry serves on it).
async fn helm(args: Vec<String>, home: std::path::PathBuf) -> anyhow::Result<String> {
    let tool = testkit::gotools::pinned_tool("helm")?;
    let bin = tool.ensure(&testkit::Cache::from_env())?.path("helm");
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(bin)
            .args(&args)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "helm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    })
    .await?
}

#[tokio::test]
async fn a_chart_pushed_by_the_real_helm_is_pulled() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_helm_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-helm-oci-push").await?;
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    let work = tempfile::tempdir()?;
    let chart_dir = work.path().join("pushed");
    std::fs::create_dir_all(chart_dir.join("templates"))?;
    std::fs::write(
        chart_dir.join("Chart.yaml"),
        "apiVersion: v2\nname: pushed\nversion: 1.4.0+meta\n",
    )?;
    std::fs::write(chart_dir.join("values.yaml"), VALUES)?;
    let path = |p: &std::path::Path| p.display().to_string();
    helm(
        vec![
            "package".into(),
            path(&chart_dir),
            "-d".into(),
            path(work.path()),
        ],
        work.path().to_path_buf(),
    )
    .await?;
    let tgz_path = work.path().join("pushed-1.4.0+meta.tgz");
    helm(
        vec![
            "push".into(),
            path(&tgz_path),
            registry.oci_url("charts"),
            "--plain-http".into(),
        ],
        work.path().to_path_buf(),
    )
    .await?;
    assert!(
        registry
            .tags("charts/pushed")
            .contains(&"1.4.0_meta".to_owned())
    );
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let repos: Api<HelmRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let charts: Api<HelmChart> = Api::namespaced(cluster.client.clone(), ns.name());
    create_repository(
        &repos,
        "oci",
        ns.name(),
        &registry.oci_url("charts"),
        json!({"type": "oci"}),
    )
    .await?;
    create_chart(&charts, "pushed", ns.name(), "oci", "pushed", json!({})).await?;
    let chart = chart_ready_is(&charts, "pushed", "True", "ChartPullSucceeded").await?;
    assert_eq!(revision(&chart).as_deref(), Some("1.4.0+meta"));
    let artifact = chart.status.and_then(|s| s.artifact).expect("artifact");
    let (_, tgz) = http_get(&artifact.url).await?;
    assert_eq!(
        tgz,
        std::fs::read(&tgz_path)?,
        "the chart helm pushed, as is"
    );
    charts.delete("pushed", &Default::default()).await?;
    controller.stop().await
}
