//! kstatus rules for core, batch, policy and apiextensions kinds, and Flux's Job reader.

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::{Computed, Status, condition, int_at, str_at};

/// kstatus marks a Pod Failed once it has been unschedulable for this long.
const UNSCHEDULABLE_GRACE: SignedDuration = SignedDuration::from_secs(15);

/// kstatus `podConditions`: finished Pods are done, Ready Pods are Current, crash loops Failed.
pub(super) fn pod(object: &Value, now: Timestamp) -> Computed {
    let phase = str_at(object, "/status/phase").unwrap_or_default();
    match phase {
        "Succeeded" => return Computed::current("Pod has completed successfully"),
        "Failed" => return Computed::current("Pod has completed, but not successfully"),
        _ => {}
    }
    if condition(object, "Ready").is_some_and(|c| c.status == "True") {
        return Computed::current("Pod is Ready");
    }
    let crash_looping = object
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .is_some_and(|statuses| {
            statuses.iter().any(|s| {
                s.pointer("/state/waiting/reason").and_then(Value::as_str)
                    == Some("CrashLoopBackOff")
            })
        });
    if crash_looping {
        return Computed::new(Status::Failed, "Pod has a container in CrashLoopBackOff");
    }
    if phase == "Pending" {
        let unschedulable = condition(object, "PodScheduled")
            .filter(|c| c.status == "False" && c.reason == "Unschedulable");
        if let Some(c) = unschedulable {
            let since = c
                .last_transition_time
                .and_then(|t| t.parse::<Timestamp>().ok());
            if since.is_some_and(|t| now.duration_since(t) > UNSCHEDULABLE_GRACE) {
                return Computed::new(
                    Status::Failed,
                    format!("Pod could not be scheduled: {}", c.message),
                );
            }
        }
        return Computed::in_progress("Pod is in the Pending phase");
    }
    Computed::in_progress(format!("Pod is not Ready (phase {phase:?})"))
}

/// kstatus `pvcConditions`.
pub(super) fn pvc(object: &Value) -> Computed {
    match str_at(object, "/status/phase") {
        Some("Bound") => Computed::current("PVC is Bound"),
        phase => Computed::in_progress(format!(
            "PVC is not Bound. phase: {}",
            phase.unwrap_or_default()
        )),
    }
}

/// kstatus `serviceConditions`: a LoadBalancer needs its cluster IP.
pub(super) fn service(object: &Value) -> Computed {
    let load_balancer = str_at(object, "/spec/type") == Some("LoadBalancer");
    if load_balancer
        && str_at(object, "/spec/clusterIP")
            .unwrap_or_default()
            .is_empty()
    {
        return Computed::in_progress("ClusterIP not set. Service type: LoadBalancer");
    }
    Computed::current("Service is ready")
}

/// Flux's Job reader (`fluxcd/pkg/runtime/statusreaders`): unlike kstatus, a running Job is not
/// Current; it must complete.
pub(super) fn job(object: &Value) -> Computed {
    if let Some(c) = condition(object, "Failed").filter(|c| c.status == "True") {
        return Computed::new(Status::Failed, format!("Job failed: {}", c.message));
    }
    if condition(object, "Complete").is_some_and(|c| c.status == "True") {
        let succeeded = int_at(object, "/status/succeeded", 0);
        return Computed::current(format!("Job Completed. succeeded: {succeeded}"));
    }
    if object.pointer("/status/startTime").is_none() {
        return Computed::in_progress("Job not started");
    }
    Computed::in_progress(format!(
        "Job in progress. active: {}, succeeded: {}",
        int_at(object, "/status/active", 0),
        int_at(object, "/status/succeeded", 0)
    ))
}

/// kstatus `pdbConditions`.
pub(super) fn pdb(object: &Value) -> Computed {
    let healthy = int_at(object, "/status/currentHealthy", 0);
    let desired = int_at(object, "/status/desiredHealthy", 0);
    if healthy < desired {
        return Computed::in_progress(format!(
            "Budget not met. healthy replicas: {healthy}/{desired}"
        ));
    }
    Computed::current(format!("Budget is met. Replicas: {healthy}/{desired}"))
}

/// kstatus `crdConditions`.
pub(super) fn crd(object: &Value) -> Computed {
    if let Some(c) = condition(object, "NamesAccepted").filter(|c| c.status == "False") {
        return Computed::new(Status::Failed, c.message);
    }
    match condition(object, "Established") {
        Some(c) if c.status == "True" => Computed::current("CRD is established"),
        Some(c) if c.status == "False" && c.reason != "Installing" => {
            Computed::new(Status::Failed, c.message)
        }
        _ => Computed::in_progress("Install in progress"),
    }
}
