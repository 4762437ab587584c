//! Hostile input through the controllers, end to end: an oversize repository index, a chart
//! archive with a path traversal, values that break the chart's values.schema.json, and a
//! template that loops for ever. Each ends in a clear Ready=False condition and nothing
//! reaches the cluster: no object of the chart and no Helm release Secret.

mod common;

use std::io::Write as _;

use common::*;
use driftless_api::helm::HelmRelease;
use driftless_api::source::{HelmChart, HelmRepository};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use testkit::helm_repo::HelmRepoServer;

/// Asserts that release `name` left nothing in the namespace: no `<name>-cfg` ConfigMap of the
/// test chart and no `sh.helm.release.v1.<name>.*` Secret.
async fn assert_nothing_applied(fx: &Fixture, name: &str) -> anyhow::Result<()> {
    let client = &fx.cluster.client;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &fx.ns);
    assert!(
        cms.get_opt(&format!("{name}-cfg")).await?.is_none(),
        "no object of the chart was applied"
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &fx.ns);
    let releases = secrets
        .list(&ListParams::default().labels(&format!("owner=helm,name={name}")))
        .await?;
    assert!(
        releases.items.is_empty(),
        "no release Secret: {:?}",
        releases
            .items
            .iter()
            .map(|s| s.metadata.name.clone())
            .collect::<Vec<_>>()
    );
    Ok(())
}

/// Waits for Ready=False past the wait for the chart (reason `ArtifactFailed`, unless
/// `artifact` says that is the failure expected) and returns (reason, message).
async fn ready_false(
    fx: &Fixture,
    name: &str,
    what: &str,
    artifact: bool,
) -> anyhow::Result<(String, String)> {
    let hr: HelmRelease = wait_for(&fx.api, name, what, |hr| {
        condition(hr, "Ready")
            .is_some_and(|c| c.status == "False" && (artifact == (c.reason == "ArtifactFailed")))
    })
    .await?;
    let ready = condition(&hr, "Ready").expect("Ready");
    Ok((ready.reason.clone(), ready.message.clone()))
}

#[tokio::test]
async fn values_that_break_the_schema_fail_the_release_and_apply_nothing() -> anyhow::Result<()> {
    let fx = Fixture::start("hc-hostile-schema").await?;
    fx.create("schema", json!({"values": {"greeting": 42}}))
        .await?;
    let (reason, message) = ready_false(&fx, "schema", "schema violation", false).await?;
    assert!(
        message.contains("values don't meet the specifications of the schema(s)")
            && message.contains("greeting"),
        "{reason}: {message}"
    );
    // As in Flux, the values are checked inside Helm's install, before a release is stored:
    // the install failed, and nothing was applied.
    assert_eq!(reason, "InstallFailed", "{message}");
    assert!(
        message.starts_with("Helm install failed for release "),
        "{message}"
    );
    assert_nothing_applied(&fx, "schema").await?;
    fx.finish(&["schema"]).await
}

#[tokio::test]
async fn a_template_that_loops_for_ever_is_stopped_and_applies_nothing() -> anyhow::Result<()> {
    let fx = Fixture::start("hc-hostile-loop").await?;
    fx.controllers.repo.add_chart(
        "loop",
        "0.1.0",
        &[
            (
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\n",
            ),
            // Ten billion iterations that write nothing: only a step budget ends them.
            (
                "templates/spin.yaml",
                "{{- range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}\n",
            ),
        ],
    )?;
    // The index the HelmRepository holds predates the chart.
    request_reconcile_repo(&fx).await?;
    let mut hr = helm_release("spin", &fx.controllers.shard, json!({}));
    if let Some(chart) = hr.spec.chart.as_mut() {
        chart.spec.chart = "loop".into();
    }
    fx.api.create(&PostParams::default(), &hr).await?;
    let (reason, message) = ready_false(&fx, "spin", "the render to be stopped", false).await?;
    assert!(
        message.contains("execution exceeds the limit of 50000000 steps"),
        "{reason}: {message}"
    );
    assert_eq!(reason, "InstallFailed", "{message}");
    assert_nothing_applied(&fx, "spin").await?;
    fx.finish(&["spin"]).await
}

/// Asks the `charts` HelmRepository to fetch its index again.
async fn request_reconcile_repo(fx: &Fixture) -> anyhow::Result<()> {
    let repos: Api<HelmRepository> = Api::namespaced(fx.cluster.client.clone(), &fx.ns);
    let token = format!("{:?}", std::time::SystemTime::now());
    repos
        .patch(
            "charts",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}),
            ),
        )
        .await?;
    Ok(())
}

/// A packaged chart `demo` 0.1.0 whose last entry climbs out of the chart directory (the tar
/// builder refuses to write such a path, so the header is filled by hand).
fn traversal_chart() -> anyhow::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut entry = |path: &str, data: &[u8]| -> anyhow::Result<()> {
        let mut header = tar::Header::new_gnu();
        let name = &mut header.as_gnu_mut().expect("gnu header").name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.append(&header, data)?;
        Ok(())
    };
    entry("demo/Chart.yaml", CHART_V1.as_bytes())?;
    entry(
        "demo/templates/cm.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\n",
    )?;
    entry("demo/../../../tmp/evil.yaml", b"owned: true\n")?;
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    Ok(gz.finish()?)
}

#[tokio::test]
async fn a_chart_archive_with_a_path_traversal_is_refused_and_applies_nothing() -> anyhow::Result<()>
{
    let fx = Fixture::start("hc-hostile-tar").await?;
    fx.controllers
        .repo
        .publish("demo", "0.1.1", traversal_chart()?, None);
    request_reconcile_repo(&fx).await?;
    fx.create("escape", json!({})).await?;
    let charts: Api<HelmChart> = Api::namespaced(fx.cluster.client.clone(), &fx.ns);
    let chart_name = format!("{}-escape", fx.ns);
    let chart = testkit::wait::object(&charts, &chart_name, WAIT, "the chart refused", |c| {
        c.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "False" && c.reason == "ChartPullError")
    })
    .await?;
    let message = chart
        .status
        .and_then(|s| s.conditions)
        .and_then(|cs| cs.into_iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.message)
        .unwrap_or_default();
    assert!(
        message.contains("chart illegally references parent directory"),
        "{message}"
    );
    let (reason, message) = ready_false(&fx, "escape", "the release not to start", true).await?;
    assert_eq!(reason, "ArtifactFailed", "{message}");
    assert_nothing_applied(&fx, "escape").await?;
    assert!(!std::path::Path::new("/tmp/evil.yaml").exists());
    fx.finish(&["escape"]).await
}

#[tokio::test]
async fn an_oversize_repository_index_fails_the_repository_and_applies_nothing()
-> anyhow::Result<()> {
    let fx = Fixture::start("hc-hostile-index").await?;
    let huge = HelmRepoServer::start(None).await?;
    // 60 MiB of YAML comment: over Flux's 50 MiB index limit.
    huge.set_raw_index(vec![b'#'; 60 << 20]);
    let repos: Api<HelmRepository> = Api::namespaced(fx.cluster.client.clone(), &fx.ns);
    let repo: HelmRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": "huge", "labels": {SHARD_LABEL: fx.ns}},
        "spec": {"url": huge.url(), "interval": "1h"},
    }))?;
    repos.create(&PostParams::default(), &repo).await?;
    let mut hr = helm_release("oversize", &fx.controllers.shard, json!({}));
    if let Some(chart) = hr.spec.chart.as_mut() {
        chart.spec.source_ref.name = "huge".into();
    }
    fx.api.create(&PostParams::default(), &hr).await?;
    let repo = testkit::wait::object(&repos, "huge", WAIT, "the index refused", |r| {
        r.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "False")
    })
    .await?;
    let ready = repo
        .status
        .and_then(|s| s.conditions)
        .and_then(|cs| cs.into_iter().find(|c| c.type_ == "Ready"))
        .expect("Ready");
    assert!(
        ready
            .message
            .contains("exceeds the maximum allowed size of 52428800 bytes"),
        "{}: {}",
        ready.reason,
        ready.message
    );
    let (reason, message) = ready_false(&fx, "oversize", "the release not to start", true).await?;
    assert_eq!(reason, "ArtifactFailed", "{message}");
    assert_nothing_applied(&fx, "oversize").await?;
    // The repository's finalizer runs while source-controller is still up.
    repos.delete("huge", &Default::default()).await?;
    testkit::wait::until(WAIT, "HelmRepository huge to be deleted", || {
        let repos = repos.clone();
        async move {
            match repos.get_opt("huge").await {
                Ok(None) => Ok(Some(())),
                Ok(Some(_)) => Err("still there".to_owned()),
                Err(e) => Err(e.to_string()),
            }
        }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    fx.finish(&["oversize"]).await
}
