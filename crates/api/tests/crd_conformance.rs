//! Our CRDs against Flux's: names, scope, printer columns, subresources and the whole
//! openAPIV3Schema, property by property. Descriptions are the only thing not compared.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// Keys compared as values at every schema node. Descriptions are prose; `properties`, `items`
/// and `additionalProperties` are walked instead.
const WALKED_OR_EXEMPT: [&str; 4] = ["description", "properties", "items", "additionalProperties"];

/// Flux's CRDs, keyed by metadata.name.
fn upstream_crds() -> BTreeMap<String, Value> {
    let dir = common::flux_reference().join("crds");
    let mut crds = BTreeMap::new();
    for path in common::files_with_extension(&dir, ".yaml") {
        for mut crd in common::yaml_documents(&path) {
            apply_release_branch_fixes(&mut crd);
            let name = crd["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            crds.insert(name, crd);
        }
    }
    crds
}

/// The reference CRDs are copies of older patch tags than the releases Flux 2.9 installs. The
/// release branches after those tags change CRD metadata only (see SOURCES.md): every CRD gets
/// `kustomize.toolkit.fluxcd.io/substitute: disabled`, and ImagePolicy and ImageRepository get
/// the `all, fluxcd, fluxcd-images` categories. Apply the same change to the reference so that we
/// match what a Flux 2.9 cluster runs.
fn apply_release_branch_fixes(crd: &mut Value) {
    crd["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/substitute"] = json!("disabled");
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    if matches!(
        name,
        "imagepolicies.image.toolkit.fluxcd.io" | "imagerepositories.image.toolkit.fluxcd.io"
    ) {
        crd["spec"]["names"]["categories"] = json!(["all", "fluxcd", "fluxcd-images"]);
    }
}

/// Every difference between two CRDs, as `path: ours vs theirs` lines.
fn crd_differences(ours: &Value, theirs: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    let check = |diffs: &mut Vec<String>, path: &str, a: &Value, b: &Value| {
        if a != b {
            diffs.push(format!("{path}: ours {a} vs theirs {b}"));
        }
    };
    check(
        &mut diffs,
        "metadata.name",
        &ours["metadata"]["name"],
        &theirs["metadata"]["name"],
    );
    // Which controller-gen wrote the file is not part of the API.
    let annotations = |crd: &Value| {
        let mut annotations = crd["metadata"]["annotations"].clone();
        if let Some(map) = annotations.as_object_mut() {
            map.remove("controller-gen.kubebuilder.io/version");
        }
        annotations
    };
    check(
        &mut diffs,
        "metadata.annotations",
        &annotations(ours),
        &annotations(theirs),
    );
    for key in ["group", "names", "scope"] {
        check(
            &mut diffs,
            &format!("spec.{key}"),
            &ours["spec"][key],
            &theirs["spec"][key],
        );
    }
    let empty = Vec::new();
    let our_versions = ours["spec"]["versions"].as_array().unwrap_or(&empty);
    let their_versions = theirs["spec"]["versions"].as_array().unwrap_or(&empty);
    let names =
        |versions: &[Value]| -> Vec<Value> { versions.iter().map(|v| v["name"].clone()).collect() };
    check(
        &mut diffs,
        "spec.versions[].name",
        &Value::from(names(our_versions)),
        &Value::from(names(their_versions)),
    );
    for their_version in their_versions {
        let Some(our_version) = our_versions
            .iter()
            .find(|v| v["name"] == their_version["name"])
        else {
            continue;
        };
        let at = format!("spec.versions[{}]", their_version["name"]);
        for key in [
            "served",
            "storage",
            "deprecated",
            "deprecationWarning",
            "additionalPrinterColumns",
            "subresources",
            "selectableFields",
        ] {
            check(
                &mut diffs,
                &format!("{at}.{key}"),
                &our_version[key],
                &their_version[key],
            );
        }
        schema_differences(
            &format!("{at}.schema"),
            &our_version["schema"]["openAPIV3Schema"],
            &their_version["schema"]["openAPIV3Schema"],
            &mut diffs,
        );
    }
    diffs
}

/// Walks two schemas side by side and records every difference below `path`.
fn schema_differences(path: &str, ours: &Value, theirs: &Value, diffs: &mut Vec<String>) {
    let (Some(ours), Some(theirs)) = (ours.as_object(), theirs.as_object()) else {
        if ours != theirs {
            diffs.push(format!("{path}: ours {ours} vs theirs {theirs}"));
        }
        return;
    };
    let keys: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    for key in keys {
        if WALKED_OR_EXEMPT.contains(&key.as_str()) {
            continue;
        }
        let (a, b) = (ours.get(key), theirs.get(key));
        let same = match (a, b) {
            (Some(a), Some(b)) if key == "required" => sorted(a) == sorted(b),
            (Some(a), Some(b)) => same_json(a, b),
            (a, b) => a == b,
        };
        if !same {
            let show = |v: Option<&Value>| v.map_or("<absent>".to_owned(), Value::to_string);
            diffs.push(format!(
                "{path}.{key}: ours {} vs theirs {}",
                show(a),
                show(b)
            ));
        }
    }
    let no_properties = serde_json::Map::new();
    let our_props = ours
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&no_properties);
    let their_props = theirs
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&no_properties);
    for (name, their_prop) in their_props {
        match our_props.get(name) {
            Some(our_prop) => {
                schema_differences(&format!("{path}.{name}"), our_prop, their_prop, diffs)
            }
            None => diffs.push(format!("{path}.{name}: missing from ours")),
        }
    }
    for name in our_props
        .keys()
        .filter(|name| !their_props.contains_key(*name))
    {
        diffs.push(format!("{path}.{name}: ours has it, upstream does not"));
    }
    for (key, suffix) in [("items", "[]"), ("additionalProperties", "{}")] {
        match (ours.get(key), theirs.get(key)) {
            (None, None) => {}
            (Some(a), Some(b)) => schema_differences(&format!("{path}{suffix}"), a, b, diffs),
            (a, b) => diffs.push(format!(
                "{path}.{key}: ours {} vs theirs {}",
                a.map_or("<absent>".to_owned(), Value::to_string),
                b.map_or("<absent>".to_owned(), Value::to_string)
            )),
        }
    }
}

/// JSON equality where numbers compare by value: k8s-openapi keeps `minimum`/`maximum` as
/// floats (`0.0`) where controller-gen writes integers (`0`); the API server reads both alike.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| same_json(v, w)))
        }
        (a, b) => a == b,
    }
}

fn sorted(list: &Value) -> Vec<String> {
    let mut items: Vec<String> = list
        .as_array()
        .map(|a| a.iter().map(Value::to_string).collect())
        .unwrap_or_default();
    items.sort();
    items
}

/// Optional fields driftless adds to Flux's schemas (docs/extensions.md). Each is a new optional
/// field: every Flux object stays valid and means the same.
const EXTENSIONS: [&str; 2] = [
    // dependsOn across kinds: a Kustomization may wait for a HelmRelease and the other way round.
    "kustomizations.kustomize.toolkit.fluxcd.io: spec.versions[\"v1\"].schema.spec.dependsOn[].kind: ours has it, upstream does not",
    "helmreleases.helm.toolkit.fluxcd.io: spec.versions[\"v2\"].schema.spec.dependsOn[].kind: ours has it, upstream does not",
];

#[test]
fn every_crd_matches_the_upstream_flux_crd() {
    let upstream = upstream_crds();
    let mut report = Vec::new();
    for crd in driftless_api::crds() {
        let ours = serde_json::to_value(&crd).expect("CRD serialises");
        let name = ours["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let Some(theirs) = upstream.get(&name) else {
            report.push(format!("{name}: no upstream CRD with this name"));
            continue;
        };
        report.extend(
            crd_differences(&ours, theirs)
                .into_iter()
                .map(|d| format!("{name}: {d}")),
        );
    }
    // Every difference fails except our documented extensions (DESIGN.md: new optional fields
    // only), which must each be present exactly. The count is printed either way
    // (`cargo test -- --nocapture`) so the figure is visible in CI logs.
    let missing_extensions: Vec<&str> = EXTENSIONS
        .iter()
        .copied()
        .filter(|e| !report.iter().any(|d| d == e))
        .collect();
    assert!(
        missing_extensions.is_empty(),
        "documented extensions not found: {missing_extensions:?}"
    );
    report.retain(|d| !EXTENSIONS.contains(&d.as_str()));
    println!(
        "{} differences from Flux's CRDs besides {} documented extensions",
        report.len(),
        EXTENSIONS.len()
    );
    assert!(
        report.is_empty(),
        "{} differences from Flux's CRDs:\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn every_flux_kind_in_scope_has_a_crd() {
    let ours: BTreeSet<String> = driftless_api::crds()
        .into_iter()
        .filter_map(|crd| crd.metadata.name)
        .collect();
    let missing: Vec<String> = upstream_crds()
        .into_keys()
        .filter(|name| !name.ends_with("source.extensions.fluxcd.io") && !ours.contains(name))
        .collect();
    assert!(missing.is_empty(), "no CRD for: {missing:?}");
}

#[test]
fn the_comparison_reports_missing_extra_and_changed_properties() {
    let upstream = upstream_crds();
    let theirs = &upstream["gitrepositories.source.toolkit.fluxcd.io"];
    assert!(crd_differences(theirs, theirs).is_empty());

    let mut ours = theirs.clone();
    let spec = &mut ours["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    spec["properties"]
        .as_object_mut()
        .expect("spec has properties")
        .remove("url");
    spec["properties"]["timeout"]["default"] = json!("30s");
    spec["properties"]["extra"] = json!({"type": "string"});
    spec["required"] = json!(["interval"]);
    ours["spec"]["names"]["shortNames"] = json!([]);
    let diffs = crd_differences(&ours, theirs).join("\n");
    for expected in [
        ".spec.url: missing from ours",
        ".spec.timeout.default: ours \"30s\" vs theirs \"60s\"",
        ".spec.extra: ours has it, upstream does not",
        ".spec.required:",
        "spec.names:",
    ] {
        assert!(
            diffs.contains(expected),
            "{expected:?} not reported in:\n{diffs}"
        );
    }
}
