//! Unit tests of the event shapes.

use std::collections::BTreeMap;

use driftless_api::source::GitRepository;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::*;

fn repo() -> GitRepository {
    serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {
            "name": "podinfo", "namespace": "flux-system", "uid": "1234", "resourceVersion": "42",
            "annotations": {
                "event.toolkit.fluxcd.io/env": "prod",
                "unrelated.example.com/x": "no"
            }
        },
        "spec": {"url": "https://github.com/stefanprodan/podinfo", "interval": "1m0s"}
    }))
    .expect("valid GitRepository")
}

fn reporter() -> Reporter {
    Reporter {
        controller: "source-controller".into(),
        instance: "source-controller-7c7b47f5f-8bhrp".into(),
    }
}

#[test]
fn metadata_keys_get_the_api_group_and_event_annotations_are_forwarded() {
    let metadata = event_metadata(
        &repo(),
        &[("revision", "main@sha1:abc"), ("digest", "sha256:d")],
    );
    let expected: BTreeMap<String, String> = [
        ("event.toolkit.fluxcd.io/env", "prod"),
        ("source.toolkit.fluxcd.io/digest", "sha256:d"),
        ("source.toolkit.fluxcd.io/revision", "main@sha1:abc"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(metadata, expected);
}

#[test]
fn the_webhook_body_has_fluxs_field_names_and_severity() {
    let now = Timestamp::from_second(1_767_323_045).expect("in range");
    let metadata = event_metadata(&repo(), &[("revision", "main@sha1:abc")]);
    let event = flux_event(
        &repo(),
        EventType::Normal,
        "NewArtifact",
        "stored artifact for commit 'Merge pull request'",
        metadata,
        &reporter(),
        now,
    );
    let body = serde_json::to_value(&event).expect("serialises");
    assert_eq!(
        body,
        json!({
            "involvedObject": {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "name": "podinfo",
                "namespace": "flux-system",
                "uid": "1234",
                "resourceVersion": "42"
            },
            "severity": "info",
            "timestamp": "2026-01-02T03:04:05Z",
            "message": "stored artifact for commit 'Merge pull request'",
            "reason": "NewArtifact",
            "metadata": {
                "event.toolkit.fluxcd.io/env": "prod",
                "source.toolkit.fluxcd.io/revision": "main@sha1:abc"
            },
            "reportingController": "source-controller",
            "reportingInstance": "source-controller-7c7b47f5f-8bhrp"
        })
    );
}

#[test]
fn warnings_are_errors_and_traces_stay_normal_kubernetes_events() {
    assert_eq!(EventType::Warning.severity(), "error");
    assert_eq!(EventType::Warning.kubernetes_type(), "Warning");
    assert_eq!(EventType::Normal.severity(), "info");
    assert_eq!(EventType::Trace.severity(), "trace");
    assert_eq!(EventType::Trace.kubernetes_type(), "Normal");
}

#[test]
fn the_kubernetes_event_is_named_after_the_object_and_carries_the_metadata_as_annotations() {
    let now = Timestamp::from_second(1_767_323_045).expect("in range");
    let metadata = event_metadata(&repo(), &[("revision", "main@sha1:abc")]);
    let event = core_event(
        &repo(),
        EventType::Warning,
        "GitOperationFailed",
        "failed to checkout",
        metadata,
        &reporter(),
        now,
    );
    assert_eq!(
        event.metadata.name.as_deref(),
        Some(format!("podinfo.{:x}", 1_767_323_045_000_000_000u128).as_str())
    );
    assert_eq!(event.metadata.namespace.as_deref(), Some("flux-system"));
    assert_eq!(
        event
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("source.toolkit.fluxcd.io/revision"))
            .map(String::as_str),
        Some("main@sha1:abc")
    );
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(event.reason.as_deref(), Some("GitOperationFailed"));
    assert_eq!(
        event.reporting_component.as_deref(),
        Some("source-controller")
    );
    assert_eq!(
        event.source.and_then(|s| s.component).as_deref(),
        Some("source-controller")
    );
    assert_eq!(event.involved_object.kind.as_deref(), Some("GitRepository"));
    assert_eq!(event.count, Some(1));
}

#[tokio::test]
async fn an_unreachable_receiver_never_blocks_the_sender_and_overflow_is_counted() {
    // Port 9 (discard) on loopback: nothing listens, every POST fails and is retried.
    let queue = WebhookQueue::start("http://127.0.0.1:9/", 2).expect("valid URL");
    let event = flux_event(
        &repo(),
        EventType::Normal,
        "NewArtifact",
        "m",
        BTreeMap::new(),
        &reporter(),
        Timestamp::now(),
    );
    for _ in 0..50 {
        queue.send(event.clone());
    }
    assert!(queue.dropped() >= 47, "dropped {}", queue.dropped());
}

#[tokio::test]
async fn a_malformed_events_address_is_refused() {
    assert!(WebhookQueue::start("not a url", 8).is_err());
    assert!(WebhookQueue::start("ftp://example.invalid/", 8).is_err());
}
