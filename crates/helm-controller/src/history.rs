//! `status.history`: one snapshot per Helm revision the controller made or saw, newest first,
//! as Flux records them (chart name and version, app version, values digest, release digest,
//! deploy times, Helm status, test hooks, OCI digest), kept back to and including the last
//! successful release and otherwise capped at [`MAX_SNAPSHOTS`].

use std::collections::BTreeMap;

use driftless_api::helm::{Snapshot, TestHookStatus};
use driftless_helm::release::{Release, Status};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::values;

/// The snapshot format version Flux writes.
pub const SNAPSHOT_API_VERSION: &str = "v2";

/// Snapshots kept when no successful release bounds the history sooner.
pub const MAX_SNAPSHOTS: usize = 5;

/// A snapshot of `release`, made by `action` (`install`, `upgrade`, `rollback`, …).
pub fn snapshot(release: &Release, action: &str, oci_digest: Option<&str>) -> Snapshot {
    let metadata = release.chart.as_ref().and_then(|c| c.metadata.as_ref());
    let info = release.info.clone().unwrap_or_default();
    let config = release.config.clone().unwrap_or_default();
    Snapshot {
        action: Some(action.to_owned()),
        api_version: Some(SNAPSHOT_API_VERSION.to_owned()),
        app_version: metadata
            .map(|m| m.app_version.clone())
            .filter(|v| !v.is_empty()),
        chart_name: metadata.map(|m| m.name.clone()).unwrap_or_default(),
        chart_version: metadata.map(|m| m.version.clone()).unwrap_or_default(),
        config_digest: values::digest(&config),
        deleted: time(&info.deleted),
        digest: digest(release, oci_digest),
        first_deployed: time(&info.first_deployed).unwrap_or_else(epoch),
        last_deployed: time(&info.last_deployed).unwrap_or_else(epoch),
        name: release.name.clone(),
        namespace: release.namespace.clone(),
        oci_digest: oci_digest.map(str::to_owned),
        status: info.status.as_str().to_owned(),
        test_hooks: test_hooks(release),
        version: i64::from(release.version),
    }
}

/// The digest of what defines a release revision: name, version, info, chart metadata,
/// config, manifest, hooks, namespace and the OCI digest, JSON-encoded.
pub fn digest(release: &Release, oci_digest: Option<&str>) -> String {
    let object = json!({
        "name": release.name,
        "version": release.version,
        "info": release.info,
        "chartMetadata": release.chart.as_ref().and_then(|c| c.metadata.as_ref()),
        "config": release.config,
        "manifest": release.manifest,
        "hooks": release.hooks,
        "namespace": release.namespace,
        "ociDigest": oci_digest,
    });
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(object.to_string().as_bytes()))
    )
}

/// The test hooks of a release and how their last run went.
fn test_hooks(release: &Release) -> Option<BTreeMap<String, TestHookStatus>> {
    let hooks: BTreeMap<String, TestHookStatus> = release
        .hooks
        .iter()
        .filter(|h| h.events.iter().any(|e| e == "test" || e == "test-success"))
        .map(|h| {
            (
                h.name.clone(),
                TestHookStatus {
                    last_started: time(&h.last_run.started_at),
                    last_completed: time(&h.last_run.completed_at),
                    phase: Some(h.last_run.phase.clone()).filter(|p| !p.is_empty()),
                },
            )
        })
        .collect();
    (!hooks.is_empty()).then_some(hooks)
}

/// Puts `latest` first, replacing an older snapshot of the same revision, and truncates the
/// history after the newest successful release older than `latest`.
pub fn record(history: &mut Vec<Snapshot>, latest: Snapshot) {
    history.retain(|s| {
        !(s.name == latest.name && s.namespace == latest.namespace && s.version == latest.version)
    });
    history.insert(0, latest);
    let successful = |s: &Snapshot| {
        s.status == Status::Deployed.as_str() || s.status == Status::Superseded.as_str()
    };
    if let Some(last_good) = history.iter().skip(1).position(successful) {
        history.truncate(last_good + 2);
    }
    history.truncate(MAX_SNAPSHOTS);
}

/// Updates the status of stored revisions the history already holds (an upgrade supersedes
/// the previous one, a rollback marks the failed one superseded).
pub fn refresh(history: &mut [Snapshot], stored: &[Release]) {
    for snapshot in history.iter_mut() {
        if let Some(release) = stored
            .iter()
            .find(|r| r.name == snapshot.name && i64::from(r.version) == snapshot.version)
        {
            snapshot.status = release.status().as_str().to_owned();
        }
    }
}

fn time(text: &str) -> Option<Time> {
    text.parse::<jiff::Timestamp>().ok().map(Time)
}

fn epoch() -> Time {
    Time(jiff::Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use driftless_helm::release::record::{HookExecution, MetadataRecord};
    use driftless_helm::release::{ChartRecord, Hook, Info};

    use super::*;

    fn release(version: u32, status: Status) -> Release {
        let mut r = Release {
            name: "web".into(),
            namespace: "team".into(),
            version,
            info: Some(Info {
                first_deployed: "2026-01-01T00:00:00Z".into(),
                last_deployed: "2026-01-02T00:00:00.5Z".into(),
                ..Info::default()
            }),
            chart: Some(ChartRecord {
                metadata: Some(MetadataRecord {
                    name: "podinfo".into(),
                    version: "6.0.0".into(),
                    app_version: "1.2.3".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            hooks: vec![Hook {
                name: "web-test".into(),
                events: vec!["test".into()],
                last_run: HookExecution {
                    phase: "Succeeded".into(),
                    ..Default::default()
                },
                ..Hook::default()
            }],
            ..Release::default()
        };
        r.set_status(status, "x");
        r
    }

    #[test]
    fn a_snapshot_carries_the_chart_values_digest_and_test_hooks_of_the_revision() {
        let s = snapshot(&release(2, Status::Deployed), "upgrade", Some("sha256:ab"));
        assert_eq!(
            (s.chart_name.as_str(), s.chart_version.as_str()),
            ("podinfo", "6.0.0")
        );
        assert_eq!(s.app_version.as_deref(), Some("1.2.3"));
        assert_eq!(s.status, "deployed");
        assert_eq!(s.version, 2);
        assert_eq!(s.config_digest, values::digest(&Default::default()));
        assert!(s.digest.starts_with("sha256:"));
        assert_eq!(s.first_deployed.0.to_string(), "2026-01-01T00:00:00Z");
        let hooks = s.test_hooks.expect("test hooks");
        assert_eq!(hooks["web-test"].phase.as_deref(), Some("Succeeded"));
        assert_ne!(
            digest(&release(2, Status::Deployed), None),
            digest(&release(2, Status::Deployed), Some("sha256:ab"))
        );
    }

    #[test]
    fn the_history_is_newest_first_and_ends_at_the_previous_successful_release() {
        let mut history = Vec::new();
        record(
            &mut history,
            snapshot(&release(1, Status::Superseded), "install", None),
        );
        record(
            &mut history,
            snapshot(&release(2, Status::Superseded), "upgrade", None),
        );
        record(
            &mut history,
            snapshot(&release(3, Status::Failed), "upgrade", None),
        );
        let versions: Vec<i64> = history.iter().map(|s| s.version).collect();
        assert_eq!(versions, vec![3, 2]);
        record(
            &mut history,
            snapshot(&release(3, Status::Deployed), "upgrade", None),
        );
        let versions: Vec<i64> = history.iter().map(|s| s.version).collect();
        assert_eq!(versions, vec![3, 2]);
        let mut failing = Vec::new();
        for v in 1..=7 {
            record(
                &mut failing,
                snapshot(&release(v, Status::Failed), "upgrade", None),
            );
        }
        assert_eq!(failing.len(), MAX_SNAPSHOTS);
        assert_eq!(failing[0].version, 7);
    }
}
