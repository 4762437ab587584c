//! `helm test` and the recovery of a release left pending.
//!
//! A test runs the `test` hooks of the last revision (same order, delete policies and
//! records as any hook) and stores their runs; the release status does not change. A release
//! whose last revision is `pending-*` while no operation runs (the process died mid-operation)
//! is unlocked as Flux's helm-controller does: that revision is marked failed, so the next
//! upgrade or rollback proceeds instead of reporting "another operation is in progress".

use std::time::Duration;

use super::cluster::Cluster;
use super::error::ReleaseError;
use super::hooks::{self, HookEvent};
use super::record::{Release, Status};
use super::storage::{SecretStore, Storage};

/// Runs the test hooks of release `name`; returns the release with their runs recorded.
pub async fn test_release<S: SecretStore, C: Cluster>(
    storage: &Storage<S>,
    cluster: &C,
    name: &str,
    timeout: Duration,
) -> Result<Release, ReleaseError> {
    super::validate_name(name)?;
    let Some(mut rel) = storage.last(name).await? else {
        return Err(ReleaseError::NotFound);
    };
    let ran = hooks::run(storage, cluster, &mut rel, HookEvent::Test, timeout).await;
    storage.update(&rel).await?;
    ran.map(|()| rel)
}

/// Which hooks `helm test --filter` runs, by hook name: `name=` includes, `!name=` excludes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestFilters {
    /// Run only these (when any).
    pub include: Vec<String>,
    /// Never run these.
    pub exclude: Vec<String>,
}

impl TestFilters {
    /// Whether no filter is set.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

/// [`test_release`] running only the hooks `filters` select, as `helm test --filter` does:
/// excluded names are set aside first, then, when includes are given, every hook not named
/// there; the skipped hooks stay in the release record (first, as Helm stores them) with
/// their earlier runs.
pub async fn test_release_filtered<S: SecretStore, C: Cluster>(
    storage: &Storage<S>,
    cluster: &C,
    name: &str,
    timeout: Duration,
    filters: &TestFilters,
) -> Result<Release, ReleaseError> {
    if filters.is_empty() {
        return test_release(storage, cluster, name, timeout).await;
    }
    super::validate_name(name)?;
    let Some(mut rel) = storage.last(name).await? else {
        return Err(ReleaseError::NotFound);
    };
    let (mut skipped, mut executing): (Vec<_>, Vec<_>) = std::mem::take(&mut rel.hooks)
        .into_iter()
        .partition(|h| filters.exclude.contains(&h.name));
    if !filters.include.is_empty() {
        let (run, skip): (Vec<_>, Vec<_>) = executing
            .into_iter()
            .partition(|h| filters.include.contains(&h.name));
        skipped.extend(skip);
        executing = run;
    }
    rel.hooks = executing;
    let ran = hooks::run(storage, cluster, &mut rel, HookEvent::Test, timeout).await;
    let executed = std::mem::take(&mut rel.hooks);
    rel.hooks = skipped;
    rel.hooks.extend(executed);
    storage.update(&rel).await?;
    ran.map(|()| rel)
}

/// Marks a pending last revision of `name` failed; returns it when it did.
pub async fn unlock<S: SecretStore>(
    storage: &Storage<S>,
    name: &str,
) -> Result<Option<Release>, ReleaseError> {
    let Some(mut rel) = storage.last(name).await? else {
        return Ok(None);
    };
    let status = rel.status();
    if !status.is_pending() {
        return Ok(None);
    }
    rel.set_status(
        Status::Failed,
        format!("Release unlocked from stale '{status}' state"),
    );
    storage.update(&rel).await?;
    Ok(Some(rel))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::fake::FakeCluster;
    use crate::release::record::Hook;
    use crate::release::storage::MemoryStore;

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    fn job(name: &str, events: &[&str]) -> Hook {
        Hook {
            name: name.into(),
            kind: "Job".into(),
            manifest: format!("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n"),
            events: events.iter().map(|e| e.to_string()).collect(),
            ..Hook::default()
        }
    }

    fn stored(status: Status) -> Release {
        let mut r = Release {
            name: "app".into(),
            namespace: "ns".into(),
            version: 2,
            hooks: vec![
                job("t", &["test"]),
                job("old", &["test-success"]),
                job("p", &["post-install"]),
            ],
            ..Release::default()
        };
        r.set_status(status, "Upgrade complete");
        r
    }

    async fn store(r: Release) -> Storage<MemoryStore> {
        let storage = Storage::new(MemoryStore::default());
        storage.create(&r).await.expect("stored");
        storage
    }

    #[test]
    fn a_test_runs_only_test_hooks_and_records_their_runs_without_changing_the_status() {
        block(async {
            let storage = store(stored(Status::Deployed)).await;
            let cluster = FakeCluster::default();
            let rel = test_release(&storage, &cluster, "app", Duration::from_secs(1))
                .await
                .expect("tests pass");
            assert_eq!(
                cluster.log(),
                vec![
                    "delete-hook old",
                    "create-hook old",
                    "delete-hook t",
                    "create-hook t"
                ]
            );
            let back = storage.last("app").await.expect("last").expect("stored");
            assert_eq!(back, rel);
            assert_eq!(back.status(), Status::Deployed);
            assert_eq!(back.hooks[0].last_run.phase, "Succeeded");
            assert_eq!(back.hooks[2].last_run.phase, "");
        });
    }

    #[test]
    fn a_failing_test_is_recorded_and_reported() {
        block(async {
            let storage = store(stored(Status::Deployed)).await;
            let cluster = FakeCluster {
                failing_hooks: vec!["t".into()],
                ..FakeCluster::default()
            };
            let err = test_release(&storage, &cluster, "app", Duration::from_secs(1))
                .await
                .expect_err("fails");
            assert_eq!(err.to_string(), "job t failed: BackoffLimitExceeded");
            let back = storage.last("app").await.expect("last").expect("stored");
            assert_eq!(back.hooks[0].last_run.phase, "Failed");
        });
    }

    #[test]
    fn a_release_left_pending_is_unlocked_as_failed_and_a_settled_one_is_left_alone() {
        block(async {
            let storage = store(stored(Status::PendingUpgrade)).await;
            let unlocked = unlock(&storage, "app")
                .await
                .expect("unlocks")
                .expect("was pending");
            let info = unlocked.info.clone().unwrap_or_default();
            assert_eq!(info.status, Status::Failed);
            assert_eq!(
                info.description,
                "Release unlocked from stale 'pending-upgrade' state"
            );
            assert!(unlock(&storage, "app").await.expect("no-op").is_none());
            assert!(unlock(&storage, "none").await.expect("no-op").is_none());
        });
    }
}
