//! `status.inventory`: the objects of the current release, as Flux lists them — every object of
//! the (post-rendered) release manifest and the CRDs of the chart's `crds/` directory, hooks
//! left out, each with the namespace it really lives in (the release namespace for a namespaced
//! object the manifest leaves without one, none for a cluster-scoped one), sorted by id.

use std::collections::BTreeMap;

use driftless_api::apply::{ResourceInventory, ResourceRef};
use driftless_helm::release::{Release, Status};
use driftless_ssa::ObjMetadata;
use driftless_ssa::inventory::entry_id;
use driftless_ssa::object::gvk_of;
use driftless_ssa::resolve::Resolver;
use kube::api::DynamicObject;

/// The inventory of `release`; `None` unless it is deployed.
pub async fn of_release(client: &kube::Client, release: &Release) -> Option<ResourceInventory> {
    if release.status() != Status::Deployed {
        return None;
    }
    let resolver = Resolver::new(client.clone());
    let mut entries = BTreeMap::new();
    for object in objects(release) {
        let Some(gvk) = gvk_of(&object) else {
            continue;
        };
        let mut meta = ObjMetadata::of(&object, &gvk);
        if meta.namespace.is_empty() && namespaced(&resolver, &gvk).await {
            meta.namespace = release.namespace.clone();
        }
        entries.insert(entry_id(&meta), gvk.version);
    }
    Some(ResourceInventory {
        entries: entries
            .into_iter()
            .map(|(id, v)| ResourceRef { id, v })
            .collect(),
    })
}

/// Whether objects of `gvk` live in namespaces. CRDs never do; a kind discovery cannot answer
/// for (its CRD is gone) is taken as namespaced, as nearly every chart object is.
async fn namespaced(resolver: &Resolver, gvk: &kube::api::GroupVersionKind) -> bool {
    if gvk.group == "apiextensions.k8s.io" && gvk.kind == "CustomResourceDefinition" {
        return false;
    }
    resolver
        .resolve(gvk)
        .await
        .map(|r| r.namespaced)
        .unwrap_or(true)
}

/// The manifest's objects, then those of the chart's `crds/` files as stored in the release.
fn objects(release: &Release) -> Vec<DynamicObject> {
    let mut objects = driftless_ssa::decode::decode_yaml(&release.manifest).unwrap_or_default();
    let files = release
        .chart
        .as_ref()
        .and_then(|c| c.files.as_ref())
        .into_iter()
        .flatten();
    for file in files {
        let is_crd = file.name.starts_with("crds/")
            && [".yaml", ".yml", ".json"]
                .iter()
                .any(|ext| file.name.ends_with(ext));
        let text = file
            .data
            .as_deref()
            .and_then(|d| std::str::from_utf8(d).ok());
        if let (true, Some(text)) = (is_crd, text) {
            objects.extend(driftless_ssa::decode::decode_yaml(text).unwrap_or_default());
        }
    }
    objects
}

#[cfg(test)]
mod tests {
    use driftless_helm::release::ChartRecord;
    use driftless_helm::release::record::FileRecord;

    use super::*;

    #[test]
    fn manifest_objects_and_chart_crds_are_listed_and_other_files_are_not() {
        let release = Release {
            manifest: "---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: team\n".into(),
            chart: Some(ChartRecord {
                files: Some(vec![
                    FileRecord {
                        name: "crds/things.yaml".into(),
                        data: Some(b"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: things.example.com\n".to_vec()),
                    },
                    FileRecord {
                        name: "README.md".into(),
                        data: Some(b"kind: NotAnObject".to_vec()),
                    },
                ]),
                ..Default::default()
            }),
            ..Release::default()
        };
        let names: Vec<Option<String>> = objects(&release)
            .iter()
            .map(|o| o.metadata.name.clone())
            .collect();
        assert_eq!(
            names,
            vec![Some("cfg".into()), Some("things.example.com".into())]
        );
    }
}
