//! Object identity: the `(namespace, name, group, kind)` tuple that cli-utils calls ObjMetadata and
//! Flux uses for duplicates, inventory entries and change-set subjects.

use std::fmt;

use kube::api::{DynamicObject, GroupVersionKind};

/// Identity of one object, without its version (Flux's inventory keeps the version apart so an
/// API version bump is not a different object).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjMetadata {
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
    /// Empty for the core group.
    pub group: String,
    pub kind: String,
}

impl ObjMetadata {
    /// Identity of a decoded object; namespace as currently set on it.
    pub fn of(object: &DynamicObject, gvk: &GroupVersionKind) -> Self {
        Self {
            namespace: object.metadata.namespace.clone().unwrap_or_default(),
            name: object.metadata.name.clone().unwrap_or_default(),
            group: gvk.group.clone(),
            kind: gvk.kind.clone(),
        }
    }

    /// `Kind/namespace/name`, or `Kind/name` when cluster-scoped, as `ssa/utils.FmtUnstructured`
    /// formats subjects in change sets and errors.
    pub fn subject(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

impl fmt::Display for ObjMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.subject())
    }
}

/// Splits an `apiVersion` into group and version (`v1` is the core group).
pub fn split_api_version(api_version: &str) -> (String, String) {
    match api_version.split_once('/') {
        Some((group, version)) => (group.to_string(), version.to_string()),
        None => (String::new(), api_version.to_string()),
    }
}

/// The GVK a decoded object declares in its `types`.
pub fn gvk_of(object: &DynamicObject) -> Option<GroupVersionKind> {
    let types = object.types.as_ref()?;
    let (group, version) = split_api_version(&types.api_version);
    Some(GroupVersionKind::gvk(&group, &version, &types.kind))
}

/// `group/version`, or `version` for the core group.
pub fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(namespace: &str, kind: &str) -> ObjMetadata {
        ObjMetadata {
            namespace: namespace.into(),
            name: "podinfo".into(),
            group: String::new(),
            kind: kind.into(),
        }
    }

    #[test]
    fn subjects_are_formatted_as_flux_formats_unstructured_objects() {
        assert_eq!(
            meta("default", "Service").subject(),
            "Service/default/podinfo"
        );
        assert_eq!(meta("", "Namespace").subject(), "Namespace/podinfo");
    }

    #[test]
    fn api_versions_split_into_group_and_version_with_core_as_empty_group() {
        assert_eq!(split_api_version("v1"), (String::new(), "v1".into()));
        assert_eq!(split_api_version("apps/v1"), ("apps".into(), "v1".into()));
        assert_eq!(api_version("", "v1"), "v1");
        assert_eq!(api_version("apps", "v1"), "apps/v1");
    }
}
