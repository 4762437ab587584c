//! The one pure function that turns a status draft and the reconcile outcome into the final
//! conditions and the next action, as Flux's summarize helper (source-controller
//! `ComputeReconcileResult` + `SummarizeAndPatch`, fluxcd/pkg/runtime/conditions `SetSummary`)
//! computes them.
//!
//! | outcome | conditions | next |
//! |---|---|---|
//! | success | Ready from the draft (normally True), Reconciling and Stalled removed, observedGeneration | [`Next::Interval`] |
//! | requeue (progress, not done) | Reconciling kept as `ProgressingWithRetry`, Stalled removed | [`Next::Retry`] |
//! | waiting | Ready=False with the error's reason, Reconciling kept as `ProgressingWithRetry` | [`Next::After`] `--requeue-dependency` |
//! | stalled | Stalled=True, Ready=False, Reconciling removed, observedGeneration | [`Next::AwaitChange`] |
//! | transient | Ready=False with the error's reason, Reconciling=True `ProgressingWithRetry` | [`Next::Retry`] (backoff) or `spec.retryInterval` |
//! | ignored | as success, with the error recorded | [`Next::Interval`] |
//!
//! `lastHandledReconcileAt` takes the `requestedAt` annotation whatever the outcome, so
//! `flux reconcile` sees its request handled and then reads Ready, failure included.

use std::time::Duration;

use driftless_api::conditions::{reasons, status, types};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::draft::{StatusDraft, set, sort};
use crate::error::{Classify, ErrorClass, chain};

/// Which draft conditions make up Ready, per kind (Flux's `summarize.Conditions`).
#[derive(Clone, Copy, Debug)]
pub struct SummaryRules {
    /// Conditions Ready is computed from, highest priority first; Stalled and Reconciling are
    /// always considered, after these unless listed.
    pub summarize: &'static [&'static str],
    /// The abnormal-true conditions among them (`FetchFailed`, `ArtifactOutdated`…); Stalled
    /// and Reconciling always are.
    pub negative_polarity: &'static [&'static str],
}

/// How a reconcile ended.
#[derive(Clone, Copy, Debug)]
pub enum Outcome<'a> {
    /// Every step completed.
    Success,
    /// Steps made progress and want to run again soon (controller-runtime `Requeue: true`).
    Requeue,
    /// A step failed.
    Failed(&'a dyn Classify),
}

/// The timings the next action is chosen from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// `spec.interval`.
    pub interval: Duration,
    /// `spec.retryInterval` for kinds that retry at a fixed interval (Kustomization,
    /// HelmRelease); `None` retries with the per-object exponential backoff.
    pub retry_interval: Option<Duration>,
    /// `--requeue-dependency`.
    pub requeue_dependency: Duration,
}

/// What the controller does next with the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Requeue at `spec.interval`, jittered by `--interval-jitter-percentage`.
    Interval(Duration),
    /// Requeue after exactly this long (dependency wait, `spec.retryInterval`).
    After(Duration),
    /// Retry with the per-object exponential backoff (`--min-retry-delay`..`--max-retry-delay`).
    Retry,
    /// Nothing until the object changes.
    AwaitChange,
}

/// The final status fields and the next action.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Final conditions, Ready always among them, in Flux's order.
    pub conditions: Vec<Condition>,
    /// `status.observedGeneration` to write.
    pub observed_generation: Option<i64>,
    /// `status.lastHandledReconcileAt` to write.
    pub last_handled_reconcile_at: Option<String>,
    /// What to do next.
    pub next: Next,
}

impl Summary {
    /// The Ready condition (always present).
    pub fn ready(&self) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == types::READY)
    }

    /// Whether Ready is True.
    pub fn is_ready(&self) -> bool {
        self.ready().is_some_and(|c| c.status == status::TRUE)
    }

    /// Whether Stalled is True.
    pub fn is_stalled(&self) -> bool {
        self.conditions
            .iter()
            .any(|c| c.type_ == types::STALLED && c.status == status::TRUE)
    }
}

/// Message of Ready on success when neither the steps nor `succeeded_with` gave one.
pub const DEFAULT_SUCCESS_MESSAGE: &str = "reconciliation succeeded";

/// Turns `draft` and `outcome` into the final conditions and the next action.
pub fn summarize(
    draft: StatusDraft,
    outcome: Outcome<'_>,
    rules: &SummaryRules,
    schedule: &Schedule,
) -> Summary {
    let StatusDraft {
        generation,
        mut conditions,
        observed_generation,
        last_handled_reconcile_at,
        requested_at,
        success,
        now,
    } = draft;
    let stamp = Stamp {
        generation,
        now: now.clone(),
    };
    let mut observe = false;
    let mut ready_from_error = None;
    let mut next = match outcome {
        Outcome::Success => {
            remove(&mut conditions, types::RECONCILING);
            remove(&mut conditions, types::STALLED);
            observe = true;
            Next::Interval(schedule.interval)
        }
        Outcome::Requeue => {
            remove(&mut conditions, types::STALLED);
            retry_reconciling(&mut conditions, &stamp, None);
            Next::Retry
        }
        Outcome::Failed(err) => {
            let message = chain(err);
            match err.class() {
                ErrorClass::Stalled => {
                    remove(&mut conditions, types::RECONCILING);
                    put(
                        &mut conditions,
                        &stamp,
                        types::STALLED,
                        status::TRUE,
                        err.reason(),
                        &message,
                    );
                    observe = true;
                    ready_from_error = Some((err.reason(), message));
                    Next::AwaitChange
                }
                ErrorClass::Waiting { after } => {
                    remove(&mut conditions, types::STALLED);
                    retry_reconciling(&mut conditions, &stamp, None);
                    ready_from_error = Some((err.reason(), message));
                    Next::After(after.unwrap_or(schedule.requeue_dependency))
                }
                ErrorClass::Transient => {
                    remove(&mut conditions, types::STALLED);
                    retry_reconciling(&mut conditions, &stamp, Some(&message));
                    ready_from_error = Some((err.reason(), message));
                    retry(schedule)
                }
                ErrorClass::Ignored => {
                    remove(&mut conditions, types::STALLED);
                    remove(&mut conditions, types::RECONCILING);
                    observe = true;
                    Next::Interval(schedule.interval)
                }
            }
        }
    };

    let (ready_status, reason, message) = match ready_from_error {
        Some((reason, message)) => (status::FALSE.to_owned(), reason.to_owned(), message),
        None => {
            let success = matches!(outcome, Outcome::Success)
                .then_some(success)
                .flatten();
            merge(&conditions, rules, success.as_ref()).unwrap_or_else(|| fallback(outcome))
        }
    };
    // Flux turns a "success" that did not leave the object Ready into an error, so it retries.
    if matches!(next, Next::Interval(_)) && ready_status != status::TRUE {
        next = retry(schedule);
    }
    let ready = Condition {
        type_: types::READY.to_owned(),
        status: ready_status,
        reason,
        message,
        observed_generation: generation,
        last_transition_time: now,
    };
    set(&mut conditions, ready);
    sort(&mut conditions);

    Summary {
        conditions,
        observed_generation: if observe {
            generation
        } else {
            observed_generation
        },
        last_handled_reconcile_at: requested_at.or(last_handled_reconcile_at),
        next,
    }
}

fn retry(schedule: &Schedule) -> Next {
    schedule.retry_interval.map_or(Next::Retry, Next::After)
}

fn remove(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// Sets a condition the summary itself decides (Stalled, Reconciling).
fn put(
    conditions: &mut Vec<Condition>,
    stamp: &Stamp,
    type_: &str,
    status_: &str,
    reason: &str,
    message: &str,
) {
    set(
        conditions,
        Condition {
            type_: type_.to_owned(),
            status: status_.to_owned(),
            reason: reason.to_owned(),
            message: message.to_owned(),
            observed_generation: stamp.generation,
            last_transition_time: stamp.now.clone(),
        },
    );
}

/// Generation and time stamped on conditions the summary sets.
struct Stamp {
    generation: Option<i64>,
    now: Time,
}

/// A failed attempt keeps Reconciling with reason `ProgressingWithRetry`; a transient failure
/// (`message` given) adds it when no step had marked progress.
fn retry_reconciling(conditions: &mut Vec<Condition>, stamp: &Stamp, message: Option<&str>) {
    // A reason change is a state change for Flux, so the transition time moves.
    let message = match conditions.iter().find(|c| c.type_ == types::RECONCILING) {
        Some(existing) => existing.message.clone(),
        None => match message {
            Some(message) => message.to_owned(),
            None => return,
        },
    };
    put(
        conditions,
        stamp,
        types::RECONCILING,
        status::TRUE,
        reasons::PROGRESSING_WITH_RETRY,
        &message,
    );
}

/// Ready when no condition is in scope.
fn fallback(outcome: Outcome<'_>) -> (String, String, String) {
    match outcome {
        Outcome::Success | Outcome::Failed(_) => (
            status::TRUE.to_owned(),
            reasons::SUCCEEDED.to_owned(),
            DEFAULT_SUCCESS_MESSAGE.to_owned(),
        ),
        Outcome::Requeue => (
            status::UNKNOWN.to_owned(),
            reasons::PROGRESSING.to_owned(),
            "reconciliation in progress".to_owned(),
        ),
    }
}

/// Flux's merge: group the in-scope conditions by (status, polarity), take the group with the
/// highest priority — abnormal True, then normal False, normal True, abnormal False, Unknown —
/// and report its first condition in priority order, inverting the status for an abnormal group.
fn merge(
    conditions: &[Condition],
    rules: &SummaryRules,
    success: Option<&(String, String)>,
) -> Option<(String, String, String)> {
    let always = [types::STALLED, types::RECONCILING];
    let order: Vec<&str> = rules
        .summarize
        .iter()
        .copied()
        .chain(
            always
                .iter()
                .copied()
                .filter(|t| !rules.summarize.contains(t)),
        )
        .collect();
    let negative = |t: &str| rules.negative_polarity.contains(&t) || always.contains(&t);
    // (priority, position in order, status, reason, message)
    let mut candidates: Vec<(u8, usize, &str, &str, &str)> = Vec::new();
    if let Some((reason, message)) = success {
        // The success message outranks every other normal-True condition.
        candidates.push((2, 0, status::TRUE, reason, message));
    }
    for c in conditions {
        let Some(position) = order.iter().position(|t| *t == c.type_) else {
            continue;
        };
        let priority = match (c.status.as_str(), negative(&c.type_)) {
            (status::TRUE, true) => 0,
            (status::FALSE, false) => 1,
            (status::TRUE, false) => 2,
            (status::FALSE, true) => 3,
            (status::UNKNOWN, _) => 4,
            _ => continue,
        };
        candidates.push((priority, position + 1, &c.status, &c.reason, &c.message));
    }
    let (priority, _, _, reason, message) = candidates
        .into_iter()
        .min_by_key(|(priority, position, ..)| (*priority, *position))?;
    let status_ = match priority {
        0 | 1 => status::FALSE,
        2 | 3 => status::TRUE,
        _ => status::UNKNOWN,
    };
    Some((status_.to_owned(), reason.to_owned(), message.to_owned()))
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
