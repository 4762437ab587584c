//! SOPS-encrypted Secrets in a diff: their built values are masks, so only their keys can be
//! compared with the cluster's.

use std::collections::BTreeSet;

use base64::Engine as _;
use driftless_ssa::Action;
use driftless_ssa::diff::ObjectDiff;
use serde_json::Value;

use super::super::build::SOPS_MASK;
use super::built_object;

/// What both sides' values of a SOPS Secret show: only its keys are compared.
const KEY_ONLY_MASK: &str = "*****";

/// A drifted Secret whose built `data` holds SOPS masks only counts when its keys changed:
/// encrypted values cannot be compared with the cluster's. As flux does, every `data` value of
/// both sides then shows as `*****`, so a report names only keys added or removed.
pub(super) fn sops_aware(objects: &[Value], entry: &ObjectDiff) -> ObjectDiff {
    let mut entry = entry.clone();
    if entry.action != Action::Configured || entry.object.kind != "Secret" {
        return entry;
    }
    let masked = built_object(objects, &entry.object)
        .and_then(|o| o["data"].as_object())
        .is_some_and(|data| {
            data.values().any(|v| {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(v.as_str().unwrap_or_default())
                    .unwrap_or_default();
                String::from_utf8_lossy(&decoded).contains(SOPS_MASK)
            })
        });
    let (Some(live), Some(merged)) = (&mut entry.live, &mut entry.merged) else {
        return entry;
    };
    if !masked {
        return entry;
    }
    let keys = |v: &mut Value| -> BTreeSet<String> {
        let Some(data) = v.get_mut("data").and_then(Value::as_object_mut) else {
            return BTreeSet::new();
        };
        for value in data.values_mut() {
            *value = Value::String(KEY_ONLY_MASK.to_owned());
        }
        data.keys().cloned().collect()
    };
    if keys(live) == keys(merged) {
        entry.action = Action::Unchanged;
    }
    entry
}
