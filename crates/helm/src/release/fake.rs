//! A [`Cluster`] that records what the actions ask of it, for unit tests: a log of calls
//! (`apply`, `create-hook <name>`, `delete-hook <name>`, `delete <names>`…) and failures on
//! demand.

use std::sync::Mutex;
use std::time::Duration;

use super::cluster::{Cluster, CrdPolicy, ObjectKey, objects};
use super::error::ReleaseError;

#[derive(Default)]
pub struct FakeCluster {
    pub log: Mutex<Vec<String>>,
    /// Hook names whose wait fails.
    pub failing_hooks: Vec<String>,
    /// Make `apply` fail with this message.
    pub apply_error: Option<String>,
    /// Make `wait_ready` fail with this message.
    pub wait_error: Option<String>,
}

impl FakeCluster {
    fn push(&self, entry: String) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(entry);
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn clear(&self) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

fn names(manifest: &str) -> String {
    objects(manifest, "")
        .unwrap_or_default()
        .iter()
        .map(|o| o.name.clone())
        .collect::<Vec<_>>()
        .join(",")
}

impl Cluster for FakeCluster {
    async fn install_crds(
        &self,
        crds: &[(String, String)],
        policy: CrdPolicy,
    ) -> Result<(), ReleaseError> {
        self.push(format!("crds {policy:?} {}", crds.len()));
        Ok(())
    }

    async fn check_ownership(
        &self,
        _: &str,
        _: &str,
        objects: &[ObjectKey],
    ) -> Result<(), ReleaseError> {
        match objects.iter().find(|o| o.name.starts_with("foreign")) {
            Some(o) => Err(ReleaseError::Cluster(format!("{} exists", o.describe()))),
            None => Ok(()),
        }
    }

    /// Objects named `new-…` count as created.
    async fn apply(
        &self,
        _: &str,
        _: &str,
        manifest: &str,
        _: bool,
    ) -> Result<Vec<ObjectKey>, ReleaseError> {
        self.push(format!("apply {}", names(manifest)));
        match &self.apply_error {
            Some(e) => Err(ReleaseError::Cluster(e.clone())),
            None => Ok(objects(manifest, "")?
                .into_iter()
                .filter(|o| o.name.starts_with("new-"))
                .collect()),
        }
    }

    async fn wait_ready(&self, _: &str, manifest: &str, _: Duration) -> Result<(), ReleaseError> {
        self.push(format!("wait {}", names(manifest)));
        match &self.wait_error {
            Some(e) => Err(ReleaseError::Cluster(e.clone())),
            None => Ok(()),
        }
    }

    async fn delete(&self, objects: &[ObjectKey], _: Option<Duration>) -> Result<(), ReleaseError> {
        if !objects.is_empty() {
            let names: Vec<&str> = objects.iter().map(|o| o.name.as_str()).collect();
            self.push(format!("delete {}", names.join(",")));
        }
        Ok(())
    }

    async fn create_hook(&self, _: &str, manifest: &str) -> Result<(), ReleaseError> {
        self.push(format!("create-hook {}", names(manifest)));
        Ok(())
    }

    async fn wait_hook(&self, _: &str, manifest: &str, _: Duration) -> Result<(), ReleaseError> {
        let name = names(manifest);
        if self.failing_hooks.contains(&name) {
            return Err(ReleaseError::Cluster(format!(
                "job {name} failed: BackoffLimitExceeded"
            )));
        }
        Ok(())
    }

    async fn delete_hook(&self, _: &str, manifest: &str, _: Duration) -> Result<(), ReleaseError> {
        self.push(format!("delete-hook {}", names(manifest)));
        Ok(())
    }
}
