//! What a test uses: the shared control plane and a namespace of its own.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::controlplane::{ControlPlane, ControlPlaneError};

/// How long a CRD may take to become Established and served.
const CRD_READY: Duration = Duration::from_secs(90);

/// Label every test namespace carries, so leftovers can be found and swept.
pub const TEST_NAMESPACE_LABEL: &str = "testkit.driftless.dev/test";

/// The shared control plane as a test sees it.
#[derive(Clone)]
pub struct TestCluster {
    pub plane: ControlPlane,
    pub client: kube::Client,
}

/// The shared control plane, started if it is not running yet. Every test
/// binary and every test calls this; the first one starts the plane (under a
/// file lock), the others find it running.
pub async fn cluster() -> Result<TestCluster, ControlPlaneError> {
    let plane = ControlPlane::from_env();
    plane.up().await?;
    // A client per call: each #[tokio::test] has its own runtime, and a
    // client's connection pool must not outlive the runtime it was made on.
    let client = plane.client().await?;
    Ok(TestCluster { plane, client })
}

impl TestCluster {
    /// A client that acts as `user` (and `groups`) through impersonation, to
    /// test what a less privileged identity may do under RBAC.
    pub async fn impersonating(
        &self,
        user: &str,
        groups: &[&str],
    ) -> Result<kube::Client, ControlPlaneError> {
        let mut config = self.plane.config().await?;
        config.auth_info.impersonate = Some(user.to_string());
        config.auth_info.impersonate_groups = Some(groups.iter().map(|g| g.to_string()).collect());
        kube::Client::try_from(config).map_err(|source| ControlPlaneError::Kube {
            step: "building an impersonating client",
            source,
        })
    }
}

/// Server-side applies `crd` (forced, so shared CRDs converge whichever
/// test applied them first; never deleted) and waits until it is
/// Established and its resource is served (discovery can lag Established).
pub async fn install_crd(
    client: &kube::Client,
    crd: &CustomResourceDefinition,
    field_manager: &str,
) -> anyhow::Result<()> {
    let name = crd.metadata.name.clone().unwrap_or_default();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        &name,
        &PatchParams::apply(field_manager).force(),
        &Patch::Apply(crd),
    )
    .await?;
    crate::wait::until(CRD_READY, &format!("CRD {name} Established"), || {
        let crds = crds.clone();
        let name = name.clone();
        async move {
            let crd = crds.get(&name).await.map_err(|e| e.to_string())?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            Ok(established.then_some(()))
        }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    let version = crd
        .spec
        .versions
        .iter()
        .find(|v| v.served)
        .map(|v| v.name.clone())
        .unwrap_or_default();
    let path = format!(
        "/apis/{}/{version}/{}?limit=1",
        crd.spec.group, crd.spec.names.plural
    );
    crate::wait::until(CRD_READY, &format!("{path} served"), || {
        let client = client.clone();
        let path = path.clone();
        async move {
            let request = http::Request::get(&path)
                .body(Vec::new())
                .map_err(|e| e.to_string())?;
            client
                .request_text(request)
                .await
                .map(|_| Some(()))
                .map_err(|e| e.to_string())
        }
    })
    .await
    .map_err(anyhow::Error::msg)
}

/// A namespace for one test, deleted when dropped.
pub struct TestNamespace {
    name: String,
    plane: ControlPlane,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    format!(
        "{}-{:x}{:x}{n}",
        prefix.trim_matches('-'),
        std::process::id(),
        nanos % 0xfffff
    )
}

impl TestNamespace {
    /// Creates `<prefix>-<unique>` and waits for its `default` ServiceAccount,
    /// which pods need before the API server admits them.
    pub async fn create(cluster: &TestCluster, prefix: &str) -> Result<Self, kube::Error> {
        let name = unique_name(prefix);
        let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
        let ns: Namespace = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {TEST_NAMESPACE_LABEL: "true"}}
        }))
        .map_err(kube::Error::SerdeError)?;
        namespaces.create(&PostParams::default(), &ns).await?;
        let this = Self {
            name,
            plane: cluster.plane.clone(),
        };
        let accounts: Api<ServiceAccount> = Api::namespaced(cluster.client.clone(), &this.name);
        for _ in 0..100 {
            if accounts.get_opt("default").await?.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(this)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be shutting down: delete
        // from a short-lived thread with a runtime of its own, and wait for the
        // requests (not for finalization) so the process does not exit first.
        // The namespace's Flux objects are released too: their controller has
        // usually been stopped already (see `finalizers`).
        let name = self.name.clone();
        let plane = self.plane.clone();
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(client) = plane.client().await {
                    let namespaces: Api<Namespace> = Api::all(client.clone());
                    let _ = namespaces.delete(&name, &DeleteParams::background()).await;
                    crate::finalizers::release_flux_objects(&client, &name).await;
                }
            });
        });
        let _ = handle.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_are_unique_and_valid_dns_labels() {
        let a = unique_name("My_Test: SSA");
        let b = unique_name("My_Test: SSA");
        assert_ne!(a, b);
        for name in [a, b] {
            assert!(name.len() <= 63, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
            assert!(!name.starts_with('-') && !name.ends_with('-'), "{name}");
        }
    }
}
