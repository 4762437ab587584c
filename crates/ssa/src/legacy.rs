//! Helm 3's readiness rules (its `ReadyChecker`), the `legacy` wait strategy of a HelmRelease
//! (`spec.waitStrategy.name: legacy`): Pods Ready; Deployments whose newest ReplicaSet has
//! enough ready replicas (replicas minus maxUnavailable); DaemonSets and StatefulSets rolled out;
//! PersistentVolumeClaims Bound; Services with a cluster IP (and a LoadBalancer ingress or an
//! external IP); Jobs complete only when jobs are waited for; CRDs established. Every other
//! kind is ready as soon as it exists. A wait ends when every object is ready, fails at once
//! when a waited-for Job has failed, and on timeout fails with Helm's context error.

use std::time::Duration;

use kube::api::{GroupVersionKind, ListParams};
use serde_json::Value;

use crate::apply::ResourceManager;
use crate::error::{SsaError, api_message, is_not_found};
use crate::kstatus::Status;
use crate::wait::{HealthReport, ObjectHealth, Target};

/// The error of a legacy wait that ran out of time, as Helm 3 reports it (its context's error).
pub const DEADLINE_EXCEEDED: &str = "context deadline exceeded";

/// Whether one object is ready by Helm 3's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not yet, and why.
    NotReady(String),
    /// Will not become ready (a Job that used up its backoff limit).
    Failed(String),
}

fn int(object: &Value, pointer: &str) -> Option<i64> {
    object.pointer(pointer).and_then(Value::as_i64)
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn has_condition(object: &Value, kind: &str, status: &str) -> bool {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| text(c, "/type") == kind && text(c, "/status") == status)
        })
}

/// Whether the controller has seen the latest spec (`status.observedGeneration`).
fn observed(object: &Value) -> bool {
    int(object, "/status/observedGeneration").unwrap_or(0)
        == int(object, "/metadata/generation").unwrap_or(0)
}

/// An int-or-percent of `total`, percentages rounded up or down (Kubernetes'
/// `GetScaledValueFromIntOrPercent`); None when it does not parse.
pub fn scaled(value: Option<&Value>, total: i64, round_up: bool) -> Option<i64> {
    match value {
        None => None,
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => {
            let percent: i64 = s.strip_suffix('%')?.parse().ok()?;
            let scaled = percent * total;
            Some(if round_up {
                (scaled + 99).div_euclid(100)
            } else {
                scaled.div_euclid(100)
            })
        }
        Some(_) => None,
    }
}

/// A Deployment's maxUnavailable as its controller resolves it: 0 unless rolling (or without
/// replicas); surge rounded up, unavailable down, 1 when both come to 0; at most the replicas.
pub fn max_unavailable(deployment: &Value) -> i64 {
    let replicas = int(deployment, "/spec/replicas").unwrap_or(1);
    let rolling = matches!(
        text(deployment, "/spec/strategy/type"),
        "" | "RollingUpdate"
    );
    if !rolling || replicas == 0 {
        return 0;
    }
    let update = deployment.pointer("/spec/strategy/rollingUpdate");
    let field = |name: &str, default: &str| {
        update
            .and_then(|u| u.get(name))
            .cloned()
            .unwrap_or_else(|| Value::String(default.to_owned()))
    };
    let surge = scaled(Some(&field("maxSurge", "25%")), replicas, true).unwrap_or(0);
    let mut unavailable =
        scaled(Some(&field("maxUnavailable", "25%")), replicas, false).unwrap_or(0);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    unavailable.min(replicas)
}

/// A Deployment with its newest ReplicaSet (None when none exists yet).
pub fn deployment_ready(deployment: &Value, new_replica_set: Option<&Value>) -> Readiness {
    if deployment
        .pointer("/spec/paused")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return Readiness::Ready;
    }
    let Some(rs) = new_replica_set else {
        return Readiness::NotReady("no new ReplicaSet yet".into());
    };
    if !observed(rs) || !observed(deployment) {
        return Readiness::NotReady("generation not observed yet".into());
    }
    let expected = int(deployment, "/spec/replicas").unwrap_or(1) - max_unavailable(deployment);
    let ready = int(rs, "/status/readyReplicas").unwrap_or(0);
    if ready < expected {
        return Readiness::NotReady(format!("{ready} of {expected} expected pods ready"));
    }
    Readiness::Ready
}

fn statefulset_ready(sts: &Value) -> Readiness {
    if !observed(sts) {
        return Readiness::NotReady("generation not observed yet".into());
    }
    if !matches!(text(sts, "/spec/updateStrategy/type"), "" | "RollingUpdate") {
        return Readiness::Ready;
    }
    let partition = int(sts, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0);
    let replicas = int(sts, "/spec/replicas").unwrap_or(1);
    let updated = int(sts, "/status/updatedReplicas").unwrap_or(0);
    let ready = int(sts, "/status/readyReplicas").unwrap_or(0);
    if updated < replicas - partition {
        return Readiness::NotReady(format!(
            "{updated} of {} pods updated",
            replicas - partition
        ));
    }
    if ready != replicas {
        return Readiness::NotReady(format!("{ready} of {replicas} pods ready"));
    }
    if partition == 0 && text(sts, "/status/currentRevision") != text(sts, "/status/updateRevision")
    {
        return Readiness::NotReady("update revision not current yet".into());
    }
    Readiness::Ready
}

fn daemonset_ready(ds: &Value) -> Readiness {
    if !observed(ds) {
        return Readiness::NotReady("generation not observed yet".into());
    }
    if !matches!(text(ds, "/spec/updateStrategy/type"), "" | "RollingUpdate") {
        return Readiness::Ready;
    }
    let desired = int(ds, "/status/desiredNumberScheduled").unwrap_or(0);
    let updated = int(ds, "/status/updatedNumberScheduled").unwrap_or(0);
    if updated != desired {
        return Readiness::NotReady(format!("{updated} of {desired} pods updated"));
    }
    let max_unavailable = scaled(
        ds.pointer("/spec/updateStrategy/rollingUpdate/maxUnavailable")
            .or(Some(&Value::Number(1.into()))),
        desired,
        true,
    )
    .unwrap_or(desired);
    let ready = int(ds, "/status/numberReady").unwrap_or(0);
    if ready < desired - max_unavailable {
        return Readiness::NotReady(format!(
            "{ready} of {} expected pods ready",
            desired - max_unavailable
        ));
    }
    Readiness::Ready
}

fn service_ready(svc: &Value) -> Readiness {
    let kind = text(svc, "/spec/type");
    if kind == "ExternalName" {
        return Readiness::Ready;
    }
    if text(svc, "/spec/clusterIP").is_empty() {
        return Readiness::NotReady("no cluster IP yet".into());
    }
    let external_ips = svc
        .pointer("/spec/externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|ips| !ips.is_empty());
    if kind == "LoadBalancer"
        && !external_ips
        && svc.pointer("/status/loadBalancer/ingress").is_none()
    {
        return Readiness::NotReady("no load balancer ingress yet".into());
    }
    Readiness::Ready
}

fn job_ready(job: &Value, namespace: &str, name: &str) -> Readiness {
    let backoff_limit = int(job, "/spec/backoffLimit").unwrap_or(6);
    if int(job, "/status/failed").unwrap_or(0) > backoff_limit {
        return Readiness::Failed(format!("job is failed: {namespace}/{name}"));
    }
    if let Some(completions) = int(job, "/spec/completions") {
        let succeeded = int(job, "/status/succeeded").unwrap_or(0);
        if succeeded < completions {
            return Readiness::NotReady(format!("{succeeded} of {completions} completions"));
        }
    }
    Readiness::Ready
}

fn crd_ready(crd: &Value) -> Readiness {
    // Names not accepted mean a naming conflict: Helm lets the release go on rather than fail.
    if has_condition(crd, "Established", "True") || has_condition(crd, "NamesAccepted", "False") {
        return Readiness::Ready;
    }
    Readiness::NotReady("not established yet".into())
}

/// The readiness of every kind but Deployment (which needs its ReplicaSet).
pub fn ready(group: &str, kind: &str, object: &Value, wait_for_jobs: bool) -> Readiness {
    let namespace = text(object, "/metadata/namespace");
    let name = text(object, "/metadata/name");
    match (group, kind) {
        ("", "Pod") if !has_condition(object, "Ready", "True") => {
            Readiness::NotReady("pod not ready".into())
        }
        ("batch", "Job") if wait_for_jobs => job_ready(object, namespace, name),
        ("apps" | "extensions", "DaemonSet") => daemonset_ready(object),
        ("apps", "StatefulSet") => statefulset_ready(object),
        ("", "PersistentVolumeClaim") if text(object, "/status/phase") != "Bound" => {
            Readiness::NotReady("not bound yet".into())
        }
        ("", "Service") => service_ready(object),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd_ready(object),
        ("", "ReplicationController") | ("apps" | "extensions", "ReplicaSet") => {
            let want = int(object, "/spec/replicas").unwrap_or(1);
            let have = int(object, "/status/readyReplicas").unwrap_or(0);
            if have < want {
                Readiness::NotReady(format!("{have} of {want} pods ready"))
            } else {
                Readiness::Ready
            }
        }
        _ => Readiness::Ready,
    }
}

impl ResourceManager {
    /// Waits until every target is ready by Helm 3's rules, up to `timeout`.
    pub async fn wait_legacy(
        &self,
        targets: &[Target],
        timeout: Duration,
        wait_for_jobs: bool,
    ) -> Result<HealthReport, SsaError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut delays = self.options().poll_delays();
        loop {
            let mut entries = Vec::with_capacity(targets.len());
            for target in targets {
                let readiness = self.legacy_readiness(target, wait_for_jobs).await?;
                let (status, message) = match readiness {
                    Readiness::Ready => (Status::Current, String::new()),
                    Readiness::NotReady(m) => (Status::InProgress, m),
                    Readiness::Failed(m) => (Status::Failed, m),
                };
                entries.push(ObjectHealth {
                    object: target.object.clone(),
                    status,
                    message,
                });
            }
            let report = HealthReport { entries };
            if report.all_current() {
                return Ok(report);
            }
            if let Some(failed) = report.entries.iter().find(|e| e.status == Status::Failed) {
                let message = failed.message.clone();
                return Err(SsaError::HealthCheck { message, report });
            }
            if tokio::time::Instant::now() >= deadline {
                let message = DEADLINE_EXCEEDED.to_owned();
                return Err(SsaError::HealthCheck { message, report });
            }
            let delay = delays.next().unwrap_or(self.options().poll_interval);
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            tokio::time::sleep(delay.min(left)).await;
        }
    }

    async fn legacy_readiness(
        &self,
        target: &Target,
        wait_for_jobs: bool,
    ) -> Result<Readiness, SsaError> {
        let object = &target.object;
        let gvk = GroupVersionKind::gvk(&object.group, &target.version, &object.kind);
        let Ok(resolved) = self.resolver().resolve(&gvk).await else {
            return Ok(Readiness::NotReady("kind not served".into()));
        };
        let read_err = |e: kube::Error| SsaError::Read {
            subject: object.subject(),
            message: api_message(&e),
        };
        let live = match self
            .dynamic_api(&resolved, &object.namespace)
            .get(&object.name)
            .await
        {
            Ok(live) => live,
            Err(e) if is_not_found(&e) => return Ok(Readiness::NotReady("not found".into())),
            Err(e) => return Err(read_err(e)),
        };
        let value = serde_json::to_value(&live).map_err(|e| SsaError::Read {
            subject: object.subject(),
            message: e.to_string(),
        })?;
        if !(object.group == "apps" && object.kind == "Deployment") {
            return Ok(ready(&object.group, &object.kind, &value, wait_for_jobs));
        }
        let new_rs = self.new_replica_set(&value, &object.namespace).await?;
        Ok(deployment_ready(&value, new_rs.as_ref()))
    }

    /// The Deployment's ReplicaSet of its current revision (owned by it, same
    /// `deployment.kubernetes.io/revision`).
    async fn new_replica_set(
        &self,
        deployment: &Value,
        namespace: &str,
    ) -> Result<Option<Value>, SsaError> {
        const REVISION: &str = "/metadata/annotations/deployment.kubernetes.io~1revision";
        let gvk = GroupVersionKind::gvk("apps", "v1", "ReplicaSet");
        let resolved = self
            .resolver()
            .resolve(&gvk)
            .await
            .map_err(|e| SsaError::Read {
                subject: "ReplicaSets".into(),
                message: e.to_string(),
            })?;
        let list = self
            .dynamic_api(&resolved, namespace)
            .list(&ListParams::default())
            .await
            .map_err(|e| SsaError::Read {
                subject: format!("ReplicaSets in {namespace}"),
                message: api_message(&e),
            })?;
        let uid = text(deployment, "/metadata/uid");
        let revision = text(deployment, REVISION);
        Ok(list
            .items
            .into_iter()
            .filter_map(|rs| serde_json::to_value(rs).ok())
            .find(|rs| {
                let owned = rs
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|owners| owners.iter().any(|o| text(o, "/uid") == uid));
                owned && text(rs, REVISION) == revision
            }))
    }
}

#[cfg(test)]
mod tests;
