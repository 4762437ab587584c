//! Alert and Provider are static in v1beta3: no status, nothing to reconcile. Older Flux versions
//! put the `finalizers.fluxcd.io` finalizer on them; as Flux's notification-controller does, it is
//! removed so such objects can be deleted.

use driftless_api::annotations::FINALIZER;
use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

/// Strips the legacy finalizer from every `K` the watch sees, until the stream ends.
pub async fn strip_finalizers<K>(api: Api<K>, config: watcher::Config)
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    K: Clone + std::fmt::Debug + DeserializeOwned + Serialize + Send + Sync + 'static,
{
    // The watch may span all namespaces; a patch must name the object's own.
    let client = api.clone().into_client();
    let stream = watcher(api.clone(), config)
        .default_backoff()
        .applied_objects();
    futures::pin_mut!(stream);
    while let Some(item) = stream.next().await {
        let Ok(obj) = item else { continue };
        if !obj.finalizers().iter().any(|f| f == FINALIZER) {
            continue;
        }
        let remaining: Vec<&String> = obj
            .finalizers()
            .iter()
            .filter(|f| *f != FINALIZER)
            .collect();
        // The resourceVersion makes this a compare-and-swap: a concurrent finalizer change wins
        // and the next watch event retries.
        let patch = json!({"metadata": {
            "finalizers": remaining,
            "resourceVersion": obj.resource_version(),
        }});
        let params = PatchParams {
            field_manager: Some(crate::CONTROLLER_NAME.to_owned()),
            ..PatchParams::default()
        };
        let namespaced: Api<K> =
            Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
        if let Err(error) = namespaced
            .patch(&obj.name_any(), &params, &Patch::Merge(&patch))
            .await
        {
            tracing::warn!(kind = %K::kind(&()), name = %obj.name_any(),
                namespace = ?obj.namespace(), %error, "removing the legacy finalizer failed");
        }
    }
}
