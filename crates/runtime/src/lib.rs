//! Reconcile scaffolding every driftless controller reuses, with Flux's semantics: Flux's flags and
//! Go durations, zap-shaped logs, error classes, the status draft and its summary into
//! Ready/Reconciling/Stalled and the next action, the one status patch, events, metrics, probes and
//! leader election.

pub mod draft;
pub mod error;
pub mod events;
pub mod flags;
pub mod http;
pub mod leader;
pub mod logging;
pub mod metrics;
pub mod object;
pub mod patch;
pub mod schedule;
pub mod summary;
