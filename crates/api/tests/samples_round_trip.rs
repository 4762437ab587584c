//! Flux's own example objects deserialise into our types and serialise back unchanged.

mod common;

use common::Document;

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

/// Round-trips `doc` through `K` when the document is a `K`: deserialised straight from its
/// YAML and, separately, from its JSON value, both must serialise back to the same value.
fn round_trip_as<K>(doc: &Document) -> Option<Result<Value, String>>
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Serialize,
{
    let value = &doc.value;
    if value["apiVersion"] != K::api_version(&()).as_ref() || value["kind"] != K::kind(&()).as_ref()
    {
        return None;
    }
    let to_value = |object: K| serde_json::to_value(object).map_err(|e| e.to_string());
    let from_json = serde_json::from_value::<K>(value.clone())
        .map_err(|e| e.to_string())
        .and_then(to_value);
    let from_yaml = serde_saphyr::from_str::<K>(&doc.yaml)
        .map_err(|e| format!("from YAML: {e}"))
        .and_then(to_value);
    Some(match (from_json, from_yaml) {
        (Ok(json), Ok(yaml)) if json == yaml => Ok(json),
        (Ok(json), Ok(yaml)) => Err(format!("YAML and JSON paths disagree: {yaml} vs {json}")),
        (Err(e), _) | (_, Err(e)) => Err(e),
    })
}

/// Round-trips `doc` through whichever of our kinds it is; `None` for other kinds.
fn round_trip(doc: &Document) -> Option<Result<Value, String>> {
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
fn check_documents(origin: &str, docs: &[Document], failures: &mut Vec<String>) -> usize {
    check_documents_where(origin, docs, failures, |_| true)
}

/// Like [`check_documents`], but a document failing to deserialise is only reported when
/// `report_error` accepts the error message.
fn check_documents_where(
    origin: &str,
    docs: &[Document],
    failures: &mut Vec<String>,
    report_error: impl Fn(&str) -> bool,
) -> usize {
    let mut checked = 0;
    for (index, doc) in docs.iter().enumerate() {
        let Some(result) = round_trip(doc) else {
            continue;
        };
        let doc = &doc.value;
        let what = format!(
            "{origin} #{index} ({} {})",
            doc["kind"], doc["metadata"]["name"]
        );
        match result {
            Ok(back) if &back == doc => checked += 1,
            Ok(back) => failures.push(format!("{what}: changed\n  in:  {doc}\n  out: {back}")),
            Err(e) if report_error(&e) => {
                failures.push(format!("{what}: does not deserialise: {e}"))
            }
            Err(_) => {}
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
        let text = std::fs::read_to_string(&path).expect("sample is readable");
        let docs = common::split_yaml_documents(&text).expect("sample is YAML");
        checked += check_documents(&relative(&path), &docs, &mut failures);
    }
    assert!(checked >= 20, "only {checked} sample objects were ours");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The fenced YAML blocks of a Markdown document.
fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        let fence = line.trim_start();
        match current.as_mut() {
            None if fence.starts_with("```yaml") || fence.starts_with("```yml") => {
                current = Some(String::new());
            }
            Some(_) if fence.starts_with("```") => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// Many examples in the docs show only the fields under discussion: they lack fields the CRD
/// requires (or elide the spec as `...`), so the API server would reject them as well. Such
/// fragments are skipped; any other deserialisation error is a failure.
fn is_not_a_fragment(error: &str) -> bool {
    !(error.starts_with("missing field")
        || error.starts_with("invalid type: null")
        || error.starts_with("invalid type: string \"...\""))
}

#[test]
fn every_complete_example_in_the_flux_spec_docs_round_trips() {
    let spec = common::flux_reference().join("spec");
    let versions = [
        "source-controller/v1",
        "kustomize-controller/v1",
        "helm-controller/v2",
        "notification-controller/v1",
        "notification-controller/v1beta3",
        "image-reflector-controller/v1",
        "image-automation-controller/v1",
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    for version in versions {
        for path in common::files_with_extension(&spec.join(version), ".md") {
            let markdown = std::fs::read_to_string(&path).expect("spec document is readable");
            for (index, block) in yaml_blocks(&markdown).iter().enumerate() {
                // Some blocks are fragments or templates, not objects; only whole objects count.
                let Ok(docs) = common::split_yaml_documents(block) else {
                    continue;
                };
                let origin = format!("{} block {index}", relative(&path));
                checked += check_documents_where(&origin, &docs, &mut failures, is_not_a_fragment);
            }
        }
    }
    // 141 complete examples at the pinned Flux versions. A lower count means examples are being
    // skipped as fragments, e.g. because a field was wrongly made required.
    assert!(
        checked >= 141,
        "only {checked} complete spec examples round-tripped"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `shared/reference/corpus/fleets`: real fleet repositories.
fn fleets() -> std::path::PathBuf {
    common::flux_reference().join("../corpus/fleets")
}

/// Files that a kustomization.yaml in the corpus applies as patches (`patches[].path`,
/// `patchesStrategicMerge`): partial objects by design, which the API server would reject too.
fn patch_files() -> std::collections::BTreeSet<std::path::PathBuf> {
    let mut patches = std::collections::BTreeSet::new();
    for path in common::files_with_extension(&fleets(), "kustomization.yaml") {
        let dir = path.parent().expect("a file has a parent directory");
        for doc in common::yaml_documents(&path) {
            let listed = doc["patches"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["path"].as_str())
                .chain(
                    doc["patchesStrategicMerge"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p.as_str()),
                );
            for file in listed {
                patches.insert(dir.join(file));
            }
        }
    }
    patches
}

#[test]
fn every_flux_object_in_the_real_fleet_repositories_round_trips() {
    let patches = patch_files();
    assert_eq!(patches.len(), 4, "patch files found: {patches:?}");
    let mut failures = Vec::new();
    let mut checked = 0;
    for ext in [".yaml", ".yml"] {
        for path in common::files_with_extension(&fleets(), ext) {
            if patches.contains(&path) {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("fleet file is readable");
            let docs = common::split_yaml_documents(&text)
                .unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
            let origin = path
                .strip_prefix(fleets())
                .unwrap_or(&path)
                .display()
                .to_string();
            checked += check_documents(&origin, &docs, &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every complete object of a served version in the corpus: 25 Flux documents minus the 4
    // patches (the one source.toolkit.fluxcd.io/v1beta2 object is a version Flux no longer serves).
    assert_eq!(checked, 21, "fleet objects of our kinds");
}
