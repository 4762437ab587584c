//! The status draft that reconcile steps edit. Steps record what they observed as conditions
//! (`FetchFailed`, `ArtifactInStorage`, `Healthy`…) and never touch Ready; the summary computes
//! Ready, Reconciling and Stalled from the draft and the outcome (see [`crate::summary`]).
//!
//! Conditions are set with Flux's semantics (fluxcd/pkg/runtime/conditions `Set`), which differ
//! from Kubernetes' `meta.SetStatusCondition`: `observedGeneration` is always the object's
//! generation, and `lastTransitionTime` moves when status, reason *or* message change.

use driftless_api::conditions::{reasons, status, types};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The editable status of one reconcile.
#[derive(Clone, Debug)]
pub struct StatusDraft {
    pub(crate) generation: Option<i64>,
    pub(crate) conditions: Vec<Condition>,
    pub(crate) observed_generation: Option<i64>,
    pub(crate) last_handled_reconcile_at: Option<String>,
    pub(crate) requested_at: Option<String>,
    pub(crate) success: Option<(String, String)>,
    pub(crate) now: Time,
}

/// The parts of an object the draft starts from.
#[derive(Clone, Debug, Default)]
pub struct DraftInput {
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// The `reconcile.fluxcd.io/requestedAt` annotation, if present.
    pub requested_at: Option<String>,
    /// `status.conditions` as stored.
    pub conditions: Vec<Condition>,
    /// `status.observedGeneration` as stored.
    pub observed_generation: Option<i64>,
    /// `status.lastHandledReconcileAt` as stored.
    pub last_handled_reconcile_at: Option<String>,
}

impl StatusDraft {
    /// Starts a reconcile from the stored status. A generation the controller has not observed
    /// yet marks Reconciling (reason `NewGeneration`) and clears Stalled, as Flux's source
    /// controllers do at the top of `reconcile`.
    pub fn begin(input: DraftInput, now: Time) -> Self {
        let mut draft = Self {
            generation: input.generation,
            conditions: input.conditions,
            observed_generation: input.observed_generation,
            last_handled_reconcile_at: input.last_handled_reconcile_at,
            requested_at: input.requested_at,
            success: None,
            now,
        };
        if let Some(generation) = draft.generation
            && draft.observed_generation != Some(generation)
        {
            draft.mark_reconciling(
                NEW_GENERATION,
                format!("reconciling new object generation ({generation})"),
            );
        }
        draft
    }

    /// The conditions as edited so far.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The condition of `type_`, if set.
    pub fn get(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// The object's generation.
    pub fn generation(&self) -> Option<i64> {
        self.generation
    }

    /// Whether the stored status already reflects this generation.
    pub fn generation_observed(&self) -> bool {
        self.generation.is_some() && self.observed_generation == self.generation
    }

    /// Whether a `reconcile.fluxcd.io/requestedAt` value is pending (differs from the last handled).
    pub fn reconcile_requested(&self) -> bool {
        self.requested_at.is_some() && self.requested_at != self.last_handled_reconcile_at
    }

    /// Sets `type_` to True. Ready is the summary's, so a step's Ready is ignored.
    pub fn mark_true(&mut self, type_: &str, reason: &str, message: impl Into<String>) {
        self.mark(type_, status::TRUE, reason, message.into());
    }

    /// Sets `type_` to False.
    pub fn mark_false(&mut self, type_: &str, reason: &str, message: impl Into<String>) {
        self.mark(type_, status::FALSE, reason, message.into());
    }

    /// Sets `type_` to Unknown.
    pub fn mark_unknown(&mut self, type_: &str, reason: &str, message: impl Into<String>) {
        self.mark(type_, status::UNKNOWN, reason, message.into());
    }

    /// Removes `type_` (abnormal-true conditions are removed, not set False, once resolved).
    pub fn delete(&mut self, type_: &str) {
        self.conditions.retain(|c| c.type_ != type_);
    }

    /// Reconciling=True with `reason`, and Stalled cleared (Flux `MarkReconciling`).
    pub fn mark_reconciling(&mut self, reason: &str, message: impl Into<String>) {
        self.delete(types::STALLED);
        self.mark(types::RECONCILING, status::TRUE, reason, message.into());
    }

    /// A step is making progress (Flux `ProgressiveStatus`): Reconciling=True `Progressing`.
    pub fn progressing(&mut self, message: impl Into<String>) {
        self.mark_reconciling(reasons::PROGRESSING, message);
    }

    /// The conditions to show while the reconcile is under way (Flux's progressive status
    /// patch): the draft's, with Ready=Unknown `Progressing` "Reconciliation in progress". The
    /// draft itself is unchanged: the final Ready is still the summary's.
    pub fn in_progress_conditions(&self) -> Vec<Condition> {
        let mut conditions = self.conditions.clone();
        set(
            &mut conditions,
            Condition {
                type_: types::READY.to_owned(),
                status: status::UNKNOWN.to_owned(),
                reason: reasons::PROGRESSING.to_owned(),
                message: "Reconciliation in progress".to_owned(),
                observed_generation: self.generation,
                last_transition_time: self.now.clone(),
            },
        );
        conditions
    }

    /// The Ready reason and message to report when the reconcile succeeds, e.g.
    /// kustomize-controller's `ReconciliationSucceeded` / `Applied revision: main@sha1:…`.
    /// Without it, Ready on success comes from the positive conditions the steps set.
    pub fn succeeded_with(&mut self, reason: &str, message: impl Into<String>) {
        self.success = Some((reason.to_owned(), message.into()));
    }

    fn mark(&mut self, type_: &str, status_: &str, reason: &str, message: String) {
        if type_ == types::READY {
            return;
        }
        let condition = Condition {
            type_: type_.to_owned(),
            status: status_.to_owned(),
            reason: reason.to_owned(),
            message,
            observed_generation: self.generation,
            last_transition_time: self.now.clone(),
        };
        set(&mut self.conditions, condition);
    }
}

/// The reason Flux's source controllers give Reconciling for an unobserved generation.
pub const NEW_GENERATION: &str = "NewGeneration";

/// Flux's `conditions.Set`: keeps `lastTransitionTime` unless status, reason or message changed,
/// always takes the new `observedGeneration`, and keeps the list in kubectl-friendly order.
pub(crate) fn set(conditions: &mut Vec<Condition>, mut condition: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == condition.type_) {
        Some(existing) => {
            let same_state = existing.status == condition.status
                && existing.reason == condition.reason
                && existing.message == condition.message;
            if same_state {
                condition.last_transition_time = existing.last_transition_time.clone();
            }
            *existing = condition;
        }
        None => conditions.push(condition),
    }
    sort(conditions);
}

/// Stalled, Reconciling, Ready first (in that order), then the rest by type, as Flux sorts them.
pub(crate) fn sort(conditions: &mut [Condition]) {
    fn weight(type_: &str) -> (u8, &str) {
        match type_ {
            types::STALLED => (0, ""),
            types::RECONCILING => (1, ""),
            types::READY => (2, ""),
            other => (3, other),
        }
    }
    conditions.sort_by(|a, b| weight(&a.type_).cmp(&weight(&b.type_)));
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).expect("small timestamps are in range"))
    }

    fn input(generation: i64, observed: Option<i64>) -> DraftInput {
        DraftInput {
            generation: Some(generation),
            observed_generation: observed,
            ..DraftInput::default()
        }
    }

    #[test]
    fn a_new_generation_starts_reconciling_and_clears_stalled() {
        let mut stored = input(3, Some(2));
        stored.conditions.push(Condition {
            type_: types::STALLED.into(),
            status: status::TRUE.into(),
            reason: reasons::INVALID_URL.into(),
            message: "bad".into(),
            observed_generation: Some(2),
            last_transition_time: at(1),
        });
        let draft = StatusDraft::begin(stored, at(10));
        assert!(draft.get(types::STALLED).is_none());
        let reconciling = draft.get(types::RECONCILING).expect("Reconciling set");
        assert_eq!(reconciling.reason, NEW_GENERATION);
        assert_eq!(reconciling.message, "reconciling new object generation (3)");
        assert_eq!(reconciling.observed_generation, Some(3));
    }

    #[test]
    fn the_in_progress_view_says_ready_unknown_and_leaves_the_draft_alone() {
        let mut draft = StatusDraft::begin(input(3, Some(3)), at(10));
        draft.progressing("Fetching manifests");
        let shown = draft.in_progress_conditions();
        let ready = shown
            .iter()
            .find(|c| c.type_ == types::READY)
            .expect("Ready shown");
        assert_eq!(
            (
                ready.status.as_str(),
                ready.reason.as_str(),
                ready.message.as_str()
            ),
            (
                status::UNKNOWN,
                reasons::PROGRESSING,
                "Reconciliation in progress"
            )
        );
        assert_eq!(ready.observed_generation, Some(3));
        assert!(shown.iter().any(|c| c.type_ == types::RECONCILING));
        assert!(draft.get(types::READY).is_none());
    }

    #[test]
    fn an_observed_generation_starts_without_reconciling() {
        let draft = StatusDraft::begin(input(3, Some(3)), at(10));
        assert!(draft.conditions().is_empty());
        assert!(draft.generation_observed());
    }

    #[test]
    fn a_message_change_moves_the_transition_time_as_in_flux() {
        let mut draft = StatusDraft::begin(input(1, Some(1)), at(10));
        draft.mark_true("FetchFailed", reasons::GIT_OPERATION_FAILED, "first");
        draft.now = at(20);
        draft.mark_true("FetchFailed", reasons::GIT_OPERATION_FAILED, "first");
        assert_eq!(
            draft.get("FetchFailed").map(|c| &c.last_transition_time),
            Some(&at(10))
        );
        draft.now = at(30);
        draft.mark_true("FetchFailed", reasons::GIT_OPERATION_FAILED, "second");
        assert_eq!(
            draft.get("FetchFailed").map(|c| &c.last_transition_time),
            Some(&at(30))
        );
    }

    #[test]
    fn steps_cannot_set_ready() {
        let mut draft = StatusDraft::begin(input(1, Some(1)), at(10));
        draft.mark_true(types::READY, reasons::SUCCEEDED, "no");
        assert!(draft.get(types::READY).is_none());
    }

    #[test]
    fn conditions_sort_stalled_reconciling_ready_then_by_type() {
        let mut list: Vec<Condition> = [
            "SourceVerified",
            "Ready",
            "ArtifactInStorage",
            "Stalled",
            "Reconciling",
        ]
        .iter()
        .map(|t| Condition {
            type_: (*t).into(),
            status: status::TRUE.into(),
            reason: "R".into(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: at(0),
        })
        .collect();
        sort(&mut list);
        let order: Vec<&str> = list.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(
            order,
            [
                "Stalled",
                "Reconciling",
                "Ready",
                "ArtifactInStorage",
                "SourceVerified"
            ]
        );
    }

    #[test]
    fn a_pending_reconcile_request_is_one_not_yet_handled() {
        let mut stored = input(1, Some(1));
        stored.requested_at = Some("2026-01-01T00:00:00Z".into());
        stored.last_handled_reconcile_at = Some("2025-12-31T00:00:00Z".into());
        assert!(StatusDraft::begin(stored.clone(), at(0)).reconcile_requested());
        stored.last_handled_reconcile_at = stored.requested_at.clone();
        assert!(!StatusDraft::begin(stored, at(0)).reconcile_requested());
    }
}
