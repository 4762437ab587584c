//! Helpers for the HelmRepository/HelmChart tests: the Helm source CRDs, objects in a test's
//! shard, and waits on their conditions.

#![allow(dead_code)]

use anyhow::Context as _;
use driftless_api::source::{HelmChart, HelmRepository};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use crate::common::{SHARD_LABEL, WAIT};

/// Installs the HelmRepository and HelmChart CRDs (shared, never deleted).
pub async fn install_helm_crds(client: &kube::Client) -> anyhow::Result<()> {
    for name in [
        "helmrepositories.source.toolkit.fluxcd.io",
        "helmcharts.source.toolkit.fluxcd.io",
    ] {
        let crd = driftless_api::crds()
            .into_iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .with_context(|| format!("driftless_api::crds() has {name}"))?;
        testkit::install_crd(client, &crd, "driftless-source-controller-tests").await?;
    }
    Ok(())
}

fn with_spec(kind: &str, name: &str, shard: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": kind,
        "metadata": {"name": name, "labels": {SHARD_LABEL: shard}},
        "spec": spec,
    })
}

/// Creates a HelmRepository for `url` with `extra` spec fields.
pub async fn create_repository(
    api: &Api<HelmRepository>,
    name: &str,
    shard: &str,
    url: &str,
    extra: Value,
) -> anyhow::Result<HelmRepository> {
    let mut spec = json!({"url": url, "interval": "1h0m0s"});
    if let (Some(base), Some(more)) = (spec.as_object_mut(), extra.as_object()) {
        base.extend(more.clone());
    }
    let repo: HelmRepository =
        serde_json::from_value(with_spec("HelmRepository", name, shard, spec))?;
    Ok(api.create(&PostParams::default(), &repo).await?)
}

/// A HelmChart in the test's shard with `spec` as given.
pub fn chart_object(name: &str, shard: &str, spec: Value) -> anyhow::Result<HelmChart> {
    Ok(serde_json::from_value(with_spec(
        "HelmChart",
        name,
        shard,
        spec,
    ))?)
}

/// Merges `spec` into the object's spec.
pub async fn merge_spec<K>(api: &Api<K>, name: &str, spec: Value) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + std::fmt::Debug + k8s_openapi::serde::de::DeserializeOwned,
{
    api.patch(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({ "spec": spec })),
    )
    .await?;
    Ok(())
}

/// Sets `reconcile.fluxcd.io/requestedAt` on a Helm source, as `flux reconcile source helm`.
pub async fn request_reconcile_helm<K>(api: &Api<K>, name: &str, token: &str) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + std::fmt::Debug + k8s_openapi::serde::de::DeserializeOwned,
{
    api.patch(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}),
        ),
    )
    .await?;
    Ok(())
}

/// Creates a HelmChart of `chart` from HelmRepository `repo` with `extra` spec fields.
pub async fn create_chart(
    api: &Api<HelmChart>,
    name: &str,
    shard: &str,
    repo: &str,
    chart: &str,
    extra: Value,
) -> anyhow::Result<HelmChart> {
    let mut spec = json!({
        "chart": chart,
        "interval": "1h0m0s",
        "sourceRef": {"kind": "HelmRepository", "name": repo},
    });
    if let (Some(base), Some(more)) = (spec.as_object_mut(), extra.as_object()) {
        base.extend(more.clone());
    }
    Ok(api
        .create(&PostParams::default(), &chart_object(name, shard, spec)?)
        .await?)
}

/// The condition `type_` in `conditions`.
pub fn find<'a>(conditions: Option<&'a Vec<Condition>>, type_: &str) -> Option<&'a Condition> {
    conditions.and_then(|c| c.iter().find(|c| c.type_ == type_))
}

/// Waits until the HelmRepository's Ready has `status` and `reason`.
pub async fn repo_ready(
    api: &Api<HelmRepository>,
    name: &str,
    status: &str,
    reason: &str,
) -> anyhow::Result<HelmRepository> {
    testkit::wait::object(
        api,
        name,
        WAIT,
        &format!("{name} Ready={status} {reason}"),
        |r| {
            find(
                r.status.as_ref().and_then(|s| s.conditions.as_ref()),
                "Ready",
            )
            .is_some_and(|c| c.status == status && c.reason == reason)
        },
    )
    .await
}

/// Waits until the HelmChart satisfies `check`.
pub async fn chart_until(
    api: &Api<HelmChart>,
    name: &str,
    what: &str,
    check: impl Fn(&HelmChart) -> bool,
) -> anyhow::Result<HelmChart> {
    testkit::wait::object(api, name, WAIT, what, check).await
}

/// The HelmChart's Ready condition.
pub fn chart_ready(chart: &HelmChart) -> Option<&Condition> {
    find(
        chart.status.as_ref().and_then(|s| s.conditions.as_ref()),
        "Ready",
    )
}

/// Waits until the HelmChart's Ready has `status` and `reason`.
pub async fn chart_ready_is(
    api: &Api<HelmChart>,
    name: &str,
    status: &str,
    reason: &str,
) -> anyhow::Result<HelmChart> {
    chart_until(api, name, &format!("{name} Ready={status} {reason}"), |c| {
        chart_ready(c).is_some_and(|r| r.status == status && r.reason == reason)
    })
    .await
}
