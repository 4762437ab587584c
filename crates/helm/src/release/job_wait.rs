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

use driftless_ssa::kstatus::Status;
use driftless_ssa::wait::StatusReader;
use serde_json::Value;

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
        generic(object).unwrap_or_else(|| job(object))
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

fn int(object: &Value, pointer: &str, default: i64) -> i64 {
    object
        .pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or(default)
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The `True` conditions of `object`, in order, as (type, message).
fn true_conditions(object: &Value) -> impl Iterator<Item = (&str, &str)> {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| text(c, "/status") == "True")
        .map(|c| (text(c, "/type"), text(c, "/message")))
}

/// What kstatus decides before any kind's own rule: deletion, an unobserved generation, and
/// the `Reconciling`/`Stalled` conditions.
fn generic(object: &Value) -> Option<(Status, String)> {
    if object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        return Some((
            Status::Terminating,
            "Resource scheduled for deletion".into(),
        ));
    }
    let generation = object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64);
    let observed = object
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64);
    if let (Some(generation), Some(observed)) = (generation, observed)
        && generation != observed
    {
        return Some((
            Status::InProgress,
            format!("Job generation is {generation}, but latest observed generation is {observed}"),
        ));
    }
    true_conditions(object).find_map(|(type_, message)| match type_ {
        "Reconciling" => Some((Status::InProgress, message.to_owned())),
        "Stalled" => Some((Status::Failed, message.to_owned())),
        _ => None,
    })
}

/// kstatus' Job rule, with its messages: the first `Complete` or `Failed` condition that is
/// true decides; otherwise a Job is in progress until it has a start time, then Current.
fn job(object: &Value) -> (Status, String) {
    let parallelism = int(object, "/spec/parallelism", 1);
    let completions = int(object, "/spec/completions", parallelism);
    let succeeded = int(object, "/status/succeeded", 0);
    let failed = int(object, "/status/failed", 0);
    let active = int(object, "/status/active", 0);
    let finished = true_conditions(object).find_map(|(type_, _)| match type_ {
        "Complete" => Some((
            Status::Current,
            format!("Job Completed. succeeded: {succeeded}/{completions}"),
        )),
        "Failed" => Some((
            Status::Failed,
            format!("Job Failed. failed: {failed}/{completions}"),
        )),
        _ => None,
    });
    if let Some(finished) = finished {
        return finished;
    }
    if text(object, "/status/startTime").is_empty() {
        return (Status::InProgress, "Job not started".into());
    }
    (
        Status::Current,
        format!("Job in progress. success:{succeeded}, active: {active}, failed: {failed}"),
    )
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
        assert_eq!(
            judge(&done),
            (Status::Current, "Job Completed. succeeded: 3/3".into())
        );
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
        // completions defaults to parallelism.
        assert_eq!(
            judge(&failed),
            (Status::Failed, "Job Failed. failed: 7/2".into())
        );
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
