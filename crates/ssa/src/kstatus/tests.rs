use serde_json::{Value, json};

use super::*;

fn now() -> Timestamp {
    "2026-01-01T00:01:00Z".parse().expect("valid timestamp")
}

fn status_of(object: Value) -> Status {
    compute(&object, now()).status
}

fn deployment(spec: i64, status: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "generation": 2},
        "spec": {"replicas": spec},
        "status": status,
    })
}

#[test]
fn a_deleted_object_is_terminating_whatever_its_kind() {
    let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"}});
    assert_eq!(status_of(object), Status::Terminating);
}

#[test]
fn an_unobserved_generation_is_in_progress() {
    let object = deployment(1, json!({"observedGeneration": 1, "replicas": 1}));
    let computed = compute(&object, now());
    assert_eq!(computed.status, Status::InProgress);
    assert!(
        computed.message.contains("latest observed generation is 1"),
        "{}",
        computed.message
    );
}

#[test]
fn a_deployment_is_current_only_when_available_with_every_replica_updated_and_ready() {
    let available = json!({
        "observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
        "readyReplicas": 2, "availableReplicas": 2,
        "conditions": [
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}
        ]
    });
    assert_eq!(status_of(deployment(2, available)), Status::Current);

    let starting = json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
        "readyReplicas": 0, "availableReplicas": 0});
    let computed = compute(&deployment(2, starting), now());
    assert_eq!(computed.status, Status::InProgress);
    assert_eq!(computed.message, "Available: 0/2");
}

#[test]
fn a_deployment_past_its_progress_deadline_has_failed() {
    let stuck = json!({"observedGeneration": 2, "replicas": 1, "conditions": [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]});
    assert_eq!(status_of(deployment(1, stuck)), Status::Failed);
}

#[test]
fn a_stateful_set_waits_for_its_update_revision_unless_on_delete() {
    let base = |strategy: &str| {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "generation": 1},
            "spec": {"replicas": 1, "updateStrategy": {"type": strategy}},
            "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1,
                "currentReplicas": 1, "updatedReplicas": 1,
                "currentRevision": "db-1", "updateRevision": "db-2"}})
    };
    assert_eq!(status_of(base("RollingUpdate")), Status::InProgress);
    assert_eq!(status_of(base("OnDelete")), Status::Current);
}

#[test]
fn a_daemon_set_needs_an_observed_generation_and_every_pod_ready() {
    let ds = |status: Value| {
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "generation": 1}, "status": status})
    };
    assert_eq!(
        status_of(ds(json!({"desiredNumberScheduled": 1}))),
        Status::InProgress
    );
    let ready = json!({"observedGeneration": 1, "desiredNumberScheduled": 2,
        "currentNumberScheduled": 2, "updatedNumberScheduled": 2,
        "numberAvailable": 2, "numberReady": 2});
    assert_eq!(status_of(ds(ready)), Status::Current);
    let partial = json!({"observedGeneration": 1, "desiredNumberScheduled": 2,
        "currentNumberScheduled": 2, "updatedNumberScheduled": 2,
        "numberAvailable": 1, "numberReady": 1});
    assert_eq!(compute(&ds(partial), now()).message, "Available: 1/2");
}

#[test]
fn a_replica_set_counts_labelled_available_and_ready_replicas() {
    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"},
        "spec": {"replicas": 2}, "status": {"replicas": 2, "fullyLabeledReplicas": 2,
        "availableReplicas": 1, "readyReplicas": 2}});
    assert_eq!(compute(&rs, now()).message, "Available: 1/2");
}

#[test]
fn a_job_is_current_only_once_complete_as_fluxs_job_reader_decides() {
    let job = |status: Value| {
        json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "j"}, "status": status})
    };
    assert_eq!(status_of(job(json!({}))), Status::InProgress);
    assert_eq!(
        status_of(job(
            json!({"startTime": "2026-01-01T00:00:00Z", "active": 1})
        )),
        Status::InProgress
    );
    let complete = json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]});
    assert_eq!(status_of(job(complete)), Status::Current);
    let failed = json!({"conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]});
    assert_eq!(status_of(job(failed)), Status::Failed);
}

#[test]
fn a_crd_is_current_once_established_and_failed_when_names_are_rejected() {
    let crd = |conditions: Value| {
        json!({"apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition", "metadata": {"name": "a.b"},
        "status": {"conditions": conditions}})
    };
    assert_eq!(status_of(crd(json!([]))), Status::InProgress);
    assert_eq!(
        status_of(crd(json!([{"type": "Established", "status": "True"}]))),
        Status::Current
    );
    assert_eq!(
        status_of(crd(
            json!([{"type": "NamesAccepted", "status": "False", "message": "taken"}])
        )),
        Status::Failed
    );
}

#[test]
fn a_pvc_must_be_bound_and_a_load_balancer_needs_a_cluster_ip() {
    let pvc = |phase: &str| {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"}, "status": {"phase": phase}})
    };
    assert_eq!(status_of(pvc("Pending")), Status::InProgress);
    assert_eq!(status_of(pvc("Bound")), Status::Current);
    let lb = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"type": "LoadBalancer"}});
    assert_eq!(status_of(lb), Status::InProgress);
    let cluster_ip = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.1"}});
    assert_eq!(status_of(cluster_ip), Status::Current);
}

#[test]
fn a_pod_unschedulable_for_longer_than_fifteen_seconds_has_failed() {
    let pod = |since: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled",
        "status": "False", "reason": "Unschedulable", "message": "0/1 nodes",
        "lastTransitionTime": since}]}})
    };
    assert_eq!(status_of(pod("2026-01-01T00:00:55Z")), Status::InProgress);
    assert_eq!(status_of(pod("2026-01-01T00:00:00Z")), Status::Failed);
    let crash = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "status": {"phase": "Running", "containerStatuses": [
        {"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
    assert_eq!(status_of(crash), Status::Failed);
}

#[test]
fn custom_resources_follow_reconciling_stalled_and_ready_conditions() {
    let cr = |conditions: Value| {
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "generation": 3},
        "status": {"observedGeneration": 3, "conditions": conditions}})
    };
    assert_eq!(status_of(cr(json!([]))), Status::Current);
    assert_eq!(
        status_of(cr(json!([{"type": "Reconciling", "status": "True"}]))),
        Status::InProgress
    );
    assert_eq!(
        status_of(cr(json!([{"type": "Stalled", "status": "True"}]))),
        Status::Failed
    );
    assert_eq!(
        status_of(cr(
            json!([{"type": "Ready", "status": "False", "message": "waiting"}])
        )),
        Status::InProgress
    );
    assert_eq!(
        status_of(cr(
            json!([{"type": "Ready", "status": "True", "observedGeneration": 2}])
        )),
        Status::InProgress
    );
    assert_eq!(
        status_of(cr(
            json!([{"type": "Ready", "status": "True", "observedGeneration": 3}])
        )),
        Status::Current
    );
}

#[test]
fn config_maps_and_secrets_are_always_current() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    assert_eq!(status_of(cm), Status::Current);
}
