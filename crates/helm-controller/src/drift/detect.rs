//! Detection: the objects of the stored release manifest, with the ownership metadata Helm
//! puts on what it applies, dry-run applied (server-side, field manager `helm-controller`)
//! through the ssa crate and compared with the live objects. A missing object is `removed`
//! from the cluster; a live one whose comparable form differs from the dry-run's is `changed`,
//! with the JSON patch that takes it back.

use driftless_helm::release::Release;
use driftless_helm::release::kube_cluster::{
    FIELD_MANAGER, MANAGED_BY_LABEL, RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION,
};
use driftless_ssa::{Action, ApplyOptions, ObjMetadata, ResourceManager};
use kube::api::DynamicObject;
use serde_json::Value;

use super::ignore::{self, Rule};

/// What happened to one object of the release.
#[derive(Clone, Debug, PartialEq)]
pub enum Drift {
    /// Deleted from the cluster: to be created again.
    Removed {
        /// The object as the release applies it, namespace set.
        desired: Box<DynamicObject>,
    },
    /// Changed in the cluster: the patch that undoes the change.
    Changed {
        /// From the live object to what the release applies.
        patch: json_patch::Patch,
    },
    /// Left out by the `driftDetection: disabled` label or annotation.
    Excluded,
}

/// One object's drift.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The object.
    pub object: ObjMetadata,
    /// Its API version without the group.
    pub version: String,
    /// What happened to it.
    pub drift: Drift,
}

/// The drift of a release.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Objects removed, changed or excluded, in the order of the manifest.
    pub entries: Vec<Entry>,
    /// Objects that could not be compared: `Kind/ns/name: message`.
    pub failures: Vec<String>,
}

impl Report {
    /// Whether anything is to be corrected (excluded objects are not).
    pub fn has_changes(&self) -> bool {
        self.entries
            .iter()
            .any(|e| !matches!(e.drift, Drift::Excluded))
    }
}

/// Compares the objects of `release` with the cluster.
pub async fn detect(
    client: &kube::Client,
    release: &Release,
    rules: &[Rule],
) -> Result<Report, String> {
    let mut objects =
        driftless_ssa::decode::decode_yaml(&release.manifest).map_err(|e| e.to_string())?;
    let mut report = Report::default();
    objects.retain(|o| {
        let excluded = ignore::excluded(&to_json(o));
        if excluded && let Some(entry) = excluded_entry(o, &release.namespace) {
            report.entries.push(entry);
        }
        !excluded
    });
    for o in &mut objects {
        set_helm_metadata(o, release);
    }
    let options = ApplyOptions {
        field_manager: FIELD_MANAGER.to_owned(),
        default_namespace: release.namespace.clone(),
        ..ApplyOptions::default()
    };
    let manager = ResourceManager::new(client.clone(), options);
    let (diffs, failures) = manager
        .diff_all_unmasked(objects.clone())
        .await
        .map_err(|e| e.to_string())?;
    report.failures = failures
        .iter()
        .map(|f| format!("{}: {}", f.subject, f.message))
        .collect();
    for d in diffs {
        let desired = objects
            .iter()
            .find(|o| same(o, &d.object))
            .cloned()
            .unwrap_or_else(|| DynamicObject::new(&d.object.name, &resource_of(&d)));
        let drift = match d.action {
            Action::Created => {
                let mut desired = desired;
                if !d.object.namespace.is_empty() {
                    desired.metadata.namespace = Some(d.object.namespace.clone());
                }
                Drift::Removed {
                    desired: Box::new(desired),
                }
            }
            Action::Configured => {
                let (Some(mut live), Some(mut merged)) = (d.live, d.merged) else {
                    continue;
                };
                if ignore::excluded(&live) {
                    Drift::Excluded
                } else {
                    ignore::comparable(rules, &to_json(&desired), &mut live, &mut merged);
                    let patch = json_patch::diff(&live, &merged);
                    if patch.0.is_empty() {
                        continue;
                    }
                    Drift::Changed { patch }
                }
            }
            _ => continue,
        };
        report.entries.push(Entry {
            object: d.object,
            version: d.version,
            drift,
        });
    }
    Ok(report)
}

fn to_json(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

/// Whether decoded object `o` is `meta` (whose namespace the ssa crate may have defaulted).
fn same(o: &DynamicObject, meta: &ObjMetadata) -> bool {
    let kind = o
        .types
        .as_ref()
        .map(|t| t.kind.as_str())
        .unwrap_or_default();
    o.metadata.name.as_deref() == Some(meta.name.as_str())
        && kind == meta.kind
        && o.metadata
            .namespace
            .as_deref()
            .is_none_or(|ns| ns == meta.namespace)
}

fn resource_of(d: &driftless_ssa::diff::ObjectDiff) -> kube::api::ApiResource {
    let gvk = kube::api::GroupVersionKind::gvk(&d.object.group, &d.version, &d.object.kind);
    kube::api::ApiResource::from_gvk(&gvk)
}

/// The entry of an object its own metadata excludes (its namespace as written, else the
/// release's: only for the summary).
fn excluded_entry(o: &DynamicObject, namespace: &str) -> Option<Entry> {
    let gvk = driftless_ssa::object::gvk_of(o)?;
    let mut object = ObjMetadata::of(o, &gvk);
    if object.namespace.is_empty() {
        object.namespace = namespace.to_owned();
    }
    Some(Entry {
        object,
        version: gvk.version,
        drift: Drift::Excluded,
    })
}

/// The metadata Helm sets on every object it applies, so that its absence is not drift.
fn set_helm_metadata(o: &mut DynamicObject, release: &Release) {
    o.metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(MANAGED_BY_LABEL.to_owned(), "Helm".to_owned());
    let annotations = o.metadata.annotations.get_or_insert_with(Default::default);
    annotations.insert(RELEASE_NAME_ANNOTATION.to_owned(), release.name.clone());
    annotations.insert(
        RELEASE_NAMESPACE_ANNOTATION.to_owned(),
        release.namespace.clone(),
    );
}
