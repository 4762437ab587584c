//! The local control plane behaves like a real cluster: scheduling, workload
//! controllers, namespace finalization, garbage collection, server-side apply
//! and RBAC all happen for real (no mocks).

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use testkit::{TestNamespace, cluster, wait};

const CONVERGE: Duration = Duration::from_secs(60);

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1.0"}]}
            }
        }
    }))
    .expect("a valid Deployment")
}

fn condition_true(conditions: Option<&Vec<impl serde::Serialize>>, type_: &str) -> bool {
    conditions.is_some_and(|cs| {
        cs.iter().any(|c| {
            let v = serde_json::to_value(c).expect("conditions serialise");
            v["type"] == type_ && v["status"] == "True"
        })
    })
}

#[tokio::test]
async fn a_deployment_becomes_available_through_scheduler_kwok_and_controller_manager() {
    let cluster = cluster().await.unwrap();
    let ns = TestNamespace::create(&cluster, "deploy").await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), ns.name());
    deployments
        .create(&PostParams::default(), &deployment("web", 3))
        .await
        .unwrap();

    wait::until(
        CONVERGE,
        "Deployment web to be Available with 3 ready replicas",
        || {
            let deployments = deployments.clone();
            async move {
                let d = deployments.get("web").await.map_err(|e| e.to_string())?;
                let status = d.status.unwrap_or_default();
                let ready = status.ready_replicas.unwrap_or(0);
                if ready == 3 && condition_true(status.conditions.as_ref(), "Available") {
                    Ok(Some(()))
                } else {
                    Err(format!("readyReplicas={ready}"))
                }
            }
        },
    )
    .await
    .unwrap();

    // The pods were really scheduled onto the fake nodes and run there.
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), ns.name());
    let list = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 3);
    for pod in list.items {
        let node = pod.spec.unwrap().node_name.unwrap_or_default();
        assert!(node.starts_with("kwok-node-"), "pod scheduled to {node:?}");
        assert_eq!(pod.status.unwrap().phase.as_deref(), Some("Running"));
    }
}

#[tokio::test]
async fn a_job_runs_to_completion_on_kwok_nodes() {
    let cluster = cluster().await.unwrap();
    let ns = TestNamespace::create(&cluster, "job").await.unwrap();
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), ns.name());
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "once"},
        "spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "task", "image": "registry.invalid/task:1.0"}]
        }}}
    }))
    .unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap();
    wait::until(CONVERGE, "Job once to be Complete", || {
        let jobs = jobs.clone();
        async move {
            let j = jobs.get("once").await.map_err(|e| e.to_string())?;
            let status = j.status.unwrap_or_default();
            if condition_true(status.conditions.as_ref(), "Complete") {
                Ok(Some(()))
            } else {
                Err(format!("succeeded={:?}", status.succeeded))
            }
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn deleting_a_namespace_finalizes_it_and_removes_its_objects() {
    let cluster = cluster().await.unwrap();
    let ns = TestNamespace::create(&cluster, "nsdelete").await.unwrap();
    let name = ns.name().to_string();
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &name);
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "doomed"}})).unwrap();
    config_maps
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();

    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client.clone());
    namespaces
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();

    wait::until(CONVERGE, "the namespace to be finalized and gone", || {
        let namespaces = namespaces.clone();
        let name = name.clone();
        async move {
            match namespaces.get_opt(&name).await.map_err(|e| e.to_string())? {
                None => Ok(Some(())),
                Some(ns) => Err(format!("phase {:?}", ns.status.and_then(|s| s.phase))),
            }
        }
    })
    .await
    .unwrap();
    // Recreating the namespace shows the old objects did not survive.
    let recreated: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    namespaces
        .create(&PostParams::default(), &recreated)
        .await
        .unwrap();
    assert!(config_maps.get_opt("doomed").await.unwrap().is_none());
    namespaces
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_object_whose_owner_is_deleted_is_garbage_collected() {
    let cluster = cluster().await.unwrap();
    let ns = TestNamespace::create(&cluster, "gc").await.unwrap();
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), ns.name());
    let owner: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "owner"}})).unwrap();
    let owner = config_maps
        .create(&PostParams::default(), &owner)
        .await
        .unwrap();
    let uid = owner.metadata.uid.unwrap();
    let dependent: ConfigMap = serde_json::from_value(json!({"metadata": {
        "name": "dependent",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}]
    }}))
    .unwrap();
    config_maps
        .create(&PostParams::default(), &dependent)
        .await
        .unwrap();
    let bystander: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "bystander"}})).unwrap();
    config_maps
        .create(&PostParams::default(), &bystander)
        .await
        .unwrap();

    config_maps
        .delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    wait::until(
        CONVERGE,
        "the dependent ConfigMap to be garbage-collected",
        || {
            let config_maps = config_maps.clone();
            async move {
                match config_maps
                    .get_opt("dependent")
                    .await
                    .map_err(|e| e.to_string())?
                {
                    None => Ok(Some(())),
                    Some(_) => Err("dependent still exists".into()),
                }
            }
        },
    )
    .await
    .unwrap();
    assert!(
        config_maps.get_opt("bystander").await.unwrap().is_some(),
        "an object without the ownerReference must survive"
    );
}

#[tokio::test]
async fn server_side_apply_records_the_field_manager_in_managed_fields() {
    let cluster = cluster().await.unwrap();
    let ns = TestNamespace::create(&cluster, "ssa").await.unwrap();
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), ns.name());
    let desired = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "applied"},
        "data": {"key": "value"}
    });
    let applied = config_maps
        .patch(
            "applied",
            &PatchParams::apply("kustomize-controller"),
            &Patch::Apply(&desired),
        )
        .await
        .unwrap();
    let managed = applied.metadata.managed_fields.unwrap();
    let entry = managed
        .iter()
        .find(|m| m.manager.as_deref() == Some("kustomize-controller"))
        .expect("an entry for our field manager");
    assert_eq!(entry.operation.as_deref(), Some("Apply"));
    let fields = serde_json::to_value(entry.fields_v1.as_ref().unwrap()).unwrap();
    assert!(fields["f:data"]["f:key"].is_object(), "{fields}");

    // A second manager changing the same field without force is a conflict.
    let other = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "applied"},
        "data": {"key": "other"}
    });
    let err = config_maps
        .patch(
            "applied",
            &PatchParams::apply("someone-else"),
            &Patch::Apply(&other),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409),
        "{err}"
    );
}

#[tokio::test]
async fn an_impersonated_service_account_is_forbidden_until_rbac_allows_it() {
    let cluster = cluster().await.unwrap();
    let ns = TestNamespace::create(&cluster, "rbac").await.unwrap();
    let user = format!("system:serviceaccount:{}:default", ns.name());
    let groups = ["system:serviceaccounts", "system:authenticated"];
    let as_sa = cluster.impersonating(&user, &groups).await.unwrap();
    let config_maps: Api<ConfigMap> = Api::namespaced(as_sa, ns.name());

    let err = config_maps.list(&ListParams::default()).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 403),
        "{err}"
    );

    // Grant exactly that permission and the same request succeeds: the 403
    // came from RBAC, not from a broken client.
    let admin = cluster.client.clone();
    let roles: Api<k8s_openapi::api::rbac::v1::Role> = Api::namespaced(admin.clone(), ns.name());
    let role = serde_json::from_value(json!({
        "metadata": {"name": "read-configmaps"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]
    }))
    .unwrap();
    roles.create(&PostParams::default(), &role).await.unwrap();
    let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> = Api::namespaced(admin, ns.name());
    let binding = serde_json::from_value(json!({
        "metadata": {"name": "read-configmaps"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-configmaps"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": ns.name()}]
    }))
    .unwrap();
    bindings
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    wait::until(
        Duration::from_secs(10),
        "the RoleBinding to take effect",
        || {
            let config_maps = config_maps.clone();
            async move {
                config_maps
                    .list(&ListParams::default())
                    .await
                    .map(|_| Some(()))
                    .map_err(|e| e.to_string())
            }
        },
    )
    .await
    .unwrap();
}
