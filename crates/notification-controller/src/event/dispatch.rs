//! From a matched event to deliveries: every Alert (from the watch cache) is judged against the
//! event, labelled wildcard sources are checked against the live object's labels (read once per
//! event), the Alert's Provider (same namespace, from the cache) is looked up, and each delivery
//! is sent on its own task with the Provider's timeout, as Flux dispatches asynchronously per
//! provider. A failed send is logged with the Alert and Provider names (the notifier's errors
//! never carry addresses or tokens) and counted.

use std::collections::BTreeMap;
use std::sync::Arc;

use driftless_api::notification::{Alert, Provider};
use driftless_notify::Event;
use driftless_runtime::events::{EventType, Recorder};
use kube::ResourceExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::reflector::{ObjectRef, Store};

use super::matching::{Verdict, judge, labels_match};
use super::metadata::{Ingested, for_alert};
use crate::kinds::api_resource;
use crate::provider;

/// One event to send to one Provider on behalf of one Alert.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// `namespace/name` of the Alert.
    pub alert: String,
    /// The Provider.
    pub provider: Arc<Provider>,
    /// The event with the Alert's metadata merged in.
    pub event: Event,
}

/// Counts deliveries by outcome.
pub trait DeliveryCounter: Send + Sync {
    /// One delivery ended; `ok` false when it failed.
    fn record(&self, ok: bool);
}

/// Routes events to Providers.
pub struct Dispatcher {
    /// The client to read objects and Secrets with.
    pub client: kube::Client,
    /// Every Alert the controller watches.
    pub alerts: Store<Alert>,
    /// Every Provider the controller watches.
    pub providers: Store<Provider>,
    /// `--no-cross-namespace-refs`.
    pub no_cross_namespace_refs: bool,
    /// Where delivery outcomes are counted.
    pub counter: Arc<dyn DeliveryCounter>,
    /// Records Kubernetes events on Alerts (metadata conflicts).
    pub recorder: Option<Recorder>,
}

/// Flux's reason when an Alert's metadata collides with another source's.
pub const METADATA_APPEND_FAILED: &str = "MetadataAppendFailed";

impl Dispatcher {
    /// The deliveries `ingested` calls for.
    pub async fn route(&self, ingested: &Ingested) -> Vec<Delivery> {
        let event = &ingested.event;
        let mut labels: Option<BTreeMap<String, String>> = None;
        let mut deliveries = Vec::new();
        for alert in self.alerts.state() {
            let key = format!(
                "{}/{}",
                alert.namespace().unwrap_or_default(),
                alert.name_any()
            );
            let sets = match judge(&alert, event, self.no_cross_namespace_refs) {
                Ok(Verdict::No) => continue,
                Ok(Verdict::Yes) => None,
                Ok(Verdict::IfLabels(sets)) => Some(sets),
                Err(error) => {
                    tracing::error!(alert = %key, %error, "invalid regular expression in alert");
                    continue;
                }
            };
            if let Some(sets) = sets {
                if labels.is_none() {
                    labels = Some(self.object_labels(event).await);
                }
                if !labels.as_ref().is_some_and(|l| labels_match(&sets, l)) {
                    continue;
                }
            }
            let namespace = alert.namespace().unwrap_or_default();
            let reference =
                ObjectRef::<Provider>::new(&alert.spec.provider_ref.name).within(&namespace);
            let Some(provider) = self.providers.get(&reference) else {
                tracing::error!(alert = %key, provider = %alert.spec.provider_ref.name,
                    "failed to get provider: not found");
                continue;
            };
            if provider.spec.suspend.unwrap_or(false) {
                tracing::debug!(alert = %key, "provider is suspended");
                continue;
            }
            let (metadata, conflicts) = for_alert(
                ingested,
                alert.spec.event_metadata.as_ref(),
                alert.spec.summary.as_deref(),
            );
            if !conflicts.is_empty() {
                let message = format!(
                    "metadata keys overridden by a higher-precedence source: {}",
                    conflicts.join(", ")
                );
                tracing::warn!(alert = %key, "{message}");
                if let Some(recorder) = &self.recorder {
                    recorder
                        .event(
                            alert.as_ref(),
                            EventType::Warning,
                            METADATA_APPEND_FAILED,
                            &message,
                            &[],
                        )
                        .await;
                }
            }
            let mut event = event.clone();
            event.metadata = metadata;
            deliveries.push(Delivery {
                alert: key,
                provider,
                event,
            });
        }
        deliveries
    }

    /// The live object's labels; none when it cannot be read (then label sources do not match).
    async fn object_labels(&self, event: &Event) -> BTreeMap<String, String> {
        let object = &event.involved_object;
        let Some(api_version) = object.api_version.as_deref() else {
            return BTreeMap::new();
        };
        let resource = api_resource(&object.kind, api_version);
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &object.namespace, &resource);
        match api.get(&object.name).await {
            Ok(found) => found.labels().clone(),
            Err(error) => {
                tracing::error!(kind = %object.kind, name = %object.name,
                    namespace = %object.namespace, %error, "failed to read the event's object");
                BTreeMap::new()
            }
        }
    }

    /// Sends `delivery` on its own task.
    pub fn spawn(self: &Arc<Self>, delivery: Delivery) -> tokio::task::JoinHandle<bool> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let ok = this.send(&delivery).await;
            this.counter.record(ok);
            ok
        })
    }

    async fn send(&self, delivery: &Delivery) -> bool {
        let provider = &delivery.provider;
        let name = format!(
            "{}/{}",
            provider.namespace().unwrap_or_default(),
            provider.name_any()
        );
        let settings = match provider::read_secrets(&self.client, provider).await {
            Ok(secrets) => provider::settings(provider, &secrets),
            Err(error) => Err(error),
        };
        let settings = match settings {
            Ok(settings) => settings,
            Err(error) => {
                tracing::error!(alert = %delivery.alert, provider = %name, error = %error,
                    "failed to read the provider's configuration");
                return false;
            }
        };
        let timeout = settings.timeout;
        let notifier = match driftless_notify::notifier(settings) {
            Ok(notifier) => notifier,
            Err(error) => {
                tracing::error!(alert = %delivery.alert, provider = %name, %error,
                    "failed to initialize the notifier");
                return false;
            }
        };
        // The notifier bounds each request; this bounds the whole delivery (retries included).
        let bound = timeout.saturating_add(std::time::Duration::from_secs(1));
        match tokio::time::timeout(bound, notifier.post(&delivery.event)).await {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                tracing::error!(alert = %delivery.alert, provider = %name, %error,
                    "failed to send notification");
                false
            }
            Err(_) => {
                tracing::error!(alert = %delivery.alert, provider = %name,
                    timeout = ?timeout, "failed to send notification: timed out");
                false
            }
        }
    }
}
