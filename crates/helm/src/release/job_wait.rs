//! Jobs under the `poller` wait strategy. Flux's helm-controller (v1.6) waits through a kstatus
//! poller whose readers are, in order: the HelmRelease's `healthCheckExprs` reader, then Flux's
//! Job reader (a Job is Current only once Complete) only when the action waits for Jobs
//! (`disableWaitForJobs` off, Helm's `WaitWithJobs`), then kstatus' own rules. With
//! `disableWaitForJobs` Helm calls `Wait`, where kstatus judges a Job: Current as soon as it
//! has started, Failed once it failed, in progress until the Job controller starts it.
//!
//! The ssa crate's kstatus already judges Jobs as Flux's Job reader does, so only the
//! not-waited case needs a reader here: [`JobsNotWaited`]; [`FirstCovering`] puts it behind
//! the HelmRelease's own reader, and [`poller`] picks the strategy of one action.

use std::sync::Arc;

use driftless_ssa::kstatus::{self, Status};
use driftless_ssa::wait::StatusReader;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::WaitStrategy;

/// Judges Jobs by kstatus' own rule, as Flux's wait does when the action does not wait for
/// Jobs: a started Job is Current whether or not it has finished.
#[derive(Clone, Copy, Debug, Default)]
pub struct JobsNotWaited;

impl StatusReader for JobsNotWaited {
    fn covers(&self, group: &str, kind: &str) -> bool {
        group == "batch" && kind == "Job"
    }

    fn status(&self, _: &str, _: &str, object: &Value) -> (Status, String) {
        job(object)
    }
}

/// Readers asked in order, the first that covers a kind judging it: Flux's poller consults
/// the `healthCheckExprs` reader before its built-in readers.
pub struct FirstCovering(pub Vec<Arc<dyn StatusReader>>);

impl FirstCovering {
    fn first(&self, group: &str, kind: &str) -> Option<&Arc<dyn StatusReader>> {
        self.0.iter().find(|r| r.covers(group, kind))
    }
}

impl StatusReader for FirstCovering {
    fn covers(&self, group: &str, kind: &str) -> bool {
        self.first(group, kind).is_some()
    }

    fn status(&self, group: &str, kind: &str, object: &Value) -> (Status, String) {
        match self.first(group, kind) {
            Some(reader) => reader.status(group, kind, object),
            // Only asked for covered kinds; an uncovered one is not judged here.
            None => (Status::Unknown, String::new()),
        }
    }
}

/// The `poller` strategy of one action: `health` is the HelmRelease's `healthCheckExprs`
/// reader (None without any), `wait_for_jobs` the action's `disableWaitForJobs` negated.
pub fn poller(health: Option<Arc<dyn StatusReader>>, wait_for_jobs: bool) -> WaitStrategy {
    match (health, wait_for_jobs) {
        (None, true) => WaitStrategy::Poller,
        (Some(health), true) => WaitStrategy::PollerWith(health),
        (None, false) => WaitStrategy::PollerWith(Arc::new(JobsNotWaited)),
        (Some(health), false) => WaitStrategy::PollerWith(Arc::new(FirstCovering(vec![
            health,
            Arc::new(JobsNotWaited),
        ]))),
    }
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn int(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// Whether the Job controller has started `object` and it has neither completed nor failed:
/// the one case where kstatus and Flux's Job reader disagree.
fn running(object: &Value) -> bool {
    let finished = object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| matches!(text(c, "/type"), "Complete" | "Failed") && text(c, "/status") == "True");
    !finished && !text(object, "/status/startTime").is_empty()
}

/// kstatus' rule for a Job: as the ssa crate's (Flux's Job reader) except that a running Job
/// is Current. A running Job is judged as if it had completed, so what kstatus decides before
/// the Job rule (deletion, an unobserved generation, `Reconciling`, `Stalled`) still counts.
fn job(object: &Value) -> (Status, String) {
    let now = Timestamp::now();
    if !running(object) {
        let computed = kstatus::compute(object, now);
        return (computed.status, computed.message);
    }
    let mut completed = object.clone();
    let complete = json!({"type": "Complete", "status": "True"});
    match completed.pointer_mut("/status/conditions") {
        Some(Value::Array(conditions)) => {
            conditions.retain(|c| text(c, "/type") != "Complete");
            conditions.push(complete);
        }
        _ => completed["status"]["conditions"] = json!([complete]),
    }
    let computed = kstatus::compute(&completed, now);
    if computed.status != Status::Current {
        return (computed.status, computed.message);
    }
    let message = format!(
        "Job in progress. success:{}, active: {}, failed: {}",
        int(object, "/status/succeeded"),
        int(object, "/status/active"),
        int(object, "/status/failed"),
    );
    (Status::Current, message)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn job_with(spec: Value, status: Value) -> Value {
        json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "migrate", "namespace": "apps", "generation": 1},
            "spec": spec, "status": status,
        })
    }

    fn judge(object: &Value) -> (Status, String) {
        JobsNotWaited.status("batch", "Job", object)
    }

    #[test]
    fn only_batch_jobs_are_covered() {
        assert!(JobsNotWaited.covers("batch", "Job"));
        assert!(!JobsNotWaited.covers("batch", "CronJob"));
        assert!(!JobsNotWaited.covers("", "Pod"));
        assert!(!JobsNotWaited.covers("example.com", "Job"));
    }

    #[test]
    fn a_running_job_is_current_as_soon_as_it_has_started() {
        let running = job_with(
            json!({}),
            json!({"startTime": "2026-01-01T00:00:00Z", "active": 1}),
        );
        assert_eq!(
            judge(&running),
            (
                Status::Current,
                "Job in progress. success:0, active: 1, failed: 0".into()
            )
        );
    }

    #[test]
    fn a_job_the_controller_has_not_started_is_in_progress() {
        let created = job_with(json!({}), json!({}));
        assert_eq!(
            judge(&created),
            (Status::InProgress, "Job not started".into())
        );
        let no_status = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"}});
        assert_eq!(judge(&no_status).0, Status::InProgress);
    }

    #[test]
    fn a_completed_job_is_current_with_its_completions() {
        let done = job_with(
            json!({"completions": 3, "parallelism": 2}),
            json!({"startTime": "2026-01-01T00:00:00Z", "succeeded": 3,
                   "conditions": [{"type": "Complete", "status": "True"}]}),
        );
        let (status, message) = judge(&done);
        assert_eq!(status, Status::Current);
        assert!(message.starts_with("Job Completed"), "{message}");
    }

    #[test]
    fn a_failed_job_is_failed_even_though_jobs_are_not_waited_for() {
        let failed = job_with(
            json!({"parallelism": 2}),
            json!({"startTime": "2026-01-01T00:00:00Z", "failed": 7,
                   "conditions": [
                       {"type": "FailureTarget", "status": "True"},
                       {"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}),
        );
        assert_eq!(judge(&failed).0, Status::Failed);
    }

    #[test]
    fn false_conditions_decide_nothing() {
        let running = job_with(
            json!({}),
            json!({"startTime": "2026-01-01T00:00:00Z",
                   "conditions": [{"type": "Failed", "status": "False"},
                                  {"type": "Complete", "status": "False"}]}),
        );
        assert_eq!(judge(&running).0, Status::Current);
    }

    #[test]
    fn deletion_generation_and_stalled_are_judged_before_the_job_rule() {
        let mut deleting = job_with(json!({}), json!({"startTime": "2026-01-01T00:00:00Z"}));
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:01:00Z");
        assert_eq!(
            judge(&deleting),
            (
                Status::Terminating,
                "Resource scheduled for deletion".into()
            )
        );
        let mut unobserved = job_with(
            json!({}),
            json!({"startTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}),
        );
        unobserved["metadata"]["generation"] = json!(2);
        assert_eq!(
            judge(&unobserved),
            (
                Status::InProgress,
                "Job generation is 2, but latest observed generation is 1".into()
            )
        );
        let stalled = job_with(
            json!({}),
            json!({"startTime": "2026-01-01T00:00:00Z",
                   "conditions": [{"type": "Stalled", "status": "True", "message": "stuck"}]}),
        );
        assert_eq!(judge(&stalled), (Status::Failed, "stuck".into()));
    }

    /// Judges the kinds it is given with a fixed status.
    struct Fixed(&'static str, Status);

    impl StatusReader for Fixed {
        fn covers(&self, _: &str, kind: &str) -> bool {
            kind == self.0
        }

        fn status(&self, _: &str, _: &str, _: &Value) -> (Status, String) {
            (self.1, "fixed".into())
        }
    }

    #[test]
    fn the_first_reader_covering_a_kind_judges_it() {
        let chain = FirstCovering(vec![
            Arc::new(Fixed("Job", Status::InProgress)),
            Arc::new(JobsNotWaited),
        ]);
        let running = job_with(json!({}), json!({"startTime": "2026-01-01T00:00:00Z"}));
        assert!(chain.covers("batch", "Job"));
        assert_eq!(
            chain.status("batch", "Job", &running),
            (Status::InProgress, "fixed".into())
        );
        let chain = FirstCovering(vec![
            Arc::new(Fixed("Widget", Status::Failed)),
            Arc::new(JobsNotWaited),
        ]);
        assert_eq!(chain.status("batch", "Job", &running).0, Status::Current);
        assert_eq!(
            chain.status("example.com", "Widget", &json!({})).0,
            Status::Failed
        );
        assert!(!chain.covers("apps", "Deployment"));
    }

    #[test]
    fn the_poller_strategy_adds_the_job_reader_only_when_jobs_are_not_waited_for() {
        let running = job_with(json!({}), json!({"startTime": "2026-01-01T00:00:00Z"}));
        assert!(matches!(poller(None, true), WaitStrategy::Poller));
        let health: Arc<dyn StatusReader> = Arc::new(Fixed("Widget", Status::InProgress));
        let WaitStrategy::PollerWith(reader) = poller(Some(Arc::clone(&health)), true) else {
            panic!("the health reader alone");
        };
        assert!(!reader.covers("batch", "Job"));
        let WaitStrategy::PollerWith(reader) = poller(None, false) else {
            panic!("the job reader");
        };
        assert_eq!(reader.status("batch", "Job", &running).0, Status::Current);
        assert!(!reader.covers("example.com", "Widget"));
        let WaitStrategy::PollerWith(reader) = poller(Some(health), false) else {
            panic!("both readers");
        };
        assert_eq!(reader.status("batch", "Job", &running).0, Status::Current);
        assert_eq!(
            reader.status("example.com", "Widget", &json!({})).0,
            Status::InProgress
        );
    }
}
