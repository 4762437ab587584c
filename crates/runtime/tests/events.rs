//! Events against the real local control plane and a loopback events receiver: one call records
//! a core/v1 Event and POSTs Flux's event JSON to `--events-addr`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use driftless_runtime::events::{EventType, Recorder};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

type Received = Arc<Mutex<Vec<(Option<String>, Value)>>>;

async fn receive(State(received): State<Received>, headers: HeaderMap, body: String) -> StatusCode {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let value = serde_json::from_str(&body).unwrap_or(Value::Null);
    received.lock().expect("lock").push((content_type, value));
    StatusCode::ACCEPTED
}

#[tokio::test]
async fn an_event_becomes_a_kubernetes_event_and_a_flux_webhook_post() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    common::install_gitrepository_crd(&cluster.client).await?;
    let ns = testkit::TestNamespace::create(&cluster, "runtime-events").await?;
    let obj = common::create_gitrepository(
        &cluster.client,
        ns.name(),
        "podinfo",
        json!({"event.toolkit.fluxcd.io/env": "staging"}),
    )
    .await?;

    let received: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/", post(receive))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let recorder = Recorder::new(
        cluster.client.clone(),
        "source-controller",
        &format!("http://{addr}/"),
    )?;
    // The trace goes first: the webhook delivers in order, so had it been sent it would arrive
    // before the NewArtifact POST the test waits for.
    recorder
        .event(
            &obj,
            EventType::Trace,
            "ArtifactUpToDate",
            "artifact up-to-date",
            &[],
        )
        .await;
    recorder
        .event(
            &obj,
            EventType::Normal,
            "NewArtifact",
            "stored artifact for commit 'Initial commit'",
            &[("revision", "main@sha1:0123abcd")],
        )
        .await;

    let events: Api<Event> = Api::namespaced(cluster.client.clone(), ns.name());
    let listed = testkit::wait::until(Duration::from_secs(30), "two Kubernetes events", || {
        let events = events.clone();
        async move {
            let list = events
                .list(&ListParams::default().fields("involvedObject.name=podinfo"))
                .await
                .map_err(|e| e.to_string())?;
            Ok((list.items.len() == 2).then_some(list.items))
        }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    let new_artifact = listed
        .iter()
        .find(|e| e.reason.as_deref() == Some("NewArtifact"))
        .expect("NewArtifact event");
    assert_eq!(new_artifact.type_.as_deref(), Some("Normal"));
    assert_eq!(
        new_artifact.involved_object.kind.as_deref(),
        Some("GitRepository")
    );
    assert_eq!(
        new_artifact.reporting_component.as_deref(),
        Some("source-controller")
    );
    let annotations = new_artifact
        .metadata
        .annotations
        .clone()
        .unwrap_or_default();
    assert_eq!(
        annotations
            .get("source.toolkit.fluxcd.io/revision")
            .map(String::as_str),
        Some("main@sha1:0123abcd")
    );
    let trace = listed
        .iter()
        .find(|e| e.reason.as_deref() == Some("ArtifactUpToDate"))
        .expect("trace event recorded in Kubernetes");
    assert_eq!(trace.type_.as_deref(), Some("Normal"));

    let posts = testkit::wait::until(Duration::from_secs(30), "the webhook POST", || {
        let received = received.clone();
        async move {
            let got = received.lock().map_err(|e| e.to_string())?.clone();
            Ok((!got.is_empty()).then_some(got))
        }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    assert_eq!(
        posts.len(),
        1,
        "trace events are not sent to notification-controller"
    );
    let (content_type, body) = &posts[0];
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(body["reason"], "NewArtifact");
    assert_eq!(body["severity"], "info");
    assert_eq!(body["reportingController"], "source-controller");
    assert_eq!(body["involvedObject"]["kind"], "GitRepository");
    assert_eq!(body["involvedObject"]["name"], "podinfo");
    assert_eq!(body["involvedObject"]["namespace"], ns.name());
    assert_eq!(
        body["metadata"]["source.toolkit.fluxcd.io/revision"],
        "main@sha1:0123abcd"
    );
    assert_eq!(body["metadata"]["event.toolkit.fluxcd.io/env"], "staging");
    assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    Ok(())
}
