//! Reconcile scaffolding every driftless controller reuses, with Flux's semantics: Flux's flags and
//! Go durations, zap-shaped logs, error classes, the status draft and its summary into
//! Ready/Reconciling/Stalled and the next action, the one status patch, events, metrics, probes and
//! leader election.
//!
//! One reconcile, in outline (names are this crate's):
//!
//! ```text
//! let timer = metrics.start("gitrepository", &*obj);              // gotk_reconcile_duration_seconds
//! match schedule::gate(deleting, has_finalizer, obj.suspended()) {  // Flux's order
//!     Gate::AddFinalizer => patch::add_finalizer(..), Gate::Suspended => return await_change, ..
//! }
//! let mut draft = obj.begin_draft(now);        // NewGeneration -> Reconciling
//! let result = steps(&obj, &mut draft).await;  // steps mark conditions, never Ready
//! let outcome = match &result { Ok(()) => Outcome::Success, Err(e) => Outcome::Failed(e) };
//! let summary = summary::summarize(draft, outcome, &RULES, &schedule); // pure
//! status.apply_summary(&summary);
//! patch::patch_status(&api, &obj, &status, &status_field_manager("source-controller")).await?;
//! recorder.event(&obj, EventType::Normal, "NewArtifact", &msg, &[("revision", &rev)]).await;
//! timer.finish(summary.next);
//! scheduler.action(&object_key(&obj), summary.next)   // jitter, backoff, requeue-dependency
//! ```

pub mod bearer;
pub mod cluster_access;
pub mod configmap_target;
pub mod draft;
pub mod election;
pub mod error;
pub mod events;
pub mod flags;
pub mod http;
pub mod leader;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod object;
pub mod patch;
pub mod process;
pub mod ratelimit;
pub mod sa_token;
pub mod schedule;
pub mod shutdown;
pub mod summary;
pub mod target_client;
