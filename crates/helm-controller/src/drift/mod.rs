//! `spec.driftDetection`: once the release is in sync, its stored manifest is compared with the
//! cluster ([`detect`], honouring the [`ignore`] rules and the opt-out label/annotation). With
//! mode `warn` or `enabled` the outcome is the `Drifted` condition (`DriftDetected` /
//! `NoDriftDetected`) and, on drift, a `DriftDetected` warning event with Flux's summary;
//! `enabled` then [`correct`]s the drift and reports it (`DriftCorrected` or
//! `DriftCorrectionFailed`). Ready is not changed by drift: a failed correction is tried again
//! at the next reconcile.

pub mod correct;
pub mod detect;
pub mod ignore;

use driftless_api::conditions::{reasons, types};
use driftless_api::helm::{DriftDetectionMode, HelmRelease};
use driftless_helm::release::Release;
use driftless_runtime::draft::StatusDraft;
use kube::ResourceExt;

use crate::error::ReconcileError;
use crate::release::{ReleaseEvent, revision_name};
use detect::{Drift, Report};

/// Event reason of a correction that succeeded.
pub const DRIFT_CORRECTED: &str = "DriftCorrected";
/// Event reason of a correction that failed, in part or in full.
pub const DRIFT_CORRECTION_FAILED: &str = "DriftCorrectionFailed";
/// The `Drifted=False` message.
pub const NO_DRIFT_MESSAGE: &str = "No drift detected against the cluster state.";

/// The drift step of an in-sync release.
pub async fn reconcile(
    client: &kube::Client,
    hr: &HelmRelease,
    release: Option<&Release>,
    draft: &mut StatusDraft,
    events: &mut Vec<ReleaseEvent>,
) -> Result<(), ReconcileError> {
    let spec = hr.spec.drift_detection.as_ref();
    let mode = spec.and_then(|d| d.mode).unwrap_or_default();
    let Some(release) = release.filter(|_| mode != DriftDetectionMode::Disabled) else {
        draft.delete(types::DRIFTED);
        return Ok(());
    };
    let failed = |message: String| ReconcileError::Drift {
        message: format!(
            "cannot determine release state: unable to determine cluster state: {message}"
        ),
    };
    let rules = ignore::compile(spec.and_then(|d| d.ignore.as_deref()).unwrap_or_default())
        .map_err(failed)?;
    let report = detect::detect(client, release, &rules)
        .await
        .map_err(failed)?;
    if !report.failures.is_empty() {
        tracing::error!(name = %hr.name_any(), namespace = ?hr.namespace(),
            failures = %report.failures.join("; "),
            "diff of release against cluster state completed with error");
        if !report.has_changes() {
            return Err(failed(report.failures.join("\n")));
        }
    }
    if !report.has_changes() {
        draft.mark_false(types::DRIFTED, reasons::NO_DRIFT_DETECTED, NO_DRIFT_MESSAGE);
        return Ok(());
    }
    let full = revision_name(release);
    tracing::info!(name = %hr.name_any(), namespace = ?hr.namespace(),
        "detected changes in cluster state: {}", brief(&report));
    let message = format!(
        "Cluster state of release {full} has drifted from the desired state:\n{}",
        summary(&report)
    );
    draft.mark_true(types::DRIFTED, reasons::DRIFT_DETECTED, message.clone());
    events.push(ReleaseEvent {
        warning: true,
        reason: reasons::DRIFT_DETECTED,
        message,
    });
    if mode == DriftDetectionMode::Enabled {
        let outcome = correct::correct(client, &report).await;
        if let Some(event) = corrected_event(&full, &outcome) {
            events.push(event);
        }
    }
    Ok(())
}

/// One line per drifted object: `Kind/namespace/name removed|excluded|changed (…)`.
pub fn summary(report: &Report) -> String {
    report
        .entries
        .iter()
        .map(|e| {
            let o = &e.object;
            let what = match &e.drift {
                Drift::Removed { .. } => "removed".to_owned(),
                Drift::Excluded => "excluded".to_owned(),
                Drift::Changed { patch } => {
                    let count = |op: &str| {
                        patch
                            .0
                            .iter()
                            .filter(|p| serde_json::to_value(p).ok().is_some_and(|v| v["op"] == op))
                            .count()
                    };
                    format!(
                        "changed ({} additions, {} changes, {} removals)",
                        count("add"),
                        count("replace"),
                        count("remove")
                    )
                }
            };
            format!("{}/{}/{} {what}", o.kind, o.namespace, o.name)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `removed: x, changed: y, excluded: z`.
fn brief(report: &Report) -> String {
    let count = |f: fn(&Drift) -> bool| report.entries.iter().filter(|e| f(&e.drift)).count();
    format!(
        "removed: {}, changed: {}, excluded: {}",
        count(|d| matches!(d, Drift::Removed { .. })),
        count(|d| matches!(d, Drift::Changed { .. })),
        count(|d| matches!(d, Drift::Excluded)),
    )
}

/// The event of a correction, in Flux's words; none when nothing was done.
pub fn corrected_event(full: &str, outcome: &correct::Outcome) -> Option<ReleaseEvent> {
    let corrected = outcome.corrected.join("\n");
    if outcome.errors.is_empty() {
        return (!outcome.corrected.is_empty()).then(|| ReleaseEvent {
            warning: false,
            reason: DRIFT_CORRECTED,
            message: format!("Cluster state of release {full} has been corrected:\n{corrected}"),
        });
    }
    let partially = if outcome.corrected.is_empty() {
        ""
    } else {
        "partially "
    };
    let mut message = format!(
        "Failed to {partially}correct cluster state of release {full}:\n{}",
        outcome.errors.join("\n")
    );
    if !outcome.corrected.is_empty() {
        message.push_str("\n\nSuccessful corrections:\n");
        message.push_str(&corrected);
    }
    Some(ReleaseEvent {
        warning: true,
        reason: DRIFT_CORRECTION_FAILED,
        message,
    })
}

#[cfg(test)]
mod tests {
    use driftless_ssa::ObjMetadata;

    use super::detect::Entry;
    use super::*;

    fn entry(kind: &str, name: &str, drift: Drift) -> Entry {
        Entry {
            object: ObjMetadata {
                namespace: "team".into(),
                name: name.into(),
                group: String::new(),
                kind: kind.into(),
            },
            version: "v1".into(),
            drift,
        }
    }

    #[test]
    fn the_summary_has_a_line_per_object_as_flux_words_it() {
        let patch: json_patch::Patch = serde_json::from_value(serde_json::json!([
            {"op": "add", "path": "/a", "value": 1},
            {"op": "replace", "path": "/b", "value": 1},
            {"op": "replace", "path": "/c", "value": 1},
            {"op": "remove", "path": "/d"},
        ]))
        .expect("a patch");
        let report = Report {
            entries: vec![
                entry(
                    "Secret",
                    "naughty",
                    Drift::Removed {
                        desired: Box::new(kube::api::DynamicObject::new(
                            "naughty",
                            &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(
                                &(),
                            ),
                        )),
                    },
                ),
                entry("StatefulSet", "hello", Drift::Excluded),
                entry("Deployment", "touched", Drift::Changed { patch }),
            ],
            failures: Vec::new(),
        };
        assert_eq!(
            summary(&report),
            "Secret/team/naughty removed\nStatefulSet/team/hello excluded\nDeployment/team/touched changed (1 additions, 2 changes, 1 removals)"
        );
        assert_eq!(brief(&report), "removed: 1, changed: 1, excluded: 1");
        assert!(report.has_changes());
        let only_excluded = Report {
            entries: vec![entry("StatefulSet", "hello", Drift::Excluded)],
            failures: Vec::new(),
        };
        assert!(!only_excluded.has_changes());
    }

    #[test]
    fn correction_events_say_what_was_corrected_and_what_failed() {
        let full = "team/web.v1";
        let ok = correct::Outcome {
            corrected: vec!["Deployment/team/web configured".into()],
            errors: Vec::new(),
        };
        let event = corrected_event(full, &ok).expect("an event");
        assert_eq!(
            (event.warning, event.reason, event.message.as_str()),
            (
                false,
                DRIFT_CORRECTED,
                "Cluster state of release team/web.v1 has been corrected:\nDeployment/team/web configured"
            )
        );
        let partial = correct::Outcome {
            corrected: vec!["ConfigMap/team/a created".into()],
            errors: vec!["Deployment/team/web patch failure: boom".into()],
        };
        let event = corrected_event(full, &partial).expect("an event");
        assert_eq!(event.reason, DRIFT_CORRECTION_FAILED);
        assert_eq!(
            event.message,
            "Failed to partially correct cluster state of release team/web.v1:\nDeployment/team/web patch failure: boom\n\nSuccessful corrections:\nConfigMap/team/a created"
        );
        assert_eq!(corrected_event(full, &correct::Outcome::default()), None);
    }
}
