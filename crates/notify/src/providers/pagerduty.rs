//! `pagerduty`: Events API v2. A failure triggers an incident, any other event resolves the
//! incident keyed by the object's UID, and a success is also recorded as a change event. The
//! routing key is `channel`; only the address's scheme and host are used, as in Flux.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::{parse_address, required_channel};
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::Http;
use crate::settings::ProviderSettings;

pub(crate) struct PagerDuty {
    http: Http,
    enqueue: url::Url,
    change: url::Url,
    routing_key: String,
}

impl PagerDuty {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        let provider = &settings.provider_type;
        let address = if settings.address.is_empty() {
            "https://events.pagerduty.com"
        } else {
            settings.address.as_str()
        };
        let base = parse_address(provider, address)?;
        let endpoint = |path: &str| {
            let mut url = base.clone();
            url.set_path(path);
            url.set_query(None);
            url.set_fragment(None);
            url
        };
        let routing_key = required_channel(settings, "the routing key")?;
        Ok(Self {
            enqueue: endpoint("/v2/enqueue"),
            change: endpoint("/v2/change/enqueue"),
            http: Http::new(settings)?,
            routing_key,
        })
    }

    async fn deliver(&self, event: &Event) -> Result<(), NotifyError> {
        // Only outcomes matter to an incident: skip in-flight states.
        if event.is_commit_status_update() || event.is_progressing() {
            return Ok(());
        }
        self.http
            .post_json(
                &self.enqueue,
                &alert_event(event, &self.routing_key),
                HeaderMap::new(),
            )
            .await?;
        if event.severity == crate::event::SEVERITY_INFO {
            self.http
                .post_json(
                    &self.change,
                    &change_event(event, &self.routing_key),
                    HeaderMap::new(),
                )
                .await?;
        }
        Ok(())
    }
}

fn details(event: &Event) -> Value {
    json!({"message": event.message, "metadata": event.metadata})
}

fn alert_event(event: &Event, routing_key: &str) -> Value {
    let dedup_key = event.involved_object.uid.clone().unwrap_or_default();
    if !event.is_error() {
        // Resolve in case an incident is open for this object.
        return json!({"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key});
    }
    let (name, description) = event.name_and_description();
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": format!("{description}: {name}"),
            "source": format!("Flux {}", event.reporting_controller),
            "severity": "error",
            "timestamp": event.timestamp,
            "component": event.involved_object.name,
            "group": event.involved_object.kind,
            "custom_details": details(event),
        },
    })
}

fn change_event(event: &Event, routing_key: &str) -> Value {
    let (name, description) = event.name_and_description();
    json!({
        "routing_key": routing_key,
        "payload": {
            "summary": format!("{description}: {name}"),
            "source": format!("Flux {}", event.reporting_controller),
            "timestamp": event.timestamp,
            "custom_details": details(event),
        },
    })
}

notifier_by_deliver!(PagerDuty);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{TestServer, info_event, post_ok, sample_event};

    fn settings(server: &TestServer) -> ProviderSettings {
        let mut settings = ProviderSettings::new("pagerduty", &server.url("/ignored"));
        settings.channel = Some("routing-key".into());
        settings
    }

    #[tokio::test]
    async fn a_failure_triggers_an_incident_keyed_by_the_object_uid() {
        let server = TestServer::start().await;
        post_ok(settings(&server), &sample_event()).await;
        let request = server.single_request().await;
        assert_eq!(request.path, "/v2/enqueue");
        assert_eq!(
            request.json(),
            json!({
                "routing_key": "routing-key",
                "event_action": "trigger",
                "dedup_key": "cc4d0095-83f4-4f08-98f2-d2e9f3731fb9",
                "payload": {
                    "summary": "reconciliation failed: kustomization/apps",
                    "source": "Flux kustomize-controller",
                    "severity": "error",
                    "timestamp": "2026-11-26T09:00:00Z",
                    "component": "apps",
                    "group": "Kustomization",
                    "custom_details": {
                        "message": "Deployment/default/web dry-run failed",
                        "metadata": {"revision": "main@sha1:9f3b4c1a2d5e6f708192a3b4c5d6e7f8091a2b3c"}
                    }
                }
            })
        );
    }

    #[tokio::test]
    async fn a_success_resolves_the_incident_then_records_a_change() {
        let server = TestServer::start().await;
        post_ok(settings(&server), &info_event()).await;
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].path, "/v2/enqueue");
        assert_eq!(
            requests[0].json(),
            json!({"routing_key": "routing-key", "event_action": "resolve",
                   "dedup_key": "cc4d0095-83f4-4f08-98f2-d2e9f3731fb9"})
        );
        assert_eq!(requests[1].path, "/v2/change/enqueue");
        assert_eq!(
            requests[1].json()["payload"]["summary"],
            "reconciliation succeeded: kustomization/apps"
        );
    }
}
