//! The cluster as the actions see it: a small trait ([`Cluster`]) so the record keeping and
//! ordering of the actions can be tested without an API server ([`super::kube_cluster`] is the
//! real one), and the identities of the objects a manifest holds.

use std::future::Future;
use std::time::Duration;

use serde_json::Value as Json;

use super::error::ReleaseError;

/// Annotation keeping an object when its release deletes or stops rendering it.
pub const RESOURCE_POLICY_ANNOTATION: &str = "helm.sh/resource-policy";

/// Flux's `crds` policy for the chart's `crds/` directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CrdPolicy {
    /// Leave CRDs alone.
    Skip,
    /// Create missing CRDs, never change existing ones (Helm's own behaviour).
    #[default]
    Create,
    /// Create missing CRDs and update existing ones.
    CreateReplace,
}

/// One object of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// API group (empty for the core group).
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The object's namespace, or the release's when the document has none (the cluster
    /// decides whether the kind is namespaced at all).
    pub namespace: String,
    pub name: String,
    /// Annotated `helm.sh/resource-policy: keep`.
    pub keep: bool,
}

impl ObjectKey {
    /// Whether two keys name the same object (the API version does not matter).
    pub fn same_object(&self, other: &ObjectKey) -> bool {
        (&self.group, &self.kind, &self.namespace, &self.name)
            == (&other.group, &other.kind, &other.namespace, &other.name)
    }

    /// `Kind "name"` (plus `in namespace "ns"`), as Helm names objects in errors.
    pub fn describe(&self) -> String {
        format!("{} {:?}", self.kind, self.name)
    }
}

/// The objects of `manifest`, in its order; documents without a kind are skipped.
pub fn objects(manifest: &str, namespace: &str) -> Result<Vec<ObjectKey>, ReleaseError> {
    let mut out = Vec::new();
    for doc in crate::manifest::split_documents(manifest) {
        let v = crate::values::parse_yaml(&doc).map_err(ReleaseError::Manifest)?;
        let str_at = |path: &[&str]| {
            let mut cur = &v;
            for p in path {
                cur = cur.get(p)?;
            }
            cur.as_str().map(str::to_string)
        };
        let Some(kind) = str_at(&["kind"]).filter(|k| !k.is_empty()) else {
            continue;
        };
        let api_version = str_at(&["apiVersion"]).unwrap_or_default();
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version),
        };
        let keep = v
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(RESOURCE_POLICY_ANNOTATION))
            .and_then(Json::as_str)
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("keep"));
        out.push(ObjectKey {
            group,
            version,
            kind,
            namespace: str_at(&["metadata", "namespace"])
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| namespace.to_string()),
            name: str_at(&["metadata", "name"]).unwrap_or_default(),
            keep,
        });
    }
    Ok(out)
}

/// Objects of `old` that `new` no longer has, apart from those to keep: what an upgrade or a
/// rollback deletes after applying `new`.
pub fn stale(old: &[ObjectKey], new: &[ObjectKey]) -> Vec<ObjectKey> {
    old.iter()
        .filter(|o| !o.keep && !new.iter().any(|n| n.same_object(o)))
        .cloned()
        .collect()
}

/// The cluster operations an action needs. `namespace` is the release's namespace: the
/// namespace of documents that name none.
pub trait Cluster: Send + Sync {
    /// Installs `crds` (path, document) under `policy` and waits until they are established.
    fn install_crds(
        &self,
        crds: &[(String, String)],
        policy: CrdPolicy,
    ) -> impl Future<Output = Result<(), ReleaseError>> + Send;

    /// Fails when an object of `manifest` exists and belongs to no release or another one
    /// (Helm's ownership check on objects a release is about to create).
    fn check_ownership(
        &self,
        release: &str,
        namespace: &str,
        objects: &[ObjectKey],
    ) -> impl Future<Output = Result<(), ReleaseError>> + Send;

    /// Server-side applies the release's objects with Helm's ownership metadata; with
    /// `force`, an object whose immutable fields changed is deleted and created again.
    /// Returns the objects that did not exist before.
    fn apply(
        &self,
        release: &str,
        namespace: &str,
        manifest: &str,
        force: bool,
    ) -> impl Future<Output = Result<Vec<ObjectKey>, ReleaseError>> + Send;

    /// Waits until the objects of `manifest` are ready (kstatus Current).
    fn wait_ready(
        &self,
        namespace: &str,
        manifest: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), ReleaseError>> + Send;

    /// Deletes `objects` (background propagation); objects already gone are fine. With a
    /// `wait`, returns once they are gone.
    fn delete(
        &self,
        objects: &[ObjectKey],
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<(), ReleaseError>> + Send;

    /// Creates a hook's object (a create, not an apply: an object left over is an error).
    fn create_hook(
        &self,
        namespace: &str,
        manifest: &str,
    ) -> impl Future<Output = Result<(), ReleaseError>> + Send;

    /// Waits until a hook has run: a Job complete, a Pod succeeded; other kinds at once.
    fn wait_hook(
        &self,
        namespace: &str,
        manifest: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), ReleaseError>> + Send;

    /// Deletes a hook's object and waits until it is gone.
    fn delete_hook(
        &self,
        namespace: &str,
        manifest: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), ReleaseError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "---\n# Source: c/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# Source: c/templates/b.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  annotations:\n    helm.sh/resource-policy: keep\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: other\n";

    #[test]
    fn objects_take_the_release_namespace_unless_they_name_one() {
        let objs = objects(OLD, "rel").expect("parses");
        let ids: Vec<(&str, &str, &str, bool)> = objs
            .iter()
            .map(|o| {
                (
                    o.group.as_str(),
                    o.kind.as_str(),
                    o.namespace.as_str(),
                    o.keep,
                )
            })
            .collect();
        assert_eq!(
            ids,
            vec![
                ("", "ConfigMap", "rel", false),
                ("", "ConfigMap", "rel", true),
                ("apps", "Deployment", "other", false)
            ]
        );
    }

    #[test]
    fn stale_objects_are_those_gone_from_the_new_manifest_except_kept_ones() {
        let old = objects(OLD, "rel").expect("parses");
        let new = objects(
            "apiVersion: apps/v1beta1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: other\n",
            "rel",
        )
        .expect("parses");
        let gone: Vec<String> = stale(&old, &new).into_iter().map(|o| o.name).collect();
        assert_eq!(gone, vec!["a"]);
    }
}
