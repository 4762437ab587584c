//! The inventory of applied objects in Flux's format (`status.inventory.entries[] {id, v}`), with
//! cli-utils' ObjMetadata ids `<namespace>_<name>_<group>_<kind>`, and the diff that finds the
//! objects to prune.

use std::collections::BTreeSet;

use driftless_api::apply::{ResourceInventory, ResourceRef};

use crate::changeset::ChangeSet;
use crate::error::SsaError;
use crate::object::ObjMetadata;

/// RBAC kinds whose names may contain `:`, which cli-utils encodes as `__` in ids.
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The inventory id of an object: `<namespace>_<name>_<group>_<kind>`.
pub fn entry_id(object: &ObjMetadata) -> String {
    let name = if object.group == RBAC_GROUP {
        object.name.replace(':', "__")
    } else {
        object.name.clone()
    };
    format!(
        "{}_{}_{}_{}",
        object.namespace, name, object.group, object.kind
    )
}

/// Parses an id as cli-utils `ParseObjMetadata` does: namespace up to the first `_`, kind after
/// the last, group between the last two, and the name is what remains (`__` in RBAC names
/// decodes back to `:`).
pub fn parse_entry_id(id: &str) -> Result<ObjMetadata, SsaError> {
    let invalid = |message: &str| SsaError::InventoryEntry {
        id: id.to_string(),
        message: message.to_string(),
    };
    let (namespace, rest) = id
        .split_once('_')
        .ok_or_else(|| invalid("no `_` separator"))?;
    let (rest, kind) = rest.rsplit_once('_').ok_or_else(|| invalid("no kind"))?;
    let (name, group) = rest.rsplit_once('_').ok_or_else(|| invalid("no group"))?;
    if name.is_empty() || kind.is_empty() {
        return Err(invalid("empty name or kind"));
    }
    let name = if group == RBAC_GROUP {
        name.replace("__", ":")
    } else {
        name.to_string()
    };
    Ok(ObjMetadata {
        namespace: namespace.to_string(),
        name,
        group: group.to_string(),
        kind: kind.to_string(),
    })
}

/// The inventory recorded after an apply: every object of the change set, in its order (Flux's
/// `inventory.AddChangeSet`, skipped objects included so they are not pruned later).
pub fn from_change_set(change_set: &ChangeSet) -> ResourceInventory {
    let mut seen = BTreeSet::new();
    let entries = change_set
        .entries
        .iter()
        .filter(|e| seen.insert(entry_id(&e.object)))
        .map(|e| ResourceRef {
            id: entry_id(&e.object),
            v: e.version.clone(),
        })
        .collect();
    ResourceInventory { entries }
}

/// Entries of `old` whose id is not in `new`: the objects that left the inventory and are the
/// ONLY candidates for pruning. Version is ignored so an apiVersion bump is not a deletion.
pub fn diff(old: &ResourceInventory, new: &ResourceInventory) -> Vec<ResourceRef> {
    let current: BTreeSet<&str> = new.entries.iter().map(|e| e.id.as_str()).collect();
    old.entries
        .iter()
        .filter(|e| !current.contains(e.id.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changeset::Action;

    fn meta(namespace: &str, name: &str, group: &str, kind: &str) -> ObjMetadata {
        ObjMetadata {
            namespace: namespace.into(),
            name: name.into(),
            group: group.into(),
            kind: kind.into(),
        }
    }

    fn entry(id: &str, v: &str) -> ResourceRef {
        ResourceRef {
            id: id.into(),
            v: v.into(),
        }
    }

    #[test]
    fn ids_follow_cli_utils_with_empty_core_group_and_empty_cluster_namespace() {
        assert_eq!(
            entry_id(&meta("default", "podinfo", "", "Service")),
            "default_podinfo__Service"
        );
        assert_eq!(
            entry_id(&meta("default", "podinfo", "apps", "Deployment")),
            "default_podinfo_apps_Deployment"
        );
        assert_eq!(
            entry_id(&meta("", "apps", "", "Namespace")),
            "_apps__Namespace"
        );
    }

    #[test]
    fn rbac_names_encode_colons_and_round_trip() {
        let role = meta("", "system:flux", RBAC_GROUP, "ClusterRole");
        let id = entry_id(&role);
        assert_eq!(id, "_system__flux_rbac.authorization.k8s.io_ClusterRole");
        assert_eq!(parse_entry_id(&id).expect("valid id"), role);
    }

    #[test]
    fn ids_parse_back_into_their_parts() {
        for object in [
            meta("default", "podinfo", "", "Service"),
            meta(
                "",
                "crontabs.stable.example.com",
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
            ),
            meta("ns", "web", "apps", "Deployment"),
        ] {
            assert_eq!(parse_entry_id(&entry_id(&object)).expect("valid"), object);
        }
        assert!(parse_entry_id("nounderscores").is_err());
    }

    #[test]
    fn the_diff_holds_only_entries_that_left_the_inventory_whatever_their_version() {
        let old = ResourceInventory {
            entries: vec![
                entry("a_x__ConfigMap", "v1"),
                entry("a_y__ConfigMap", "v1"),
                entry("a_h_autoscaling_HorizontalPodAutoscaler", "v1"),
            ],
        };
        let new = ResourceInventory {
            entries: vec![
                entry("a_x__ConfigMap", "v1"),
                entry("a_h_autoscaling_HorizontalPodAutoscaler", "v2"),
                entry("a_z__ConfigMap", "v1"),
            ],
        };
        assert_eq!(diff(&old, &new), vec![entry("a_y__ConfigMap", "v1")]);
        assert!(diff(&ResourceInventory::default(), &new).is_empty());
    }

    #[test]
    fn the_inventory_records_every_change_set_entry_once_with_its_version() {
        let mut set = ChangeSet::default();
        set.push(
            meta("a", "web", "apps", "Deployment"),
            "v1",
            Action::Created,
        );
        set.push(meta("a", "cfg", "", "ConfigMap"), "v1", Action::Skipped);
        set.push(meta("a", "cfg", "", "ConfigMap"), "v1", Action::Unchanged);
        let inventory = from_change_set(&set);
        assert_eq!(
            inventory.entries,
            vec![
                entry("a_web_apps_Deployment", "v1"),
                entry("a_cfg__ConfigMap", "v1")
            ]
        );
    }
}
