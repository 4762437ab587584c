//! The install manifest on a real API server: every object is admitted, and the controller
//! Deployments become Available on the kwok nodes.

mod common;

use common::{
    CONVERGE, apply, delete_cluster_rbac, first_difference, install_crds,
    integral_floats_as_integers, kubectl, repo_root, yaml_documents,
};
use driftless_cli::manifests::{CONTROLLERS, Install};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use serde_json::Value;
use testkit::{TestCluster, TestNamespace, cluster, wait};

#[tokio::test]
async fn the_committed_install_manifest_is_admitted_by_server_side_apply() {
    let cluster = cluster().await.unwrap();
    let objects = yaml_documents(&repo_root().join("deploy/install.yaml")).unwrap();
    assert!(objects.len() > 30, "{} objects", objects.len());
    // Namespaced objects can only be dry-run into a namespace that exists; flux-system is
    // created for real (idempotently) and never deleted, everything else is only admitted.
    let namespace = &objects[0];
    assert_eq!(namespace["kind"], "Namespace");
    apply(&cluster, namespace, "", false).await.unwrap();
    for object in &objects[1..] {
        let name = &object["metadata"]["name"];
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
        apply(&cluster, object, namespace, true)
            .await
            .unwrap_or_else(|e| panic!("{}/{name}: {e:#}", object["kind"]));
    }
}

#[tokio::test]
async fn kustomize_builds_config_default_into_exactly_the_install_manifest() {
    let cluster = cluster().await.unwrap();
    let default = repo_root().join("config/default");
    let built = kubectl(&cluster, &["kustomize", default.to_str().unwrap()]).unwrap();
    let built: Vec<Value> = serde_saphyr::from_multiple(&built).unwrap();
    let install = yaml_documents(&repo_root().join("deploy/install.yaml")).unwrap();
    // kustomize orders objects by kind; the set is what must match.
    let key = |o: &Value| {
        format!(
            "{}/{}/{}",
            o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]
        )
    };
    let sorted = |mut objects: Vec<Value>| {
        objects.sort_by_key(key);
        objects
    };
    // Go writes the float 0.0 as 0.
    let built = integral_floats_as_integers(Value::Array(sorted(built)));
    let install = integral_floats_as_integers(Value::Array(sorted(install)));
    assert_eq!(first_difference(&built, &install, String::new()), None);
}

async fn install_and_wait_for_deployments(
    cluster: &TestCluster,
    install: &Install,
) -> anyhow::Result<()> {
    // The CRDs are shared with every other test: apply the committed ones, not this install's
    // copies with a per-test instance label.
    install_crds(cluster).await?;
    for object in install.objects()? {
        if object["kind"] != "CustomResourceDefinition" {
            apply(cluster, &object, &install.namespace, false).await?;
        }
    }
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), &install.namespace);
    for controller in CONTROLLERS {
        let what = format!("Deployment {} to be Available", controller.name);
        wait::until(CONVERGE, &what, || {
            let deployments = deployments.clone();
            async move {
                let deployment = deployments
                    .get(controller.name)
                    .await
                    .map_err(|e| e.to_string())?;
                let conditions = deployment
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default();
                let available = conditions.iter().any(|c| {
                    c.type_.as_deref() == Some("Available") && c.status.as_deref() == Some("True")
                });
                if available {
                    Ok(Some(()))
                } else {
                    Err(serde_json::to_string(&conditions).unwrap_or_default())
                }
            }
        })
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    }
    Ok(())
}

#[tokio::test]
async fn an_install_into_its_own_namespace_runs_every_controller_deployment_on_kwok_nodes() {
    let cluster = cluster().await.unwrap();
    let ns = TestNamespace::create(&cluster, "install").await.unwrap();
    let install = Install {
        namespace: ns.name().to_owned(),
        ..Install::default()
    };
    let result = install_and_wait_for_deployments(&cluster, &install).await;
    delete_cluster_rbac(&cluster, &install).await;
    result.unwrap();
}
