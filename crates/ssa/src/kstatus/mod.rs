//! Readiness of an object with the rules of kstatus (`sigs.k8s.io/cli-utils/pkg/kstatus`,
//! `status.Compute`) and Flux's Job reader, on plain JSON so it works for any kind.

mod apps;
mod core;

use std::fmt;

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

/// kstatus' status values, spelled as kstatus prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    InProgress,
    Failed,
    Current,
    Terminating,
    NotFound,
    Unknown,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::InProgress => "InProgress",
            Status::Failed => "Failed",
            Status::Current => "Current",
            Status::Terminating => "Terminating",
            Status::NotFound => "NotFound",
            Status::Unknown => "Unknown",
        })
    }
}

/// A status and the human message explaining it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Computed {
    pub status: Status,
    pub message: String,
}

impl Computed {
    pub(crate) fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    pub(crate) fn in_progress(message: impl Into<String>) -> Self {
        Self::new(Status::InProgress, message)
    }
    pub(crate) fn current(message: impl Into<String>) -> Self {
        Self::new(Status::Current, message)
    }
}

/// Computes the status of `object` at time `now` (needed for Pods unschedulable for over 15s).
pub fn compute(object: &Value, now: Timestamp) -> Computed {
    if object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        return Computed::new(Status::Terminating, "Resource scheduled for deletion");
    }
    let group_kind = (
        group_of(object),
        str_at(object, "/kind").unwrap_or_default(),
    );
    // DaemonSets must report an observedGeneration before kstatus trusts their counters.
    if group_kind == ("apps", "DaemonSet")
        && (object.pointer("/metadata/generation").is_none()
            || object.pointer("/status/observedGeneration").is_none())
    {
        return Computed::in_progress("Missing .status.observedGeneration");
    }
    if let Some(generic) = generic_properties(object) {
        return generic;
    }
    match group_kind {
        ("apps", "Deployment") => apps::deployment(object),
        ("apps", "StatefulSet") => apps::stateful_set(object),
        ("apps", "DaemonSet") => apps::daemon_set(object),
        ("apps", "ReplicaSet") => apps::replica_set(object),
        ("", "Pod") => core::pod(object, now),
        ("", "PersistentVolumeClaim") => core::pvc(object),
        ("", "Service") => core::service(object),
        ("batch", "Job") => core::job(object),
        ("policy", "PodDisruptionBudget") => core::pdb(object),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => core::crd(object),
        _ => ready_condition(object),
    }
}

/// kstatus `checkGenericProperties`: an unobserved generation is InProgress, `Reconciling=True`
/// InProgress and `Stalled=True` Failed (the "abnormal-true" conditions).
fn generic_properties(object: &Value) -> Option<Computed> {
    let generation = object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64);
    let observed = object
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64);
    if let (Some(generation), Some(observed)) = (generation, observed)
        && generation != observed
    {
        return Some(Computed::in_progress(format!(
            "{} generation is {generation}, but latest observed generation is {observed}",
            str_at(object, "/kind").unwrap_or("Resource")
        )));
    }
    if let Some(c) = condition(object, "Reconciling").filter(|c| c.status == "True") {
        return Some(Computed::in_progress(c.message));
    }
    if let Some(c) = condition(object, "Stalled").filter(|c| c.status == "True") {
        return Some(Computed::new(Status::Failed, c.message));
    }
    None
}

/// Custom resources: kstatus stops at "Current" here; driftless also reads a `Ready` condition
/// (as `kubectl wait --for=condition=Ready` does) so a resource that says it is not ready is not
/// reported healthy. A Ready condition for an older generation is still in progress.
fn ready_condition(object: &Value) -> Computed {
    let Some(ready) = condition(object, "Ready") else {
        return Computed::current("Resource is current");
    };
    let generation = object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64);
    if let (Some(generation), Some(observed)) = (generation, ready.observed_generation)
        && observed < generation
    {
        return Computed::in_progress("Ready condition is for an older generation");
    }
    match ready.status.as_str() {
        "True" => Computed::current(non_empty(ready.message, "Resource is Ready")),
        _ => Computed::in_progress(non_empty(ready.message, "Resource is not Ready")),
    }
}

fn non_empty(message: String, fallback: &str) -> String {
    if message.is_empty() {
        fallback.to_string()
    } else {
        message
    }
}

/// One entry of `status.conditions`.
pub(crate) struct Condition {
    pub status: String,
    pub reason: String,
    pub message: String,
    pub observed_generation: Option<i64>,
    pub last_transition_time: Option<String>,
}

pub(crate) fn condition(object: &Value, type_: &str) -> Option<Condition> {
    let conditions = object.pointer("/status/conditions")?.as_array()?;
    let found = conditions
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))?;
    let text = |key: &str| {
        found
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some(Condition {
        status: text("status"),
        reason: text("reason"),
        message: text("message"),
        observed_generation: found.get("observedGeneration").and_then(Value::as_i64),
        last_transition_time: found
            .get("lastTransitionTime")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

pub(crate) fn str_at<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(Value::as_str)
}

/// Integer field with kstatus' `GetIntField` default.
pub(crate) fn int_at(object: &Value, pointer: &str, default: i64) -> i64 {
    object
        .pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or(default)
}

fn group_of(object: &Value) -> &str {
    match str_at(object, "/apiVersion").and_then(|v| v.split_once('/')) {
        Some((group, _)) => group,
        None => "",
    }
}

#[cfg(test)]
mod tests;
