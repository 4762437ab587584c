//! `--recursive` with `--local-sources`: a Kustomization object found in a build is built too,
//! from the local checkout of its source (`Kind/namespace/name=path`, joined with its
//! `spec.path`), and its objects are appended after the parent's, depth first, as flux does.
//! In the cluster, the nested Kustomization's live spec is used when it exists; otherwise (and
//! in dry-run mode) the object from the build stands in.

use std::path::PathBuf;
use std::str::FromStr;

use driftless_api::kustomize::Kustomization;
use kube::ResourceExt;
use serde_json::Value;

use super::super::CommandError;
use super::super::cluster::ClusterError;
use super::{Built, LocalBuild, build_for, resolve};

/// Flux follows nested Kustomizations without a bound; a cycle (A contains B contains A under
/// another name) would never end, so this many levels is an error instead.
pub const MAX_NESTING: usize = 50;

/// One `--local-sources` entry: the source's `Kind/namespace/name` and its local checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSource {
    pub source: String,
    pub path: PathBuf,
}

impl FromStr for LocalSource {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (source, path) = text
            .split_once('=')
            .ok_or_else(|| format!("{text} must be formatted as key=value"))?;
        Ok(LocalSource {
            source: source.to_owned(),
            path: PathBuf::from(path),
        })
    }
}

/// Whether `object` is a Flux Kustomization.
pub fn is_kustomization(object: &Value) -> bool {
    object["apiVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("kustomize.toolkit.fluxcd.io/"))
        && object["kind"] == "Kustomization"
}

/// `object` as a Kustomization, unless it is `parent` itself (flux compares name and namespace).
pub fn nested(
    object: &Value,
    parent: &Kustomization,
) -> Result<Option<Kustomization>, CommandError> {
    if !is_kustomization(object) {
        return Ok(None);
    }
    let ks: Kustomization = serde_json::from_value(object.clone())
        .map_err(|e| ClusterError::Failed(format!("failed to convert to kustomization: {e}")))?;
    let same = ks.name_any() == parent.name_any() && ks.namespace() == parent.namespace();
    Ok((!same).then_some(ks))
}

/// The local directory `ks` builds from: its source's `--local-sources` path joined with
/// `spec.path`.
pub fn local_path(ks: &Kustomization, local: &LocalBuild) -> Result<PathBuf, CommandError> {
    let source = &ks.spec.source_ref;
    let namespace = source
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| ks.namespace().unwrap_or_default());
    let kind = serde_json::to_value(source.kind)
        .ok()
        .and_then(|k| k.as_str().map(str::to_owned))
        .unwrap_or_default();
    let key = format!("{kind}/{namespace}/{}", source.name);
    let checkout = local
        .local_sources
        .iter()
        .rev()
        .find(|s| s.source == key)
        .ok_or_else(|| {
            ClusterError::Failed(format!(
                "cannot get local path for {key} of kustomization {}",
                ks.name_any()
            ))
        })?;
    Ok(checkout
        .path
        .join(ks.spec.path.as_deref().unwrap_or_default()))
}

/// Builds `found`, a Kustomization met in a build, from its local source: `diff --recursive`
/// diffs each nested Kustomization on its own.
pub async fn build_nested(
    client: Option<&kube::Client>,
    found: Kustomization,
    local: &LocalBuild,
) -> Result<Built, CommandError> {
    let dir = std::path::absolute(local_path(&found, local)?)
        .map_err(|e| ClusterError::Failed(e.to_string()))?;
    let name = found.name_any();
    let namespace = found.namespace().unwrap_or_default();
    let ks = resolve::resolve(client, &name, &namespace, None, Some(found), false).await?;
    let objects = build_for(client, &ks, &dir, local).await?;
    Ok(Built {
        kustomization: ks,
        objects,
    })
}

/// `objects` followed by the objects of every nested Kustomization among them, recursively.
pub async fn append_nested(
    client: Option<&kube::Client>,
    parent: &Kustomization,
    mut objects: Vec<Value>,
    local: &LocalBuild,
    depth: usize,
) -> Result<Vec<Value>, CommandError> {
    if depth >= MAX_NESTING {
        return Err(ClusterError::Failed(format!(
            "kustomization {} nests Kustomizations more than {MAX_NESTING} levels deep",
            parent.name_any()
        ))
        .into());
    }
    let mut added = Vec::new();
    for object in &objects {
        let Some(found) = nested(object, parent)? else {
            continue;
        };
        let built = build_nested(client, found, local).await?;
        let all = Box::pin(append_nested(
            client,
            &built.kustomization,
            built.objects,
            local,
            depth + 1,
        ))
        .await?;
        added.extend(all);
    }
    objects.extend(added);
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_source_is_split_at_the_first_equals_sign() {
        let source: LocalSource = "GitRepository/flux-system/fleet=./a=b"
            .parse()
            .expect("parses");
        assert_eq!(source.source, "GitRepository/flux-system/fleet");
        assert_eq!(source.path, PathBuf::from("./a=b"));
        assert!("no-equals".parse::<LocalSource>().is_err());
    }
}
