//! Waiting for applied objects to become ready, as Flux's health check polls kstatus: objects
//! are read each interval until Current, the wait ends when all are Current, fails fast when one
//! has Failed, and on timeout names every object that is not ready and why.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use driftless_api::apply::ResourceRef;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DynamicObject, GroupVersionKind};

use crate::apply::ResourceManager;
use crate::concurrency::{CONCURRENT_REQUESTS, ordered};
use crate::error::{SsaError, api_message, is_not_found};
use crate::inventory::parse_entry_id;
use crate::kstatus::{self, Status};
use crate::object::ObjMetadata;

/// Decides the status of the kinds it covers instead of kstatus, as Flux's custom status readers
/// do for `healthCheckExprs` (a CEL reader in the `driftless-cel-health` crate).
pub trait StatusReader: Send + Sync {
    /// Whether objects of `group` and `kind` are judged by this reader.
    fn covers(&self, group: &str, kind: &str) -> bool;

    /// The status of `object` (the live object as JSON) and why; only called for covered kinds.
    fn status(&self, group: &str, kind: &str, object: &serde_json::Value) -> (Status, String);
}

/// An object to wait for: identity and the API version to read it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub object: ObjMetadata,
    pub version: String,
    /// An object that may be gone by the time it is read and counts as ready then: a Job with
    /// `ttlSecondsAfterFinished`, deleted by its TTL controller once finished (Flux's wait
    /// treats such a Job's absence as Current).
    pub gone_is_current: bool,
}

impl Target {
    pub fn new(object: ObjMetadata, version: String) -> Self {
        Self {
            object,
            version,
            gone_is_current: false,
        }
    }

    /// This target, Current once it is gone (see [`Target::gone_is_current`]).
    pub fn current_when_gone(self) -> Self {
        Self {
            gone_is_current: true,
            ..self
        }
    }

    /// The target of an inventory entry.
    pub fn from_ref(entry: &ResourceRef) -> Result<Self, SsaError> {
        Ok(Self::new(parse_entry_id(&entry.id)?, entry.v.clone()))
    }
}

/// The status of one object at the last poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectHealth {
    pub object: ObjMetadata,
    pub status: Status,
    pub message: String,
}

impl fmt::Display for ObjectHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} status: '{}'", self.object.subject(), self.status)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// Statuses of every waited-for object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthReport {
    pub entries: Vec<ObjectHealth>,
}

impl HealthReport {
    pub fn all_current(&self) -> bool {
        self.entries.iter().all(|e| e.status == Status::Current)
    }

    pub fn not_ready(&self) -> Vec<&ObjectHealth> {
        self.entries
            .iter()
            .filter(|e| e.status != Status::Current)
            .collect()
    }

    fn failed(&self) -> Vec<&ObjectHealth> {
        self.entries
            .iter()
            .filter(|e| e.status == Status::Failed)
            .collect()
    }
}

fn list(entries: &[&ObjectHealth]) -> String {
    let items: Vec<String> = entries.iter().map(ToString::to_string).collect();
    format!("[{}]", items.join(", "))
}

impl ResourceManager {
    /// Waits until every inventory entry in `refs` is Current, up to `timeout`.
    pub async fn wait(
        &self,
        refs: &[ResourceRef],
        timeout: Duration,
    ) -> Result<HealthReport, SsaError> {
        let targets = refs
            .iter()
            .map(Target::from_ref)
            .collect::<Result<Vec<_>, _>>()?;
        self.wait_for(&targets, timeout).await
    }

    /// Polls `targets` (see [`ApplyOptions::poll_delays`](crate::ApplyOptions::poll_delays));
    /// Flux's messages on failure and timeout.
    pub async fn wait_for(
        &self,
        targets: &[Target],
        timeout: Duration,
    ) -> Result<HealthReport, SsaError> {
        self.wait_from(targets, &[], timeout).await
    }

    /// [`Self::wait_for`] starting from `observed`: statuses the caller already holds, such as
    /// the objects an apply returned ([`crate::ChangeSet::observations`]). An observed target is
    /// not read until the first pause has passed, and a target once Current is not read again,
    /// so a wait costs the API server (and the client's rate limit) one read per object that is
    /// not ready at once, instead of one per object per poll.
    pub async fn wait_from(
        &self,
        targets: &[Target],
        observed: &[ObjectHealth],
        timeout: Duration,
    ) -> Result<HealthReport, SsaError> {
        self.wait_with(targets, observed, timeout, None).await
    }

    /// [`Self::wait_from`] with the kinds `reader` covers judged by it. A covered object is
    /// read at every poll, whatever was observed or found before: its status is the reader's
    /// alone and may go back from Current while others are not ready yet.
    pub async fn wait_with(
        &self,
        targets: &[Target],
        observed: &[ObjectHealth],
        timeout: Duration,
        reader: Option<&dyn StatusReader>,
    ) -> Result<HealthReport, SsaError> {
        let covered =
            |t: &Target| reader.is_some_and(|r| r.covers(&t.object.group, &t.object.kind));
        let deadline = tokio::time::Instant::now() + timeout;
        let mut delays = self.options.poll_delays();
        let mut known: HashMap<ObjMetadata, ObjectHealth> = observed
            .iter()
            .map(|h| (h.object.clone(), h.clone()))
            .collect();
        let mut first = true;
        loop {
            let reused: Vec<(&Target, Option<ObjectHealth>)> = targets
                .iter()
                .map(|target| {
                    let reuse = known
                        .get(&target.object)
                        .filter(|h| !covered(target) && (first || h.status == Status::Current));
                    (target, reuse.cloned())
                })
                .collect();
            let reads: Vec<_> = reused
                .into_iter()
                .map(|(target, reuse)| async move {
                    match reuse {
                        Some(health) => Ok(health),
                        None => self.health_with(target, reader).await,
                    }
                })
                .collect();
            let read = ordered(reads, CONCURRENT_REQUESTS).await;
            let mut entries = Vec::with_capacity(targets.len());
            for health in read {
                let health = health?;
                known.insert(health.object.clone(), health.clone());
                entries.push(health);
            }
            first = false;
            let report = HealthReport { entries };
            if report.all_current() {
                return Ok(report);
            }
            let failed = report.failed();
            if !failed.is_empty() {
                let message = format!("failed early due to stalled resources: {}", list(&failed));
                return Err(SsaError::HealthCheck { message, report });
            }
            if tokio::time::Instant::now() >= deadline {
                let message = format!("timeout waiting for: {}", list(&report.not_ready()));
                return Err(SsaError::HealthCheck { message, report });
            }
            let delay = delays.next().unwrap_or(self.options.poll_interval);
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            tokio::time::sleep(delay.min(left)).await;
        }
    }

    /// One read of every target and its kstatus.
    pub async fn poll(&self, targets: &[Target]) -> Result<HealthReport, SsaError> {
        let mut entries = Vec::with_capacity(targets.len());
        for target in targets {
            entries.push(self.health_with(target, None).await?);
        }
        Ok(HealthReport { entries })
    }

    /// One read of `target`, its status by `reader` when it covers the kind, else kstatus.
    async fn health_with(
        &self,
        target: &Target,
        reader: Option<&dyn StatusReader>,
    ) -> Result<ObjectHealth, SsaError> {
        let object = &target.object;
        let health = |status, message: String| ObjectHealth {
            object: object.clone(),
            status,
            message,
        };
        let gvk = GroupVersionKind::gvk(&object.group, &target.version, &object.kind);
        let resolved = match self.resolver.resolve(&gvk).await {
            Ok(resolved) => resolved,
            Err(e) => return Ok(health(Status::NotFound, e.to_string())),
        };
        let api = self.dynamic_api(&resolved, &object.namespace);
        match api.get(&object.name).await {
            Ok(live) => {
                let value = serde_json::to_value(&live).map_err(|e| SsaError::Read {
                    subject: object.subject(),
                    message: e.to_string(),
                })?;
                if let Some(reader) = reader.filter(|r| r.covers(&object.group, &object.kind)) {
                    let (status, message) = reader.status(&object.group, &object.kind, &value);
                    return Ok(health(status, message));
                }
                let computed = kstatus::compute(&value, Timestamp::now());
                Ok(health(computed.status, computed.message))
            }
            Err(e) if is_not_found(&e) && target.gone_is_current => Ok(health(
                Status::Current,
                "not found: deleted after it finished".into(),
            )),
            Err(e) if is_not_found(&e) => Ok(health(Status::NotFound, "not found".into())),
            Err(e) => Err(SsaError::Read {
                subject: object.subject(),
                message: api_message(&e),
            }),
        }
    }
}

/// The kstatus of `object` as the API server returned it for `meta`.
pub fn observed_health(meta: &ObjMetadata, object: &DynamicObject) -> ObjectHealth {
    let computed = serde_json::to_value(object)
        .map(|value| kstatus::compute(&value, Timestamp::now()))
        .ok();
    ObjectHealth {
        object: meta.clone(),
        status: computed.as_ref().map_or(Status::Unknown, |c| c.status),
        message: computed.map(|c| c.message).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(kind: &str, status: Status, message: &str) -> ObjectHealth {
        ObjectHealth {
            object: ObjMetadata {
                namespace: "apps".into(),
                name: "web".into(),
                group: "apps".into(),
                kind: kind.into(),
            },
            status,
            message: message.into(),
        }
    }

    #[test]
    fn objects_not_ready_are_listed_as_flux_lists_them() {
        let report = HealthReport {
            entries: vec![
                health("Deployment", Status::InProgress, "Available: 0/1"),
                health("StatefulSet", Status::Current, "ok"),
            ],
        };
        assert!(!report.all_current());
        assert_eq!(
            list(&report.not_ready()),
            "[Deployment/apps/web status: 'InProgress': Available: 0/1]"
        );
    }

    /// A manager whose client reaches nothing: any read fails.
    fn unreachable_manager() -> ResourceManager {
        let config = kube::Config::new("http://127.0.0.1:1".parse().expect("uri"));
        let client = kube::Client::try_from(config).expect("client");
        ResourceManager::new(client, crate::ApplyOptions::default())
    }

    fn target() -> Target {
        Target::new(health("ConfigMap", Status::Current, "").object, "v1".into())
    }

    #[tokio::test]
    async fn objects_observed_current_at_apply_are_not_read_again() {
        let manager = unreachable_manager();
        let observed = [health("ConfigMap", Status::Current, "Resource is current")];
        let report = manager
            .wait_from(&[target()], &observed, Duration::from_secs(5))
            .await
            .expect("no read needed");
        assert!(report.all_current());
    }

    #[tokio::test]
    async fn objects_observed_in_progress_are_read_after_the_first_pause() {
        let manager = unreachable_manager();
        let observed = [health("ConfigMap", Status::InProgress, "not yet")];
        let started = tokio::time::Instant::now();
        let err = manager
            .wait_from(&[target()], &observed, Duration::from_secs(1))
            .await
            .expect_err("never current");
        assert!(started.elapsed() >= crate::options::FIRST_POLL_DELAY);
        // The report is the read's (nothing is served there), not the observation's.
        let message = err.to_string();
        assert!(message.contains("status: 'NotFound'"), "{message}");
        assert!(!message.contains("not yet"), "{message}");
    }

    /// Judges every ConfigMap Current.
    struct AlwaysCurrent;

    impl StatusReader for AlwaysCurrent {
        fn covers(&self, _: &str, kind: &str) -> bool {
            kind == "ConfigMap"
        }

        fn status(&self, _: &str, _: &str, _: &serde_json::Value) -> (Status, String) {
            (Status::Current, String::new())
        }
    }

    #[tokio::test]
    async fn objects_a_reader_covers_are_read_even_when_observed_current() {
        let manager = unreachable_manager();
        let observed = [health("ConfigMap", Status::Current, "Resource is current")];
        let err = manager
            .wait_with(
                &[target()],
                &observed,
                Duration::from_millis(300),
                Some(&AlwaysCurrent),
            )
            .await
            .expect_err("the read fails: nothing is served");
        assert!(err.to_string().contains("status: 'NotFound'"), "{err}");
    }
}
