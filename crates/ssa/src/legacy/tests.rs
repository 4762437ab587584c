//! Helm 3's readiness rules, kind by kind.

use serde_json::json;

use super::*;

fn deployment(replicas: i64, strategy: Value) -> Value {
    json!({
        "metadata": {"name": "web", "namespace": "apps", "generation": 2},
        "spec": {"replicas": replicas, "strategy": strategy},
        "status": {"observedGeneration": 2},
    })
}

fn replica_set(ready: i64) -> Value {
    json!({
        "metadata": {"generation": 1},
        "status": {"observedGeneration": 1, "readyReplicas": ready},
    })
}

#[test]
fn a_deployment_is_ready_once_its_new_replica_set_has_replicas_minus_max_unavailable_ready() {
    let rolling = deployment(4, json!({"type": "RollingUpdate"}));
    // 25% of 4 may be unavailable: 3 ready pods are enough, 2 are not.
    assert_eq!(max_unavailable(&rolling), 1);
    assert_eq!(
        deployment_ready(&rolling, Some(&replica_set(3))),
        Readiness::Ready
    );
    assert!(matches!(
        deployment_ready(&rolling, Some(&replica_set(2))),
        Readiness::NotReady(_)
    ));
    assert!(matches!(
        deployment_ready(&rolling, None),
        Readiness::NotReady(_)
    ));
    let recreate = deployment(4, json!({"type": "Recreate"}));
    assert_eq!(max_unavailable(&recreate), 0);
    assert!(matches!(
        deployment_ready(&recreate, Some(&replica_set(3))),
        Readiness::NotReady(_)
    ));
    let both_zero = deployment(
        2,
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}),
    );
    assert_eq!(max_unavailable(&both_zero), 1);
    let mut paused = deployment(4, json!({}));
    paused["spec"]["paused"] = json!(true);
    assert_eq!(deployment_ready(&paused, None), Readiness::Ready);
}

#[test]
fn percentages_scale_rounding_as_asked_and_garbage_does_not_parse() {
    assert_eq!(scaled(Some(&json!("25%")), 10, true), Some(3));
    assert_eq!(scaled(Some(&json!("25%")), 10, false), Some(2));
    assert_eq!(scaled(Some(&json!(4)), 10, false), Some(4));
    assert_eq!(scaled(Some(&json!("lots")), 10, false), None);
}

#[test]
fn jobs_count_only_when_waited_for_and_a_job_past_its_backoff_limit_fails() {
    let running = json!({
        "metadata": {"name": "migrate", "namespace": "apps"},
        "spec": {"completions": 1, "backoffLimit": 2},
        "status": {"active": 1},
    });
    assert_eq!(ready("batch", "Job", &running, false), Readiness::Ready);
    assert!(matches!(
        ready("batch", "Job", &running, true),
        Readiness::NotReady(_)
    ));
    let failed = json!({
        "metadata": {"name": "migrate", "namespace": "apps"},
        "spec": {"completions": 1, "backoffLimit": 2},
        "status": {"failed": 3},
    });
    assert_eq!(
        ready("batch", "Job", &failed, true),
        Readiness::Failed("job is failed: apps/migrate".into())
    );
    let done = json!({"spec": {"completions": 1}, "status": {"succeeded": 1}});
    assert_eq!(ready("batch", "Job", &done, true), Readiness::Ready);
}

#[test]
fn pods_claims_services_and_crds_follow_helm_3() {
    let pod = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}});
    assert!(matches!(
        ready("", "Pod", &pod, false),
        Readiness::NotReady(_)
    ));
    let pod = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    assert_eq!(ready("", "Pod", &pod, false), Readiness::Ready);

    let pending = json!({"status": {"phase": "Pending"}});
    assert!(matches!(
        ready("", "PersistentVolumeClaim", &pending, false),
        Readiness::NotReady(_)
    ));
    let bound = json!({"status": {"phase": "Bound"}});
    assert_eq!(
        ready("", "PersistentVolumeClaim", &bound, false),
        Readiness::Ready
    );

    let lb = json!({"spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1"}, "status": {}});
    assert!(matches!(
        ready("", "Service", &lb, false),
        Readiness::NotReady(_)
    ));
    let lb_ip = json!({"spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1", "externalIPs": ["1.2.3.4"]}});
    assert_eq!(ready("", "Service", &lb_ip, false), Readiness::Ready);
    let lb_in = json!({"spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1"},
        "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}});
    assert_eq!(ready("", "Service", &lb_in, false), Readiness::Ready);
    let external = json!({"spec": {"type": "ExternalName"}});
    assert_eq!(ready("", "Service", &external, false), Readiness::Ready);

    let crd = "CustomResourceDefinition";
    let group = "apiextensions.k8s.io";
    let new = json!({"status": {"conditions": []}});
    assert!(matches!(
        ready(group, crd, &new, false),
        Readiness::NotReady(_)
    ));
    let established =
        json!({"status": {"conditions": [{"type": "Established", "status": "True"}]}});
    assert_eq!(ready(group, crd, &established, false), Readiness::Ready);
    let conflict =
        json!({"status": {"conditions": [{"type": "NamesAccepted", "status": "False"}]}});
    assert_eq!(ready(group, crd, &conflict, false), Readiness::Ready);

    let config_map = json!({"data": {}});
    assert_eq!(ready("", "ConfigMap", &config_map, false), Readiness::Ready);
}

#[test]
fn statefulsets_and_daemonsets_wait_for_their_rollout() {
    let sts = json!({
        "metadata": {"generation": 1},
        "spec": {"replicas": 3, "updateStrategy": {"type": "RollingUpdate"}},
        "status": {"observedGeneration": 1, "updatedReplicas": 3, "readyReplicas": 3,
            "currentRevision": "a", "updateRevision": "b"},
    });
    assert!(matches!(
        ready("apps", "StatefulSet", &sts, false),
        Readiness::NotReady(_)
    ));
    let mut rolled = sts.clone();
    rolled["status"]["currentRevision"] = json!("b");
    assert_eq!(
        ready("apps", "StatefulSet", &rolled, false),
        Readiness::Ready
    );
    let mut on_delete = sts;
    on_delete["spec"]["updateStrategy"]["type"] = json!("OnDelete");
    assert_eq!(
        ready("apps", "StatefulSet", &on_delete, false),
        Readiness::Ready
    );

    let ds = json!({
        "metadata": {"generation": 1},
        "spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}},
        "status": {"observedGeneration": 1, "desiredNumberScheduled": 3,
            "updatedNumberScheduled": 3, "numberReady": 2},
    });
    assert_eq!(ready("apps", "DaemonSet", &ds, false), Readiness::Ready);
    let mut behind = ds;
    behind["status"]["numberReady"] = json!(1);
    assert!(matches!(
        ready("apps", "DaemonSet", &behind, false),
        Readiness::NotReady(_)
    ));
}
