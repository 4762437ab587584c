//! Events as Flux's recorder (fluxcd/pkg/runtime/events) emits them: every event becomes a
//! Kubernetes core/v1 Event (reason, type, message, revision annotations); events that are not
//! trace-level are also POSTed as JSON in Flux's `event/v1beta1` format to `--events-addr`
//! (notification-controller) through a bounded queue, so a slow or absent receiver never blocks
//! or slows a reconcile: when the queue is full the event is dropped and counted.

mod kube_event;
mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use kube::{Resource, ResourceExt};
use serde::Serialize;

pub use kube_event::core_event;
pub use webhook::{QUEUE_CAPACITY, WebhookError, WebhookQueue};

/// Kubernetes event type; `Trace` is Flux's type for events kept out of notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Something went as expected.
    Normal,
    /// Something failed.
    Warning,
    /// Recorded as a Normal Kubernetes Event only, never sent to notification-controller.
    Trace,
}

impl EventType {
    /// The Kubernetes Event `type` (trace events are Normal).
    pub fn kubernetes_type(self) -> &'static str {
        match self {
            EventType::Warning => "Warning",
            EventType::Normal | EventType::Trace => "Normal",
        }
    }

    /// Flux's severity: Warning is `error`, Normal is `info`, Trace is `trace`.
    pub fn severity(self) -> &'static str {
        match self {
            EventType::Warning => "error",
            EventType::Normal => "info",
            EventType::Trace => "trace",
        }
    }
}

/// The body POSTed to `--events-addr` (fluxcd/pkg/apis/event/v1beta1 `Event`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FluxEvent {
    /// The object the event is about.
    pub involved_object: ObjectReference,
    /// `info`, `error` or `trace`.
    pub severity: String,
    /// RFC 3339, second precision (metav1.Time).
    pub timestamp: String,
    /// Human-readable description.
    pub message: String,
    /// Machine-readable reason, a Flux condition reason.
    pub reason: String,
    /// Revision, digest, token… keyed `<api group>/<key>`, plus the object's
    /// `event.toolkit.fluxcd.io/` annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The controller name, e.g. `source-controller`.
    pub reporting_controller: String,
    /// The pod's hostname.
    pub reporting_instance: String,
}

/// A reference to `obj` as Kubernetes events and Flux events carry it.
pub fn object_reference<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: obj.meta().name.clone(),
        namespace: obj.meta().namespace.clone(),
        uid: obj.meta().uid.clone(),
        resource_version: obj.meta().resource_version.clone(),
        field_path: None,
    }
}

/// The metadata key Flux uses for a controller value: prefixed with the object's API group,
/// e.g. `source.toolkit.fluxcd.io/revision`.
pub fn metadata_key<K: Resource<DynamicType = ()>>(key: &str) -> String {
    format!("{}/{key}", K::group(&()))
}

/// `controller_metadata` with group-prefixed keys, merged with the object's annotations that start
/// with `event.toolkit.fluxcd.io/` (which the receiver forwards to alerts).
pub fn event_metadata<K: Resource<DynamicType = ()>>(
    obj: &K,
    controller_metadata: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let mut metadata: BTreeMap<String, String> = obj
        .annotations()
        .iter()
        .filter(|(k, _)| k.starts_with(driftless_api::annotations::EVENT_METADATA_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, value) in controller_metadata {
        metadata.insert(metadata_key::<K>(key), (*value).to_owned());
    }
    metadata
}

/// Builds the webhook body for an event.
pub fn flux_event<K: Resource<DynamicType = ()>>(
    obj: &K,
    event_type: EventType,
    reason: &str,
    message: &str,
    metadata: BTreeMap<String, String>,
    reporter: &Reporter,
    now: Timestamp,
) -> FluxEvent {
    FluxEvent {
        involved_object: object_reference(obj),
        severity: event_type.severity().to_owned(),
        timestamp: now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        message: message.to_owned(),
        reason: reason.to_owned(),
        metadata,
        reporting_controller: reporter.controller.clone(),
        reporting_instance: reporter.instance.clone(),
    }
}

/// Who reports events: the controller name and the pod's hostname.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reporter {
    /// `reportingController`, e.g. `source-controller`.
    pub controller: String,
    /// `reportingInstance`, the pod's hostname.
    pub instance: String,
}

/// Records events for one controller: always a Kubernetes Event, and a webhook POST when
/// `--events-addr` is set and the event is not a trace.
#[derive(Clone)]
pub struct Recorder {
    kube_events: kube_event::KubeEventQueue,
    reporter: Arc<Reporter>,
    webhook: Option<WebhookQueue>,
}

impl Recorder {
    /// A recorder for `controller` (e.g. `source-controller`); starts the webhook sender when
    /// `events_addr` is not empty. Must be called inside the Tokio runtime.
    pub fn new(
        client: kube::Client,
        controller: &str,
        events_addr: &str,
    ) -> Result<Self, WebhookError> {
        let webhook = if events_addr.trim().is_empty() {
            None
        } else {
            Some(WebhookQueue::start(events_addr, QUEUE_CAPACITY)?)
        };
        Ok(Self {
            kube_events: kube_event::KubeEventQueue::start(client, QUEUE_CAPACITY),
            reporter: Arc::new(Reporter {
                controller: controller.to_owned(),
                instance: hostname(),
            }),
            webhook,
        })
    }

    /// The webhook queue, when `--events-addr` is set.
    pub fn webhook(&self) -> Option<&WebhookQueue> {
        self.webhook.as_ref()
    }

    /// Records an event about `obj`. `controller_metadata` keys are short (`revision`,
    /// `digest`, `commit_status`); they get the object's API group as prefix. Failures are
    /// logged, never returned: an event must not fail a reconcile.
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        event_type: EventType,
        reason: &str,
        message: &str,
        controller_metadata: &[(&str, &str)],
    ) {
        let metadata = event_metadata(obj, controller_metadata);
        let now = Timestamp::now();
        if let Some(webhook) = &self.webhook
            && event_type != EventType::Trace
        {
            webhook.send(flux_event(
                obj,
                event_type,
                reason,
                message,
                metadata.clone(),
                &self.reporter,
                now,
            ));
        }
        let event = core_event(
            obj,
            event_type,
            reason,
            message,
            metadata,
            &self.reporter,
            now,
        );
        self.kube_events.send(event);
    }
}

/// The pod's hostname (the instance Flux reports), empty when unknown.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
