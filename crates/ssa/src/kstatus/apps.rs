//! kstatus rules for the apps/v1 workloads: replica counters first, then rollout conditions and
//! revisions, with kstatus' messages.

use serde_json::Value;

use super::{Computed, Status, condition, int_at, str_at};

/// kstatus `deploymentConditions`.
pub(super) fn deployment(object: &Value) -> Computed {
    if condition(object, "Progressing").is_some_and(|c| c.reason == "ProgressDeadlineExceeded") {
        return Computed::new(Status::Failed, "Progress deadline exceeded");
    }
    let spec = int_at(object, "/spec/replicas", 1);
    let replicas = int_at(object, "/status/replicas", 0);
    let updated = int_at(object, "/status/updatedReplicas", 0);
    let ready = int_at(object, "/status/readyReplicas", 0);
    let available = int_at(object, "/status/availableReplicas", 0);
    if spec > replicas {
        return Computed::in_progress(format!("Replicas: {replicas}/{spec}"));
    }
    if spec > updated {
        return Computed::in_progress(format!("Updated: {updated}/{spec}"));
    }
    if replicas > spec {
        return Computed::in_progress(format!("Pending termination: {}", replicas - spec));
    }
    if updated > available {
        return Computed::in_progress(format!("Available: {available}/{updated}"));
    }
    if spec > ready {
        return Computed::in_progress(format!("Ready: {ready}/{spec}"));
    }
    let progressing = condition(object, "Progressing")
        .is_some_and(|c| c.status == "True" && c.reason == "NewReplicaSetAvailable");
    if !progressing {
        return Computed::in_progress("ReplicaSet not Available");
    }
    if condition(object, "Available").is_none_or(|c| c.status != "True") {
        return Computed::in_progress("Deployment not Available");
    }
    Computed::current(format!("Deployment is available. Replicas: {replicas}"))
}

/// kstatus `stsConditions`: OnDelete sets are user-managed, partitions count only their part.
pub(super) fn stateful_set(object: &Value) -> Computed {
    if str_at(object, "/spec/updateStrategy/type") == Some("OnDelete") {
        return Computed::current("StatefulSet is using the ondelete update strategy");
    }
    let spec = int_at(object, "/spec/replicas", 1);
    let replicas = int_at(object, "/status/replicas", 0);
    let ready = int_at(object, "/status/readyReplicas", 0);
    let current = int_at(object, "/status/currentReplicas", 0);
    let updated = int_at(object, "/status/updatedReplicas", 0);
    let partition = int_at(object, "/spec/updateStrategy/rollingUpdate/partition", -1);
    if spec > replicas {
        return Computed::in_progress(format!("Replicas: {replicas}/{spec}"));
    }
    if spec > ready {
        return Computed::in_progress(format!("Ready: {ready}/{spec}"));
    }
    if replicas > spec {
        return Computed::in_progress(format!("Pending termination: {}", replicas - spec));
    }
    if partition != -1 {
        if updated < spec - partition {
            return Computed::in_progress(format!("updated: {updated}/{}", spec - partition));
        }
        return Computed::current(format!("Partition rollout complete. updated: {updated}"));
    }
    if spec > current {
        return Computed::in_progress(format!("current: {current}/{spec}"));
    }
    if str_at(object, "/status/currentRevision") != str_at(object, "/status/updateRevision") {
        return Computed::in_progress("Waiting for updated revision to match current");
    }
    Computed::current(format!(
        "All replicas scheduled as expected. Replicas: {replicas}"
    ))
}

/// kstatus `daemonsetConditions`.
pub(super) fn daemon_set(object: &Value) -> Computed {
    let desired = int_at(object, "/status/desiredNumberScheduled", -1);
    if desired == -1 {
        return Computed::in_progress("Missing .status.desiredNumberScheduled");
    }
    let checks = [
        ("Current", "/status/currentNumberScheduled"),
        ("Updated", "/status/updatedNumberScheduled"),
        ("Available", "/status/numberAvailable"),
        ("Ready", "/status/numberReady"),
    ];
    for (label, pointer) in checks {
        let have = int_at(object, pointer, 0);
        if desired > have {
            return Computed::in_progress(format!("{label}: {have}/{desired}"));
        }
    }
    Computed::current(format!(
        "All replicas scheduled as expected. Replicas: {desired}"
    ))
}

/// kstatus `replicasetConditions`.
pub(super) fn replica_set(object: &Value) -> Computed {
    if let Some(failure) = condition(object, "ReplicaFailure").filter(|c| c.status == "True") {
        return Computed::in_progress(format!("Replica Failure condition. {}", failure.message));
    }
    let spec = int_at(object, "/spec/replicas", 1);
    let replicas = int_at(object, "/status/replicas", 0);
    let checks = [
        ("Labelled", "/status/fullyLabeledReplicas"),
        ("Available", "/status/availableReplicas"),
        ("Ready", "/status/readyReplicas"),
    ];
    for (label, pointer) in checks {
        let have = int_at(object, pointer, 0);
        if spec > have {
            return Computed::in_progress(format!("{label}: {have}/{spec}"));
        }
    }
    if replicas > spec {
        return Computed::in_progress(format!("Pending termination: {}", replicas - spec));
    }
    Computed::current(format!("ReplicaSet is available. Replicas: {replicas}"))
}
