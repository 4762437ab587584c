//! Helpers shared by the apply-engine tests against the local control plane.
#![allow(dead_code)]

use std::time::Duration;

use driftless_ssa::{ApplyOptions, ChangeSet, Owner, ResourceManager, SsaError};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject};
use kube::discovery::ApiResource;
use testkit::{TestCluster, TestNamespace};

/// A manager applying into `ns`, owned by a Kustomization named `owner` in `ns`.
pub fn manager(cluster: &TestCluster, ns: &TestNamespace, owner: &str) -> ResourceManager {
    let options = ApplyOptions {
        default_namespace: ns.name().to_string(),
        owner: Some(Owner::kustomization(owner, ns.name())),
        poll_interval: Duration::from_millis(500),
        ..ApplyOptions::default()
    };
    ResourceManager::new(cluster.client.clone(), options)
}

/// Decodes and applies a YAML set.
pub async fn apply(manager: &ResourceManager, yaml: &str) -> Result<ChangeSet, SsaError> {
    let objects = driftless_ssa::decode::decode_yaml(yaml)?;
    manager.apply_all_staged(objects).await
}

/// A ConfigMap manifest without namespace (the manager defaults it) and with extra metadata.
pub fn config_map(name: &str, value: &str, metadata: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{metadata}data:\n  key: \"{value}\"\n"
    )
}

pub fn config_maps(cluster: &TestCluster, ns: &TestNamespace) -> Api<ConfigMap> {
    Api::namespaced(cluster.client.clone(), ns.name())
}

/// The `key` value of a ConfigMap, None when it does not exist.
pub async fn config_value(api: &Api<ConfigMap>, name: &str) -> anyhow::Result<Option<String>> {
    Ok(api
        .get_opt(name)
        .await?
        .and_then(|cm| cm.data)
        .and_then(|d| d.get("key").cloned()))
}

/// Deletes a cluster-scoped object (CRD, Namespace) when the test ends, pass or fail.
pub struct ClusterCleanup {
    pub resource: ApiResource,
    pub name: String,
    pub plane: testkit::ControlPlane,
}

impl ClusterCleanup {
    pub fn crd(cluster: &TestCluster, name: &str) -> Self {
        Self {
            resource: ApiResource::erase::<CustomResourceDefinition>(&()),
            name: name.to_string(),
            plane: cluster.plane.clone(),
        }
    }

    pub fn namespace(cluster: &TestCluster, name: &str) -> Self {
        Self {
            resource: ApiResource::erase::<Namespace>(&()),
            name: name.to_string(),
            plane: cluster.plane.clone(),
        }
    }
}

impl Drop for ClusterCleanup {
    fn drop(&mut self) {
        let name = self.name.clone();
        let plane = self.plane.clone();
        let resource = self.resource.clone();
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(client) = plane.client().await {
                    let api: Api<DynamicObject> = Api::all_with(client, &resource);
                    let _ = api.delete(&name, &DeleteParams::background()).await;
                }
            });
        });
        let _ = handle.join();
    }
}

/// A unique lowercase suffix for cluster-scoped names, derived from the test namespace.
pub fn unique(ns: &TestNamespace) -> String {
    ns.name().replace('-', "")
}
