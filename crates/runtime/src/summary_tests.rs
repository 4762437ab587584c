//! Table-driven tests of the summary, plus properties that hold for any draft and outcome.

use std::time::Duration;

use driftless_api::conditions::{reasons, status, types};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use proptest::prelude::*;

use super::*;
use crate::draft::{DraftInput, StatusDraft};
use crate::error::ErrorClass;
use crate::error::tests::TestError;

/// source-controller's GitRepository rules (`gitRepositoryReadyCondition`).
const GIT: SummaryRules = SummaryRules {
    summarize: &[
        types::STORAGE_OPERATION_FAILED,
        types::FETCH_FAILED,
        types::INCLUDE_UNAVAILABLE,
        types::ARTIFACT_OUTDATED,
        types::ARTIFACT_IN_STORAGE,
        types::SOURCE_VERIFIED,
        types::STALLED,
        types::RECONCILING,
    ],
    negative_polarity: &[
        types::STORAGE_OPERATION_FAILED,
        types::FETCH_FAILED,
        types::INCLUDE_UNAVAILABLE,
        types::ARTIFACT_OUTDATED,
        types::STALLED,
        types::RECONCILING,
    ],
};

const SCHEDULE: Schedule = Schedule {
    interval: Duration::from_secs(60),
    retry_interval: None,
    requeue_dependency: Duration::from_secs(30),
};

fn at(seconds: i64) -> Time {
    Time(Timestamp::from_second(seconds).expect("small timestamps are in range"))
}

fn condition(type_: &str, status_: &str, reason: &str, message: &str) -> Condition {
    Condition {
        type_: type_.into(),
        status: status_.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation: Some(1),
        last_transition_time: at(1),
    }
}

/// A draft for generation 2 of an object last observed at generation 1.
fn draft(stored: Vec<Condition>) -> StatusDraft {
    StatusDraft::begin(
        DraftInput {
            generation: Some(2),
            observed_generation: Some(1),
            conditions: stored,
            ..DraftInput::default()
        },
        at(100),
    )
}

/// A draft for generation 1, already observed, with the given reconcile request state.
fn observed(requested_at: Option<&str>, last_handled: Option<&str>) -> StatusDraft {
    StatusDraft::begin(
        DraftInput {
            generation: Some(1),
            observed_generation: Some(1),
            requested_at: requested_at.map(str::to_owned),
            last_handled_reconcile_at: last_handled.map(str::to_owned),
            ..DraftInput::default()
        },
        at(100),
    )
}

fn err(class: ErrorClass, reason: &'static str, message: &str) -> TestError {
    TestError {
        reason,
        class,
        message: message.into(),
    }
}

fn find<'a>(summary: &'a Summary, type_: &str) -> Option<&'a Condition> {
    summary.conditions.iter().find(|c| c.type_ == type_)
}

fn ready(summary: &Summary) -> (&str, &str, &str) {
    let c = summary.ready().expect("Ready is always present");
    (c.status.as_str(), c.reason.as_str(), c.message.as_str())
}

const STORED: &str = "stored artifact for revision 'main@sha1:abc'";

#[test]
fn success_makes_ready_true_from_the_positive_conditions_and_observes_the_generation() {
    let mut d = draft(vec![]);
    d.mark_true(types::ARTIFACT_IN_STORAGE, reasons::SUCCEEDED, STORED);
    let s = summarize(d, Outcome::Success, &GIT, &SCHEDULE);
    assert_eq!(ready(&s), (status::TRUE, reasons::SUCCEEDED, STORED));
    assert!(find(&s, types::RECONCILING).is_none());
    assert!(find(&s, types::STALLED).is_none());
    assert_eq!(s.observed_generation, Some(2));
    assert_eq!(s.next, Next::Interval(Duration::from_secs(60)));
}

#[test]
fn the_outcome_table_matches_fluxs_summary() {
    struct Case {
        name: &'static str,
        stored: Vec<Condition>,
        outcome: Option<TestError>,
        requeue: bool,
        schedule: Schedule,
        ready: (&'static str, &'static str),
        reconciling: Option<&'static str>,
        stalled: bool,
        observed: Option<i64>,
        next: Next,
    }
    let in_storage = || {
        condition(
            types::ARTIFACT_IN_STORAGE,
            status::TRUE,
            reasons::SUCCEEDED,
            STORED,
        )
    };
    let fetch_failed = || {
        condition(
            types::FETCH_FAILED,
            status::TRUE,
            reasons::GIT_OPERATION_FAILED,
            "clone failed",
        )
    };
    let fixed_retry = Schedule {
        retry_interval: Some(Duration::from_secs(120)),
        ..SCHEDULE
    };
    let cases = vec![
        Case {
            name: "success with a stale abnormal condition is not Ready and retries",
            stored: vec![in_storage(), fetch_failed()],
            outcome: None,
            requeue: false,
            schedule: SCHEDULE,
            ready: (status::FALSE, reasons::GIT_OPERATION_FAILED),
            reconciling: None,
            stalled: false,
            observed: Some(2),
            next: Next::Retry,
        },
        Case {
            name: "success with verification False reports the verification",
            stored: vec![
                in_storage(),
                condition(
                    types::SOURCE_VERIFIED,
                    status::FALSE,
                    reasons::VERIFICATION_ERROR,
                    "bad sig",
                ),
            ],
            outcome: None,
            requeue: false,
            schedule: SCHEDULE,
            ready: (status::FALSE, reasons::VERIFICATION_ERROR),
            reconciling: None,
            stalled: false,
            observed: Some(2),
            next: Next::Retry,
        },
        Case {
            name: "an Unknown condition ranks below a True one",
            stored: vec![
                in_storage(),
                condition(
                    types::SOURCE_VERIFIED,
                    status::UNKNOWN,
                    reasons::PROGRESSING,
                    "verifying",
                ),
            ],
            outcome: None,
            requeue: false,
            schedule: SCHEDULE,
            ready: (status::TRUE, reasons::SUCCEEDED),
            reconciling: None,
            stalled: false,
            observed: Some(2),
            next: Next::Interval(SCHEDULE.interval),
        },
        Case {
            name: "an abnormal condition that is False counts as fine",
            stored: vec![condition(
                types::ARTIFACT_OUTDATED,
                status::FALSE,
                "UpToDate",
                "fine",
            )],
            outcome: None,
            requeue: false,
            schedule: SCHEDULE,
            ready: (status::TRUE, "UpToDate"),
            reconciling: None,
            stalled: false,
            observed: Some(2),
            next: Next::Interval(SCHEDULE.interval),
        },
        Case {
            name: "a transient error keeps retrying with backoff",
            stored: vec![in_storage(), fetch_failed()],
            outcome: Some(err(
                ErrorClass::Transient,
                reasons::GIT_OPERATION_FAILED,
                "clone failed",
            )),
            requeue: false,
            schedule: SCHEDULE,
            ready: (status::FALSE, reasons::GIT_OPERATION_FAILED),
            reconciling: Some(reasons::PROGRESSING_WITH_RETRY),
            stalled: false,
            observed: Some(1),
            next: Next::Retry,
        },
        Case {
            name: "a transient error retries at spec.retryInterval when the kind has one",
            stored: vec![],
            outcome: Some(err(
                ErrorClass::Transient,
                reasons::BUILD_FAILED,
                "kustomize build failed",
            )),
            requeue: false,
            schedule: fixed_retry,
            ready: (status::FALSE, reasons::BUILD_FAILED),
            reconciling: Some(reasons::PROGRESSING_WITH_RETRY),
            stalled: false,
            observed: Some(1),
            next: Next::After(Duration::from_secs(120)),
        },
        Case {
            name: "waiting on a dependency requeues after --requeue-dependency",
            stored: vec![condition(
                types::STALLED,
                status::TRUE,
                reasons::INVALID_PATH,
                "old",
            )],
            outcome: Some(err(
                ErrorClass::Waiting { after: None },
                reasons::DEPENDENCY_NOT_READY,
                "dependency 'flux-system/infra' is not ready",
            )),
            requeue: false,
            schedule: SCHEDULE,
            ready: (status::FALSE, reasons::DEPENDENCY_NOT_READY),
            reconciling: Some(reasons::PROGRESSING_WITH_RETRY),
            stalled: false,
            observed: Some(1),
            next: Next::After(Duration::from_secs(30)),
        },
        Case {
            name: "waiting with its own delay uses it",
            stored: vec![],
            outcome: Some(err(
                ErrorClass::Waiting {
                    after: Some(Duration::from_secs(5)),
                },
                reasons::ARTIFACT_FAILED,
                "source artifact not found",
            )),
            requeue: false,
            schedule: SCHEDULE,
            ready: (status::FALSE, reasons::ARTIFACT_FAILED),
            reconciling: Some(reasons::PROGRESSING_WITH_RETRY),
            stalled: false,
            observed: Some(1),
            next: Next::After(Duration::from_secs(5)),
        },
        Case {
            name: "a stalling error stalls, observes the generation and waits for a change",
            stored: vec![],
            outcome: Some(err(
                ErrorClass::Stalled,
                reasons::URL_INVALID,
                "invalid URL",
            )),
            requeue: false,
            schedule: SCHEDULE,
            ready: (status::FALSE, reasons::URL_INVALID),
            reconciling: None,
            stalled: true,
            observed: Some(2),
            next: Next::AwaitChange,
        },
        Case {
            name: "an ignored error summarises as success",
            stored: vec![in_storage()],
            outcome: Some(err(ErrorClass::Ignored, reasons::FAILED, "nothing to do")),
            requeue: false,
            schedule: SCHEDULE,
            ready: (status::TRUE, reasons::SUCCEEDED),
            reconciling: None,
            stalled: false,
            observed: Some(2),
            next: Next::Interval(SCHEDULE.interval),
        },
        Case {
            name: "a requeue keeps Reconciling, which makes Ready False, and does not observe",
            stored: vec![in_storage()],
            outcome: None,
            requeue: true,
            schedule: SCHEDULE,
            ready: (status::FALSE, reasons::PROGRESSING_WITH_RETRY),
            reconciling: Some(reasons::PROGRESSING_WITH_RETRY),
            stalled: false,
            observed: Some(1),
            next: Next::Retry,
        },
    ];
    for case in cases {
        let d = draft(case.stored);
        let outcome = match (&case.outcome, case.requeue) {
            (Some(e), _) => Outcome::Failed(e),
            (None, true) => Outcome::Requeue,
            (None, false) => Outcome::Success,
        };
        let s = summarize(d, outcome, &GIT, &case.schedule);
        let (st, reason, _) = ready(&s);
        assert_eq!((st, reason), case.ready, "{}: Ready", case.name);
        assert_eq!(
            find(&s, types::RECONCILING).map(|c| c.reason.as_str()),
            case.reconciling,
            "{}: Reconciling",
            case.name
        );
        assert_eq!(s.is_stalled(), case.stalled, "{}: Stalled", case.name);
        assert_eq!(
            s.observed_generation, case.observed,
            "{}: observedGeneration",
            case.name
        );
        assert_eq!(s.next, case.next, "{}: next", case.name);
    }
}

#[test]
fn a_failure_reports_the_error_chain_as_the_ready_message() {
    let e = err(
        ErrorClass::Transient,
        reasons::GIT_OPERATION_FAILED,
        "failed to checkout",
    );
    let s = summarize(draft(vec![]), Outcome::Failed(&e), &GIT, &SCHEDULE);
    assert_eq!(ready(&s).2, "failed to checkout");
    let reconciling = find(&s, types::RECONCILING).expect("Reconciling kept");
    assert_eq!(reconciling.status, status::TRUE);
}

#[test]
fn a_transient_error_without_progress_marked_still_shows_reconciling_with_retry() {
    let d = observed(None, None);
    let e = err(
        ErrorClass::Transient,
        reasons::GIT_OPERATION_FAILED,
        "timeout",
    );
    let s = summarize(d, Outcome::Failed(&e), &GIT, &SCHEDULE);
    let reconciling = find(&s, types::RECONCILING).expect("Reconciling added");
    assert_eq!(reconciling.reason, reasons::PROGRESSING_WITH_RETRY);
    assert_eq!(reconciling.message, "timeout");
}

#[test]
fn the_success_message_of_an_applier_outranks_other_positive_conditions() {
    let mut d = draft(vec![]);
    d.mark_true(
        types::HEALTHY,
        reasons::SUCCEEDED,
        "Health check passed in 2s",
    );
    d.succeeded_with(
        reasons::RECONCILIATION_SUCCEEDED,
        "Applied revision: main@sha1:abc",
    );
    let rules = SummaryRules {
        summarize: &[types::HEALTHY],
        negative_polarity: &[],
    };
    let s = summarize(d, Outcome::Success, &rules, &SCHEDULE);
    assert_eq!(
        ready(&s),
        (
            status::TRUE,
            reasons::RECONCILIATION_SUCCEEDED,
            "Applied revision: main@sha1:abc"
        )
    );
}

#[test]
fn success_without_any_condition_in_scope_is_still_ready() {
    let s = summarize(draft(vec![]), Outcome::Success, &GIT, &SCHEDULE);
    assert_eq!(
        ready(&s),
        (status::TRUE, reasons::SUCCEEDED, DEFAULT_SUCCESS_MESSAGE)
    );
}

#[test]
fn the_reconcile_request_is_recorded_as_handled_even_when_the_reconcile_fails() {
    let d = observed(Some("2026-11-26T04:00:00Z"), Some("before"));
    let e = err(
        ErrorClass::Transient,
        reasons::GIT_OPERATION_FAILED,
        "timeout",
    );
    let s = summarize(d, Outcome::Failed(&e), &GIT, &SCHEDULE);
    assert_eq!(
        s.last_handled_reconcile_at.as_deref(),
        Some("2026-11-26T04:00:00Z")
    );
}

#[test]
fn without_a_request_the_last_handled_value_is_kept() {
    let d = observed(None, Some("before"));
    let s = summarize(d, Outcome::Success, &GIT, &SCHEDULE);
    assert_eq!(s.last_handled_reconcile_at.as_deref(), Some("before"));
}

#[test]
fn an_unchanged_ready_keeps_its_transition_time_and_a_changed_one_moves() {
    let stored_ready = condition(types::READY, status::TRUE, reasons::SUCCEEDED, STORED);
    let mut d = draft(vec![stored_ready.clone(), in_storage_at(1)]);
    d.mark_true(types::ARTIFACT_IN_STORAGE, reasons::SUCCEEDED, STORED);
    let s = summarize(d, Outcome::Success, &GIT, &SCHEDULE);
    let r = s.ready().expect("Ready");
    assert_eq!(r.last_transition_time, at(1));
    assert_eq!(r.observed_generation, Some(2));

    let e = err(
        ErrorClass::Transient,
        reasons::GIT_OPERATION_FAILED,
        "timeout",
    );
    let s = summarize(
        draft(vec![stored_ready]),
        Outcome::Failed(&e),
        &GIT,
        &SCHEDULE,
    );
    assert_eq!(s.ready().expect("Ready").last_transition_time, at(100));
}

fn in_storage_at(seconds: i64) -> Condition {
    let mut c = condition(
        types::ARTIFACT_IN_STORAGE,
        status::TRUE,
        reasons::SUCCEEDED,
        STORED,
    );
    c.last_transition_time = at(seconds);
    c
}

#[test]
fn stalled_reconciling_and_ready_lead_the_condition_list() {
    let stored = vec![in_storage_at(1), fetch_failed_at(1)];
    let e = err(ErrorClass::Stalled, reasons::URL_INVALID, "invalid URL");
    let s = summarize(draft(stored), Outcome::Failed(&e), &GIT, &SCHEDULE);
    let order: Vec<&str> = s.conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(
        order,
        ["Stalled", "Ready", "ArtifactInStorage", "FetchFailed"]
    );
}

fn fetch_failed_at(seconds: i64) -> Condition {
    let mut c = condition(
        types::FETCH_FAILED,
        status::TRUE,
        reasons::GIT_OPERATION_FAILED,
        "x",
    );
    c.last_transition_time = at(seconds);
    c
}

// Properties over arbitrary drafts and outcomes.

fn any_status() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just(status::TRUE),
        Just(status::FALSE),
        Just(status::UNKNOWN)
    ]
}

fn any_condition() -> impl Strategy<Value = Condition> {
    let types_ = prop_oneof![
        Just(types::STORAGE_OPERATION_FAILED),
        Just(types::FETCH_FAILED),
        Just(types::INCLUDE_UNAVAILABLE),
        Just(types::ARTIFACT_OUTDATED),
        Just(types::ARTIFACT_IN_STORAGE),
        Just(types::SOURCE_VERIFIED),
        Just(types::STALLED),
        Just(types::RECONCILING),
        Just(types::READY),
        Just("Custom"),
    ];
    (
        types_,
        any_status(),
        "[A-Z][a-zA-Z]{0,8}",
        ".{0,20}",
        0i64..1000,
    )
        .prop_map(|(t, s, reason, message, time)| {
            let mut c = condition(t, s, &reason, &message);
            c.last_transition_time = at(time);
            c
        })
}

fn any_class() -> impl Strategy<Value = Option<Option<ErrorClass>>> {
    // None: requeue; Some(None): success; Some(Some(class)): failure.
    prop_oneof![
        Just(None),
        Just(Some(None)),
        Just(Some(Some(ErrorClass::Transient))),
        Just(Some(Some(ErrorClass::Stalled))),
        Just(Some(Some(ErrorClass::Ignored))),
        (0u64..100).prop_map(|s| Some(Some(ErrorClass::Waiting {
            after: (s > 50).then(|| Duration::from_secs(s)),
        }))),
    ]
}

proptest! {
    #[test]
    fn ready_is_always_present_once_and_consistent_with_stalled_and_reconciling(
        stored in proptest::collection::vec(any_condition(), 0..8),
        edits in proptest::collection::vec(any_condition(), 0..5),
        class in any_class(),
        generation in 1i64..5,
        observed in proptest::option::of(0i64..5),
        retry in proptest::option::of(1u64..100),
    ) {
        // The stored status holds at most one condition per type, as the API server keeps it.
        let mut unique: Vec<Condition> = Vec::new();
        for c in stored {
            if !unique.iter().any(|u| u.type_ == c.type_) {
                unique.push(c);
            }
        }
        let mut d = StatusDraft::begin(
            DraftInput {
                generation: Some(generation),
                observed_generation: observed,
                conditions: unique,
                ..DraftInput::default()
            },
            at(5000),
        );
        for e in edits {
            match e.status.as_str() {
                status::TRUE => d.mark_true(&e.type_, &e.reason, e.message),
                status::FALSE => d.mark_false(&e.type_, &e.reason, e.message),
                _ => d.mark_unknown(&e.type_, &e.reason, e.message),
            }
        }
        let schedule = Schedule {
            retry_interval: retry.map(Duration::from_secs),
            ..SCHEDULE
        };
        let error = class.flatten().map(|class| err(class, reasons::FAILED, "boom"));
        let outcome = match (&class, &error) {
            (None, _) => Outcome::Requeue,
            (Some(_), Some(e)) => Outcome::Failed(e),
            (Some(_), None) => Outcome::Success,
        };
        let s = summarize(d, outcome, &GIT, &schedule);

        let readies: Vec<&Condition> =
            s.conditions.iter().filter(|c| c.type_ == types::READY).collect();
        prop_assert_eq!(readies.len(), 1, "exactly one Ready");
        let ready = readies[0];
        prop_assert_eq!(ready.observed_generation, Some(generation));
        for t in [types::STALLED, types::RECONCILING] {
            prop_assert!(s.conditions.iter().filter(|c| c.type_ == t).count() <= 1);
        }
        if s.is_stalled() {
            prop_assert_eq!(ready.status.as_str(), status::FALSE);
            prop_assert!(find(&s, types::RECONCILING).is_none());
            prop_assert_eq!(s.next, Next::AwaitChange);
            prop_assert_eq!(s.observed_generation, Some(generation));
        }
        if let Some(reconciling) = find(&s, types::RECONCILING) {
            prop_assert_eq!(reconciling.reason.as_str(), reasons::PROGRESSING_WITH_RETRY);
            prop_assert_eq!(reconciling.status.as_str(), status::TRUE);
            prop_assert!(!s.is_ready());
        }
        if s.is_ready() {
            prop_assert!(find(&s, types::STALLED).is_none());
            prop_assert!(matches!(s.next, Next::Interval(_) | Next::Retry | Next::After(_)));
        }
        if matches!(s.next, Next::Interval(_)) {
            prop_assert!(s.is_ready());
            prop_assert_eq!(s.observed_generation, Some(generation));
        }
        if matches!(outcome, Outcome::Failed(e) if !matches!(e.class(), ErrorClass::Ignored)) {
            prop_assert_eq!(ready.status.as_str(), status::FALSE);
            prop_assert_eq!(ready.reason.as_str(), reasons::FAILED);
        }
    }
}
