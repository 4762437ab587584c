//! The Kubernetes side of an event: a core/v1 Event, as Flux's default recorder writes it (the
//! core/v1 API keeps messages longer than the 1024-byte note limit events.k8s.io/v1 enforces).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Event, EventSource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};
use tokio::sync::mpsc;

use super::{EventType, Reporter, object_reference};

/// The core/v1 Event for an event about `obj`: named `<object>.<unix nanos in hex>` like
/// client-go's recorder, metadata as annotations, `source.component` and
/// `reportingComponent` the controller name.
pub fn core_event<K: Resource<DynamicType = ()>>(
    obj: &K,
    event_type: EventType,
    reason: &str,
    message: &str,
    metadata: BTreeMap<String, String>,
    reporter: &Reporter,
    now: Timestamp,
) -> Event {
    let namespace = obj
        .namespace()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_owned());
    let nanos = u128::try_from(now.as_nanosecond()).unwrap_or_default();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.{nanos:x}", obj.name_any())),
            namespace: Some(namespace),
            annotations: (!metadata.is_empty()).then_some(metadata),
            ..ObjectMeta::default()
        },
        involved_object: object_reference(obj),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        type_: Some(event_type.kubernetes_type().to_owned()),
        source: Some(EventSource {
            component: Some(reporter.controller.clone()),
            host: None,
        }),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        reporting_component: Some(reporter.controller.clone()),
        reporting_instance: Some(reporter.instance.clone()),
        action: None,
        event_time: None::<MicroTime>,
        related: None,
        series: None,
    }
}

/// Creates `event` in its namespace.
async fn create(client: &kube::Client, event: Event) -> Result<Event, kube::Error> {
    let namespace = event.metadata.namespace.clone().unwrap_or_default();
    let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
    api.create(&PostParams::default(), &event).await
}

/// Kubernetes Events waiting to be created, in order, by one background task: a reconcile
/// hands its events over and goes on, as Flux's recorder hands them to client-go's broadcaster
/// (whose queue likewise drops events when full rather than holding up the controller).
#[derive(Clone)]
pub(super) struct KubeEventQueue {
    tx: mpsc::Sender<Event>,
}

impl KubeEventQueue {
    /// Spawns the creating task; it ends when every handle is dropped and the queue is drained.
    pub(super) fn start(client: kube::Client, capacity: usize) -> Self {
        let (tx, mut rx) = mpsc::channel::<Event>(capacity);
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let reason = event.reason.clone().unwrap_or_default();
                if let Err(error) = create(&client, event).await {
                    tracing::warn!(%error, reason, "unable to record Kubernetes event");
                }
            }
        });
        Self { tx }
    }

    pub(super) fn send(&self, event: Event) {
        if let Err(error) = self.tx.try_send(event) {
            let why = match error {
                mpsc::error::TrySendError::Full(_) => "queue full",
                mpsc::error::TrySendError::Closed(_) => "sender stopped",
            };
            tracing::warn!(why, "dropping Kubernetes event");
        }
    }
}
