//! Running the hooks of one event, as Helm does: the hooks of the event ordered by weight, then
//! name (stable over the kind order they were rendered in); each one's previous object deleted
//! first under `before-hook-creation` (the policy a hook without policies gets), its start
//! recorded in the release, its object created and waited for; a failure stops the run after
//! deleting that hook under `hook-failed`; when all succeeded, those with `hook-succeeded` are
//! deleted in reverse order.

use std::time::Duration;

use super::cluster::Cluster;
use super::error::ReleaseError;
use super::record::{Release, now};
use super::storage::{SecretStore, Storage};

pub const BEFORE_HOOK_CREATION: &str = "before-hook-creation";
pub const HOOK_SUCCEEDED: &str = "hook-succeeded";
pub const HOOK_FAILED: &str = "hook-failed";

/// Hook events, spelled as in `helm.sh/hook`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookEvent {
    PreInstall,
    PostInstall,
    PreDelete,
    PostDelete,
    PreUpgrade,
    PostUpgrade,
    PreRollback,
    PostRollback,
    Test,
}

impl HookEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreInstall => "pre-install",
            HookEvent::PostInstall => "post-install",
            HookEvent::PreDelete => "pre-delete",
            HookEvent::PostDelete => "post-delete",
            HookEvent::PreUpgrade => "pre-upgrade",
            HookEvent::PostUpgrade => "post-upgrade",
            HookEvent::PreRollback => "pre-rollback",
            HookEvent::PostRollback => "post-rollback",
            HookEvent::Test => "test",
        }
    }

    fn matches(self, event: &str) -> bool {
        // `test-success` is Helm 2's name for `test`, still accepted.
        event == self.as_str() || (self == HookEvent::Test && event == "test-success")
    }
}

/// The indices of `release`'s hooks for `event`, in execution order.
pub fn execution_order(release: &Release, event: HookEvent) -> Vec<usize> {
    let mut order: Vec<usize> = release
        .hooks
        .iter()
        .enumerate()
        .filter(|(_, h)| h.events.iter().any(|e| event.matches(e)))
        .map(|(i, _)| i)
        .collect();
    order.sort_by(|&a, &b| {
        let (ha, hb) = (&release.hooks[a], &release.hooks[b]);
        (ha.weight, &ha.name).cmp(&(hb.weight, &hb.name))
    });
    order
}

/// Runs the hooks of `event` for `release`, recording each run in storage.
pub async fn run<S: SecretStore, C: Cluster>(
    storage: &Storage<S>,
    cluster: &C,
    release: &mut Release,
    event: HookEvent,
    timeout: Duration,
) -> Result<(), ReleaseError> {
    let order = execution_order(release, event);
    let namespace = release.namespace.clone();
    for &i in &order {
        if release.hooks[i].delete_policies.is_empty() {
            release.hooks[i].delete_policies = vec![BEFORE_HOOK_CREATION.to_string()];
        }
        delete_by_policy(
            cluster,
            &namespace,
            release,
            i,
            BEFORE_HOOK_CREATION,
            timeout,
        )
        .await?;
        {
            let hook = &mut release.hooks[i];
            hook.last_run.started_at = now();
            hook.last_run.phase = "Running".into();
        }
        storage.update(release).await?;
        release.hooks[i].last_run.phase = "Unknown".into();
        let manifest = release.hooks[i].manifest.clone();
        if let Err(e) = cluster.create_hook(&namespace, &manifest).await {
            let hook = &mut release.hooks[i];
            hook.last_run.completed_at = now();
            hook.last_run.phase = "Failed".into();
            return Err(ReleaseError::Cluster(format!(
                "warning: Hook {} {} failed: {e}",
                event.as_str(),
                hook.path
            )));
        }
        let waited = cluster.wait_hook(&namespace, &manifest, timeout).await;
        release.hooks[i].last_run.completed_at = now();
        if let Err(e) = waited {
            release.hooks[i].last_run.phase = "Failed".into();
            delete_by_policy(cluster, &namespace, release, i, HOOK_FAILED, timeout).await?;
            return Err(e);
        }
        release.hooks[i].last_run.phase = "Succeeded".into();
    }
    for &i in order.iter().rev() {
        delete_by_policy(cluster, &namespace, release, i, HOOK_SUCCEEDED, timeout).await?;
    }
    Ok(())
}

async fn delete_by_policy<C: Cluster>(
    cluster: &C,
    namespace: &str,
    release: &Release,
    i: usize,
    policy: &str,
    timeout: Duration,
) -> Result<(), ReleaseError> {
    let hook = &release.hooks[i];
    if hook.delete_policies.iter().any(|p| p == policy) {
        cluster
            .delete_hook(namespace, &hook.manifest, timeout)
            .await?;
    }
    Ok(())
}
