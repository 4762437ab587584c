//! Helm releases as Helm itself stores and runs them, so `helm list`, `helm history`,
//! `helm get` and `helm rollback` work on our releases and we adopt releases Helm made.
//!
//! [`record`] is the release JSON; [`codec`] puts it in a Secret; [`storage`] keeps the history
//! of a namespace over a [`storage::SecretStore`]. The actions [`install`], [`upgrade`],
//! [`rollback`] and [`uninstall`] (and [`test_release`]; [`unlock`] recovers a release a
//! crash left pending) take a [`Rendered`] chart, run its [`hooks`] and apply
//! through a [`Cluster`] ([`kube_cluster::KubeCluster`] on a real API server, with the ssa
//! crate under field manager `helm-controller`).

pub mod cached;
pub mod chart_record;
pub mod cluster;
pub mod codec;
mod error;
pub mod hooks;
pub mod install;
pub mod job_wait;
pub mod kube_cluster;
pub mod record;
pub mod rendered;
pub mod rollback;
pub mod storage;
pub mod test_action;
pub mod uninstall;
pub mod upgrade;
mod wait_rule;

#[cfg(test)]
mod action_tests;
#[cfg(test)]
mod fake;
#[cfg(test)]
mod golden_tests;

use std::time::Duration;

pub use cached::Cached;
pub use cluster::{Cluster, CrdPolicy, ObjectKey};
pub use error::ReleaseError;
pub use hooks::HookEvent;
pub use install::{Install, install};
pub use job_wait::{FirstCovering, JobsNotWaited};
pub use kube_cluster::{KubeCluster, WaitStrategy};
pub use record::{ChartRecord, Hook, Info, Release, Status};
pub use rendered::Rendered;
pub use rollback::{Rollback, rollback};
pub use storage::{KubeSecrets, MemoryStore, SecretStore, Storage};
pub use test_action::{TestFilters, test_release, test_release_filtered, unlock};
pub use uninstall::{Uninstall, Uninstalled, uninstall};
pub use upgrade::{Upgrade, upgrade};

/// Options every action shares.
#[derive(Debug, Clone)]
pub struct Common {
    /// Wait until the applied objects are ready (`--wait`).
    pub wait: bool,
    /// Bound on each wait and each hook (`--timeout`; Helm's default 5m).
    pub timeout: Duration,
    /// Run no hooks (`--no-hooks`).
    pub disable_hooks: bool,
    /// Description recorded on success instead of Helm's default.
    pub description: Option<String>,
    /// Recreate objects whose immutable fields changed (Flux's `upgrade.force`).
    pub force: bool,
    /// Delete the objects a failed upgrade created (`--cleanup-on-fail`).
    pub cleanup_on_fail: bool,
}

impl Default for Common {
    fn default() -> Self {
        Common {
            wait: false,
            timeout: Duration::from_secs(300),
            disable_hooks: false,
            description: None,
            force: false,
            cleanup_on_fail: false,
        }
    }
}

impl Common {
    fn success(&self, default: &str) -> String {
        self.description
            .clone()
            .unwrap_or_else(|| default.to_string())
    }
}

/// Helm's release name rule: a DNS-1123 subdomain of at most 53 characters.
pub fn validate_name(name: &str) -> Result<(), ReleaseError> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.is_empty() || name.len() > 53 || !name.split('.').all(label_ok) {
        return Err(ReleaseError::InvalidName(name.to_string()));
    }
    Ok(())
}

/// Runs the hooks of `event` unless `common` disables hooks.
async fn run_hooks<S: SecretStore, C: Cluster>(
    storage: &Storage<S>,
    cluster: &C,
    release: &mut Release,
    event: HookEvent,
    common: &Common,
) -> Result<(), ReleaseError> {
    if common.disable_hooks {
        return Ok(());
    }
    hooks::run(storage, cluster, release, event, common.timeout).await
}

/// Which step of [`transition`] failed, with the objects it had created by then.
enum Step {
    PreHooks(ReleaseError),
    Objects(ReleaseError, Vec<ObjectKey>),
    PostHooks(ReleaseError, Vec<ObjectKey>),
}

/// An upgrade's or rollback's work once its revision is recorded: the `pre` hooks; the
/// objects of `old` replaced by those of `release` (applied, the dropped ones deleted, then
/// with `common.wait` waited for); the `post` hooks.
async fn transition<S: SecretStore, C: Cluster>(
    storage: &Storage<S>,
    cluster: &C,
    release: &mut Release,
    old: &str,
    (pre, post): (HookEvent, HookEvent),
    common: &Common,
) -> Result<(), Step> {
    run_hooks(storage, cluster, release, pre, common)
        .await
        .map_err(Step::PreHooks)?;
    let ns = release.namespace.clone();
    let keys = cluster::objects(old, &ns).and_then(|old| {
        Ok(cluster::stale(
            &old,
            &cluster::objects(&release.manifest, &ns)?,
        ))
    });
    let gone = keys.map_err(|e| Step::Objects(e, Vec::new()))?;
    let created = cluster
        .apply(&release.name, &ns, &release.manifest, common.force)
        .await
        .map_err(|e| Step::Objects(e, Vec::new()))?;
    let rest = async {
        cluster.delete(&gone, None).await?;
        if common.wait {
            cluster
                .wait_ready(&ns, &release.manifest, common.timeout)
                .await?;
        }
        Ok(())
    };
    if let Err(e) = rest.await {
        return Err(Step::Objects(e, created));
    }
    run_hooks(storage, cluster, release, post, common)
        .await
        .map_err(|e| Step::PostHooks(e, created))
}

/// Records `release` as failed with `description`, then returns `error` (the storage error
/// instead, should the record fail).
async fn fail<S: SecretStore>(
    storage: &Storage<S>,
    release: &mut Release,
    description: String,
    error: String,
) -> ReleaseError {
    release.set_status(Status::Failed, description);
    match storage.update(release).await {
        Ok(()) => ReleaseError::Failed(error),
        Err(e) => ReleaseError::Failed(format!("{error}; recording the failure: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_follow_helms_rule() {
        for ok in ["web", "a-b.c", "x1"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Web", "-a", "a_b", &"a".repeat(54)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
