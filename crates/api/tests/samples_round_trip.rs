//! Flux's own example objects deserialise into our types and serialise back unchanged.

mod common;

use std::path::Path;

use driftless_api::helm::HelmRelease;
use driftless_api::image::{ImagePolicy, ImageRepository, ImageUpdateAutomation};
use driftless_api::kustomize::Kustomization;
use driftless_api::notification::{Alert, Provider, Receiver};
use driftless_api::source::{
    Bucket, ExternalArtifact, GitRepository, HelmChart, HelmRepository, OCIRepository,
};
use kube::Resource;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// Round-trips `doc` through `K` when the document is a `K`.
fn round_trip_as<K>(doc: &Value) -> Option<Result<Value, String>>
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Serialize,
{
    if doc["apiVersion"] != K::api_version(&()).as_ref() || doc["kind"] != K::kind(&()).as_ref() {
        return None;
    }
    let typed = serde_json::from_value::<K>(doc.clone()).map_err(|e| e.to_string());
    Some(typed.and_then(|object| serde_json::to_value(object).map_err(|e| e.to_string())))
}

/// Round-trips `doc` through whichever of our kinds it is; `None` for other kinds.
fn round_trip(doc: &Value) -> Option<Result<Value, String>> {
    None.or_else(|| round_trip_as::<Bucket>(doc))
        .or_else(|| round_trip_as::<ExternalArtifact>(doc))
        .or_else(|| round_trip_as::<GitRepository>(doc))
        .or_else(|| round_trip_as::<HelmChart>(doc))
        .or_else(|| round_trip_as::<HelmRepository>(doc))
        .or_else(|| round_trip_as::<OCIRepository>(doc))
        .or_else(|| round_trip_as::<Kustomization>(doc))
        .or_else(|| round_trip_as::<HelmRelease>(doc))
        .or_else(|| round_trip_as::<Alert>(doc))
        .or_else(|| round_trip_as::<Provider>(doc))
        .or_else(|| round_trip_as::<Receiver>(doc))
        .or_else(|| round_trip_as::<ImagePolicy>(doc))
        .or_else(|| round_trip_as::<ImageRepository>(doc))
        .or_else(|| round_trip_as::<ImageUpdateAutomation>(doc))
}

/// Checks every document; returns how many were ours and the failures.
fn check_documents(origin: &str, docs: &[Value], failures: &mut Vec<String>) -> usize {
    let mut checked = 0;
    for (index, doc) in docs.iter().enumerate() {
        let Some(result) = round_trip(doc) else {
            continue;
        };
        checked += 1;
        let what = format!(
            "{origin} #{index} ({} {})",
            doc["kind"], doc["metadata"]["name"]
        );
        match result {
            Ok(back) if &back == doc => {}
            Ok(back) => failures.push(format!("{what}: changed\n  in:  {doc}\n  out: {back}")),
            Err(e) => failures.push(format!("{what}: does not deserialise: {e}")),
        }
    }
    checked
}

fn relative(path: &Path) -> String {
    let root = common::flux_reference();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_flux_sample_deserialises_and_round_trips() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in common::files_with_extension(&common::flux_reference().join("samples"), ".yaml") {
        checked += check_documents(
            &relative(&path),
            &common::yaml_documents(&path),
            &mut failures,
        );
    }
    assert!(checked >= 20, "only {checked} sample objects were ours");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
