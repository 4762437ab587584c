//! The chart of a release, as Flux gets it: from `spec.chart`, the HelmChart
//! `<namespace>-<name>` created or updated in the source's namespace (labels
//! `helm.toolkit.fluxcd.io/{name,namespace}` mark the owner) and waited on until it has an
//! artifact for its current generation; from `spec.chartRef`, an OCIRepository or HelmChart
//! read as it is. The artifact is downloaded, verified against its digest and loaded as a
//! packaged chart (bounded by the chart size limit).

use std::io::Read as _;

use driftless_api::helm::{ChartRefKind, HelmRelease};
use driftless_api::meta::Artifact;
use driftless_artifact::Fetcher;
use driftless_helm::Chart;
use driftless_helm::archive::MAX_CHART_SIZE;
use kube::ResourceExt;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};
use serde_json::{Value, json};

use crate::error::ReconcileError;
use crate::identity;

/// Label naming the HelmRelease that owns a HelmChart.
pub const NAME_LABEL: &str = "helm.toolkit.fluxcd.io/name";
/// Label naming the namespace of that HelmRelease.
pub const NAMESPACE_LABEL: &str = "helm.toolkit.fluxcd.io/namespace";

/// Where the chart of a release comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChartSource {
    /// `HelmChart` or `OCIRepository`.
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ChartSource {
    /// The source `hr` takes its chart from.
    pub fn of(hr: &HelmRelease) -> Option<Self> {
        let own = hr.namespace().unwrap_or_default();
        if let Some(template) = &hr.spec.chart {
            let namespace = template
                .spec
                .source_ref
                .namespace
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or(own);
            return Some(Self {
                kind: "HelmChart".into(),
                namespace,
                name: identity::helm_chart_name(hr),
            });
        }
        let reference = hr.spec.chart_ref.as_ref()?;
        Some(Self {
            kind: match reference.kind {
                ChartRefKind::OCIRepository => "OCIRepository",
                ChartRefKind::HelmChart => "HelmChart",
                ChartRefKind::ExternalArtifact => "ExternalArtifact",
            }
            .into(),
            namespace: reference
                .namespace
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or(own),
            name: reference.name.clone(),
        })
    }

    /// The API resource of the source kind.
    pub fn api_resource(&self) -> ApiResource {
        api_resource(&self.kind)
    }

    fn subject(&self) -> String {
        format!("{} '{}/{}'", self.kind, self.namespace, self.name)
    }
}

/// `source.toolkit.fluxcd.io/v1` `kind`.
pub fn api_resource(kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "source.toolkit.fluxcd.io",
        "v1",
        kind,
    ))
}

/// The chart artifact to release, and what identifies it in the status.
#[derive(Clone, Debug)]
pub struct ChartArtifact {
    /// The source's artifact.
    pub artifact: Artifact,
    /// The OCI manifest digest, for OCIRepository sources.
    pub oci_digest: Option<String>,
}

/// The HelmChart `spec.chart` asks for, as the object to apply.
pub fn template_object(hr: &HelmRelease, source: &ChartSource) -> Option<Value> {
    let template = hr.spec.chart.as_ref()?;
    let spec = &template.spec;
    let mut labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(NAME_LABEL.into(), hr.name_any());
    labels.insert(NAMESPACE_LABEL.into(), hr.namespace().unwrap_or_default());
    let annotations = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default();
    let mut chart_spec = json!({
        "chart": spec.chart,
        "version": spec.version.clone().filter(|v| !v.is_empty()).unwrap_or_else(|| "*".into()),
        "sourceRef": {
            "kind": spec.source_ref.kind,
            "name": spec.source_ref.name,
        },
        "interval": spec.interval.clone().unwrap_or_else(|| hr.spec.interval.clone()),
        "reconcileStrategy": spec.reconcile_strategy.unwrap_or_default(),
    });
    if let Some(files) = &spec.values_files {
        chart_spec["valuesFiles"] = json!(files);
    }
    if let Some(ignore) = spec.ignore_missing_values_files {
        chart_spec["ignoreMissingValuesFiles"] = json!(ignore);
    }
    if let Some(verify) = &spec.verify {
        chart_spec["verify"] = json!(verify);
    }
    Some(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmChart",
        "metadata": {
            "name": source.name,
            "namespace": source.namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": chart_spec,
    }))
}

/// Creates or updates the HelmChart of `spec.chart` (server-side apply, helm-controller's
/// field manager) and returns it as it then is. A HelmChart that already carries the
/// template is read, not applied again (see `chart_applied`).
pub async fn apply_template(
    client: &kube::Client,
    hr: &HelmRelease,
    source: &ChartSource,
) -> Result<Option<DynamicObject>, ReconcileError> {
    let Some(object) = template_object(hr, source) else {
        return Ok(None);
    };
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &source.namespace, &source.api_resource());
    let live = api
        .get_opt(&source.name)
        .await
        .map_err(|e| ReconcileError::Read {
            subject: source.subject(),
            source: Box::new(e),
        })?;
    if let Some(live) = live
        && crate::chart_applied::already_applied(&live, &object, crate::CONTROLLER_NAME)
    {
        return Ok(Some(live));
    }
    let params = PatchParams::apply(crate::CONTROLLER_NAME).force();
    let applied = api
        .patch(&source.name, &params, &Patch::Apply(&object))
        .await
        .map_err(|e| ReconcileError::ChartTemplate {
            subject: format!("{}/{}", source.namespace, source.name),
            source: Box::new(e),
        })?;
    Ok(Some(applied))
}

/// Deletes the HelmChart a release made earlier (`status.helmChart`) when it no longer uses
/// it: switched to `chartRef`, or its source moved to another namespace.
pub async fn collect_stale(
    client: &kube::Client,
    hr: &HelmRelease,
    current: Option<&ChartSource>,
) -> Result<(), ReconcileError> {
    let Some(previous) = hr.status.as_ref().and_then(|s| s.helm_chart.as_deref()) else {
        return Ok(());
    };
    let Some((namespace, name)) = previous.split_once('/') else {
        return Ok(());
    };
    let still_used = current
        .is_some_and(|c| hr.spec.chart.is_some() && c.namespace == namespace && c.name == name);
    if still_used {
        return Ok(());
    }
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &api_resource("HelmChart"));
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(ReconcileError::Read {
            subject: format!("HelmChart '{previous}'"),
            source: Box::new(e),
        }),
    }
}

/// Reads the source and returns its artifact when it is ready for use.
pub async fn artifact(
    client: &kube::Client,
    source: &ChartSource,
) -> Result<ChartArtifact, ReconcileError> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &source.namespace, &source.api_resource());
    let object = api
        .get_opt(&source.name)
        .await
        .map_err(|e| ReconcileError::Read {
            subject: source.subject(),
            source: Box::new(e),
        })?
        .ok_or_else(|| ReconcileError::ChartNotReady {
            message: format!("could not get {}: not found", source.subject()),
        })?;
    ready_artifact(source, &object)
}

/// The artifact of a source object, when its latest generation was reconciled into one.
pub fn ready_artifact(
    source: &ChartSource,
    object: &DynamicObject,
) -> Result<ChartArtifact, ReconcileError> {
    let not_ready = |why: &str| ReconcileError::ChartNotReady {
        message: format!(
            "{} '{}/{}' is not ready: {why}",
            source.kind, source.namespace, source.name
        ),
    };
    let status = &object.data["status"];
    if source.kind == "HelmChart"
        && status["observedGeneration"].as_i64() != object.metadata.generation
    {
        return Err(not_ready(
            "latest generation of object has not been reconciled",
        ));
    }
    let artifact: Option<Artifact> = status
        .get("artifact")
        .and_then(|a| serde_json::from_value(a.clone()).ok());
    let Some(artifact) = artifact else {
        let message = status["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .and_then(|c| c["message"].as_str())
            .unwrap_or("artifact is missing")
            .to_owned();
        return Err(not_ready(&message));
    };
    let oci_digest = (source.kind == "OCIRepository")
        .then(|| {
            artifact
                .revision
                .rsplit_once('@')
                .map(|(_, d)| d.to_owned())
                .or_else(|| {
                    artifact
                        .revision
                        .starts_with("sha256:")
                        .then(|| artifact.revision.clone())
                })
        })
        .flatten();
    Ok(ChartArtifact {
        artifact,
        oci_digest,
    })
}

/// Downloads the artifact, checks its digest and loads it as a packaged chart.
pub async fn load(fetcher: &Fetcher, chart: &ChartArtifact) -> Result<Chart, ReconcileError> {
    let artifact = &chart.artifact;
    let (file, _) = fetcher
        .download_verified(&artifact.url, &artifact.digest)
        .await
        .map_err(|source| ReconcileError::Fetch {
            revision: artifact.revision.clone(),
            source,
        })?;
    tokio::task::spawn_blocking(move || {
        let mut data = Vec::new();
        // One byte past the limit is enough to refuse an oversize chart.
        file.take(MAX_CHART_SIZE + 1)
            .read_to_end(&mut data)
            .map_err(|e| ReconcileError::LoadChart {
                message: e.to_string(),
            })?;
        let files =
            driftless_helm::archive::files(&data).map_err(|e| ReconcileError::LoadChart {
                message: e.to_string(),
            })?;
        Chart::from_files(files).map_err(|e| ReconcileError::LoadChart {
            message: e.to_string(),
        })
    })
    .await
    .map_err(|e| ReconcileError::LoadChart {
        message: format!("the chart loading task failed: {e}"),
    })?
}

#[cfg(test)]
mod tests {
    use driftless_api::helm::{
        CrossNamespaceChartSourceReference, HelmChartTemplate, HelmChartTemplateSpec,
        HelmReleaseSpec,
    };
    use driftless_api::source::HelmChartSourceKind;

    use super::*;

    fn hr() -> HelmRelease {
        let mut hr = HelmRelease::new(
            "web",
            HelmReleaseSpec {
                interval: "10m".into(),
                chart: Some(HelmChartTemplate {
                    metadata: None,
                    spec: HelmChartTemplateSpec {
                        chart: "podinfo".into(),
                        source_ref: CrossNamespaceChartSourceReference {
                            kind: HelmChartSourceKind::HelmRepository,
                            name: "repo".into(),
                            namespace: Some("flux-system".into()),
                            ..Default::default()
                        },
                        values_files: Some(vec!["values-prod.yaml".into()]),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            },
        );
        hr.metadata.namespace = Some("team".into());
        hr
    }

    #[test]
    fn the_helmchart_lives_in_the_sources_namespace_named_after_the_release_object() {
        let hr = hr();
        let source = ChartSource::of(&hr).expect("has a chart");
        assert_eq!(
            (
                source.kind.as_str(),
                source.namespace.as_str(),
                source.name.as_str()
            ),
            ("HelmChart", "flux-system", "team-web")
        );
        let object = template_object(&hr, &source).expect("templated");
        assert_eq!(object["metadata"]["labels"][NAME_LABEL], "web");
        assert_eq!(object["metadata"]["labels"][NAMESPACE_LABEL], "team");
        assert_eq!(object["spec"]["version"], "*");
        assert_eq!(object["spec"]["interval"], "10m");
        assert_eq!(object["spec"]["reconcileStrategy"], "ChartVersion");
        assert_eq!(object["spec"]["sourceRef"]["kind"], "HelmRepository");
        assert_eq!(object["spec"]["valuesFiles"][0], "values-prod.yaml");
    }

    #[test]
    fn a_helmchart_whose_generation_is_not_reconciled_is_not_ready() {
        let source = ChartSource {
            kind: "HelmChart".into(),
            namespace: "ns".into(),
            name: "c".into(),
        };
        let mut object = DynamicObject::new("c", &source.api_resource());
        object.metadata.generation = Some(2);
        object.data = json!({"status": {"observedGeneration": 1}});
        let err = ready_artifact(&source, &object).expect_err("not ready");
        assert_eq!(
            err.to_string(),
            "HelmChart 'ns/c' is not ready: latest generation of object has not been reconciled"
        );
        object.data = json!({"status": {"observedGeneration": 2, "artifact": {
            "digest": "sha256:00", "lastUpdateTime": "2026-01-01T00:00:00Z",
            "path": "p", "revision": "6.0.0", "url": "http://x/p"}}});
        let ready = ready_artifact(&source, &object).expect("ready");
        assert_eq!(ready.artifact.revision, "6.0.0");
        assert_eq!(ready.oci_digest, None);
    }

    #[test]
    fn an_oci_artifact_carries_its_manifest_digest() {
        let source = ChartSource {
            kind: "OCIRepository".into(),
            namespace: "ns".into(),
            name: "o".into(),
        };
        let mut object = DynamicObject::new("o", &source.api_resource());
        object.data = json!({"status": {"artifact": {
            "digest": "sha256:00", "lastUpdateTime": "2026-01-01T00:00:00Z",
            "path": "p", "revision": "6.0.0@sha256:abc", "url": "http://x/p"}}});
        let ready = ready_artifact(&source, &object).expect("ready");
        assert_eq!(ready.oci_digest.as_deref(), Some("sha256:abc"));
    }
}
