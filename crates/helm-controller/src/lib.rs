//! helm-controller for HelmRelease (`helm.toolkit.fluxcd.io/v2`), with Flux's semantics: get
//! the chart (a HelmChart made from `spec.chart`, or `spec.chartRef`), compose the values
//! (`valuesFrom` then `values`), then bring the Helm release in line: install, upgrade, test,
//! remediate (rollback or uninstall) and uninstall on deletion, recording the release in Helm's
//! own storage so the `helm` CLI sees it, and the history in `status.history`.
//!
//! Beyond Flux: a change in a ConfigMap or Secret named in `valuesFrom` triggers the release at
//! once, without the `reconcile.fluxcd.io/watch: Enabled` label; a release left pending by a
//! crash is always unlocked, never reported as "another operation is in progress".
//!
//! Modules follow the reconcile: [`reconcile`] (gate, draft, summary, one status patch,
//! events), [`chart`] (HelmChart template, chartRef, artifact, chart loading), [`values`]
//! (composition and digest), [`identity`] (release name and namespaces), [`release`] (what the
//! release needs and the Helm actions, with remediation), [`history`] (status snapshots),
//! [`finalize`] (uninstall on deletion), [`controller`] (watches and triggers); [`target`]
//! picks the client Helm actions run with (`serviceAccountName`, `kubeConfig`), [`metadata`]
//! applies `commonMetadata`; [`args`] holds the flags.

pub mod args;
pub mod chart;
pub mod chart_applied;
pub mod controller;
pub mod dependencies;
pub mod drift;
pub mod error;
pub mod finalize;
pub mod history;
pub mod identity;
pub mod inventory;
pub mod metadata;
pub mod post_render;
pub mod reconcile;
pub mod release;
pub mod target;
pub mod values;

pub use args::Args;
pub use controller::{RunError, run, run_blocking};
pub use error::ReconcileError;

/// The controller name: field manager, event reporter, lease name prefix, as Flux spells it.
pub const CONTROLLER_NAME: &str = "helm-controller";
