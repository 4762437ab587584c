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
use crate::cel::{CelError, Expression};
use crate::kinds::api_resource;
use crate::provider;

/// One event to send to one Provider on behalf of one Alert.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// `namespace/name` of the Alert.
    pub alert: String,
    /// The Alert itself (`commitStatusExpr` sees it).
    pub alert_object: Arc<Alert>,
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
                alert_object: Arc::clone(&alert),
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
        let mut settings = match settings {
            Ok(settings) => settings,
            Err(error) => {
                tracing::error!(alert = %delivery.alert, provider = %name, error = %error,
                    "failed to read the provider's configuration");
                return false;
            }
        };
        // Commit statuses are keyed by the Provider's UID (Flux's default status id).
        settings.provider_uid = provider.uid();
        let timeout = settings.timeout;
        let commit_status = match provider.spec.commit_status_expr.as_deref() {
            None => None,
            Some(expr) => match commit_status(expr, delivery) {
                Ok(key) => Some(key),
                Err(error) => {
                    tracing::error!(alert = %delivery.alert, provider = %name, %error,
                        "failed to evaluate the commit status expression");
                    return false;
                }
            },
        };
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
        let post = match &commit_status {
            Some(key) => notifier.post_with_commit_status(&delivery.event, key),
            None => notifier.post(&delivery.event),
        };
        match tokio::time::timeout(bound, post).await {
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

/// `spec.commitStatusExpr` evaluated over the delivery's `event`, `provider` and `alert`.
pub fn commit_status(expr: &str, delivery: &Delivery) -> Result<String, CelError> {
    let expression = Expression::compile(expr, &["event", "provider", "alert"])?;
    let json = |value: serde_json::Result<serde_json::Value>| value.unwrap_or_default();
    let event = json(serde_json::to_value(&delivery.event));
    let provider = json(serde_json::to_value(delivery.provider.as_ref()));
    let alert = json(serde_json::to_value(delivery.alert_object.as_ref()));
    expression.evaluate_string(&[
        ("event", &event),
        ("provider", &provider),
        ("alert", &alert),
    ])
}

#[cfg(test)]
mod tests {
    use driftless_api::meta::LocalObjectReference;
    use driftless_api::notification::{AlertSpec, ProviderSpec, ProviderType};
    use driftless_notify::ObjectRef;

    use super::*;

    #[test]
    fn the_commit_status_expression_sees_event_provider_and_alert() {
        let mut provider = Provider::new(
            "github",
            ProviderSpec {
                type_: ProviderType::GitHub,
                ..ProviderSpec::default()
            },
        );
        provider.metadata.uid = Some("0c9c2e41-aaaa-bbbb".into());
        let alert = Alert::new(
            "on-apps",
            AlertSpec {
                provider_ref: LocalObjectReference {
                    name: "github".into(),
                },
                ..AlertSpec::default()
            },
        );
        let event = Event {
            involved_object: ObjectRef {
                kind: "Kustomization".into(),
                name: "Apps".into(),
                ..ObjectRef::default()
            },
            metadata: [("foo".to_owned(), "bar".to_owned())].into(),
            ..Event::default()
        };
        let delivery = Delivery {
            alert: "ns/on-apps".into(),
            alert_object: Arc::new(alert),
            provider: Arc::new(provider),
            event,
        };
        let expr = "(event.involvedObject.kind + '/' + event.involvedObject.name + '/' + \
                    event.metadata.foo + '/' + provider.metadata.uid.split('-')[0] + '/' + \
                    alert.metadata.name).lowerAscii()";
        assert_eq!(
            commit_status(expr, &delivery),
            Ok("kustomization/apps/bar/0c9c2e41/on-apps".to_owned())
        );
        assert!(commit_status("event.involvedObject.kind == 'x'", &delivery).is_err());
        assert!(commit_status("secret.token", &delivery).is_err());
    }
}
