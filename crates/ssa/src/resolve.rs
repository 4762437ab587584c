//! Resolving a GVK to the API resource that serves it, through discovery, with a cache: Flux's
//! ResourceManager does the same through controller-runtime's lazy RESTMapper. A kind that is not
//! served is not cached, so a CRD applied in an earlier stage becomes resolvable. Clones share
//! the cache, so a controller resolves each kind once per [`CACHE_TTL`], not once per reconcile;
//! the TTL bounds how long a CRD that changed its scope or went away is remembered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use kube::Client;
use kube::api::GroupVersionKind;
use kube::discovery::{self, ApiResource, Scope};

use crate::error::{SsaError, api_message};

/// An API resource and whether its objects live in namespaces.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub resource: ApiResource,
    pub namespaced: bool,
}

type Key = (String, String, String);

/// How long a resolved kind is trusted.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Resolver {
    client: Client,
    cache: Arc<Mutex<HashMap<Key, (Resolved, Instant)>>>,
}

fn key(gvk: &GroupVersionKind) -> Key {
    (gvk.group.clone(), gvk.version.clone(), gvk.kind.clone())
}

impl Resolver {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            cache: Arc::default(),
        }
    }

    fn cached(&self, gvk: &GroupVersionKind) -> Option<Resolved> {
        // A poisoned lock only means another task panicked mid-insert of a complete value.
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(&key(gvk))
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(resolved, _)| resolved.clone())
    }

    /// The resource serving `gvk`, from the cache or one discovery call for its group version.
    pub async fn resolve(&self, gvk: &GroupVersionKind) -> Result<Resolved, SsaError> {
        if let Some(found) = self.cached(gvk) {
            return Ok(found);
        }
        let (resource, capabilities) =
            discovery::pinned_kind(&self.client, gvk)
                .await
                .map_err(|e| SsaError::Discovery {
                    gvk: gvk.clone(),
                    message: api_message(&e),
                })?;
        let resolved = Resolved {
            resource,
            namespaced: capabilities.scope == Scope::Namespaced,
        };
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(key(gvk), (resolved.clone(), Instant::now()));
        Ok(resolved)
    }

    /// Like [`Resolver::resolve`], retrying while discovery catches up with a CRD that just became
    /// Established (the aggregated discovery document lags the condition briefly).
    pub async fn resolve_eventually(
        &self,
        gvk: &GroupVersionKind,
        timeout: Duration,
    ) -> Result<Resolved, SsaError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.resolve(gvk).await {
                Ok(found) => return Ok(found),
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
}
