//! Incident and observability tools: `opsgenie` (Alert API), `alertmanager` (v2 alerts),
//! `grafana` (annotations) and `datadog` (Events API). Each is one POST built from the event.

use serde_json::{Value, json};

use super::{parse_address, required_token};
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::{Http, headers};
use crate::settings::ProviderSettings;

/// Which tool to speak to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tool {
    Opsgenie,
    Alertmanager,
    Grafana,
    DataDog,
}

pub(crate) struct Alerting {
    http: Http,
    url: url::Url,
    tool: Tool,
    /// The credential header, if the tool takes one.
    credential: Option<(&'static str, String)>,
}

impl Alerting {
    pub(crate) fn new(settings: &ProviderSettings, tool: Tool) -> Result<Self, NotifyError> {
        let mut url = parse_address(&settings.provider_type, &settings.address)?;
        let token = settings.token.as_deref().filter(|t| !t.is_empty());
        let basic = match (&settings.username, &settings.password) {
            (Some(user), Some(password)) if !user.is_empty() && !password.is_empty() => {
                Some(basic_auth(user, password))
            }
            _ => None,
        };
        let credential = match tool {
            Tool::Opsgenie => Some((
                "Authorization",
                format!("GenieKey {}", required_token(settings)?),
            )),
            Tool::DataDog => {
                let key = required_token(settings)?.to_owned();
                // The Events API lives at the site's root whatever path the address carries.
                url.set_path("/api/v1/events");
                url.set_query(None);
                Some(("DD-API-KEY", key))
            }
            // Alertmanager applies Basic after Bearer (Basic wins); Grafana prefers the token.
            Tool::Alertmanager => basic
                .or(token.map(|t| format!("Bearer {t}")))
                .map(|v| ("Authorization", v)),
            Tool::Grafana => token
                .map(|t| format!("Bearer {t}"))
                .or(basic)
                .map(|v| ("Authorization", v)),
        };
        Ok(Self {
            http: Http::new(settings)?,
            url,
            tool,
            credential,
        })
    }

    async fn deliver(&self, event: &Event) -> Result<(), NotifyError> {
        if self.tool != Tool::Opsgenie
            && self.tool != Tool::DataDog
            && event.is_commit_status_update()
        {
            return Ok(());
        }
        let payload = match self.tool {
            Tool::Opsgenie => opsgenie(event),
            Tool::Alertmanager => alertmanager(event),
            Tool::Grafana => grafana(event),
            Tool::DataDog => datadog(event),
        };
        let headers = headers(
            self.http.provider(),
            self.credential.iter().map(|(k, v)| (*k, v.as_str())),
        )?;
        self.http.post_json(&self.url, &payload, headers).await?;
        Ok(())
    }
}

/// `Basic base64(user:password)`.
pub(crate) fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine;
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn opsgenie(event: &Event) -> Value {
    let mut details = event.metadata.clone();
    details.insert("severity".into(), event.severity.clone());
    let o = &event.involved_object;
    json!({
        "message": format!("{}/{}", o.kind, o.name),
        "description": event.message,
        "details": details,
    })
}

fn alertmanager(event: &Event) -> Value {
    let mut labels = event.metadata.clone();
    let mut annotations = serde_json::Map::new();
    annotations.insert("message".into(), json!(event.message));
    if let Some(summary) = labels.remove("summary") {
        annotations.insert("summary".into(), json!(summary));
    }
    let o = &event.involved_object;
    for (k, v) in [
        (
            "alertname",
            format!("Flux{}{}", o.kind, title_case(&event.reason)),
        ),
        ("severity", event.severity.clone()),
        ("reason", event.reason.clone()),
        ("kind", o.kind.clone()),
        ("name", o.name.clone()),
        ("namespace", o.namespace.clone()),
        ("reportingcontroller", event.reporting_controller.clone()),
    ] {
        labels.insert(k.into(), v);
    }
    // No `endsAt`: the event says nothing of the object's interval, so Alertmanager's
    // resolve_timeout decides, as with Flux.
    json!([{
        "status": "firing",
        "labels": labels,
        "annotations": annotations,
        "startsAt": event.timestamp,
    }])
}

/// Title case as Go's `cases.Title`: each word's first letter upper, the rest lower
/// (`ReconciliationFailed` gives `Reconciliationfailed`).
fn title_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word_start = true;
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' {
            if word_start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            word_start = false;
        } else {
            out.push(c);
            word_start = true;
        }
    }
    out
}

fn grafana(event: &Event) -> Value {
    let mut tags = vec!["flux".to_owned(), event.reporting_controller.clone()];
    // Grafana splits a tag at `: `, so colons inside keys and values become `|`.
    tags.extend(
        event
            .metadata
            .iter()
            .map(|(k, v)| format!("{}: {}", k.replace(':', "|"), v.replace(':', "|"))),
    );
    let o = &event.involved_object;
    tags.extend([
        format!("kind: {}", o.kind),
        format!("name: {}", o.name),
        format!("namespace: {}", o.namespace),
    ]);
    json!({
        "when": event.unix_seconds().unwrap_or_default(),
        "text": event.lower_object_title(),
        "tags": tags,
    })
}

fn datadog(event: &Event) -> Value {
    let o = &event.involved_object;
    let mut tags = vec![
        format!("flux_reporting_controller:{}", event.reporting_controller),
        format!("flux_reason:{}", event.reason),
        format!("kube_kind:{}", o.kind),
        format!("kube_name:{}", o.name),
        format!("kube_namespace:{}", o.namespace),
    ];
    tags.extend(event.metadata.iter().map(|(k, v)| format!("{k}:{v}")));
    // DataDog lower-cases tags itself; Flux does it first so events stay consistent.
    let tags: Vec<String> = tags.into_iter().map(|t| t.to_lowercase()).collect();
    json!({
        "title": format!("Events from the {} {}/{}", o.kind, o.name, o.namespace),
        "text": event.message,
        "tags": tags,
        "source_type_name": "fluxcd",
        "date_happened": event.unix_seconds().unwrap_or_default(),
        "alert_type": if event.is_error() { "error" } else { "info" },
    })
}

notifier_by_deliver!(Alerting);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::notifier;
    use crate::providers::testserver::{TestServer, post_ok, sample_event};

    async fn post(settings: ProviderSettings) -> crate::providers::testserver::Recorded {
        let server = TestServer::start().await;
        let settings = ProviderSettings {
            address: server.url(&settings.address),
            ..settings
        };
        post_ok(settings, &sample_event()).await;
        server.single_request().await
    }

    #[tokio::test]
    async fn opsgenie_creates_an_alert_with_the_genie_key() {
        let mut settings = ProviderSettings::new("opsgenie", "/v2/alerts");
        settings.token = Some("genie-secret".into());
        let request = post(settings).await;
        assert_eq!(request.path, "/v2/alerts");
        assert_eq!(
            request.header("authorization"),
            Some("GenieKey genie-secret")
        );
        assert_eq!(
            request.json(),
            json!({
                "message": "Kustomization/apps",
                "description": "Deployment/default/web dry-run failed",
                "details": {
                    "revision": "main@sha1:9f3b4c1a2d5e6f708192a3b4c5d6e7f8091a2b3c",
                    "severity": "error"
                }
            })
        );
    }

    #[tokio::test]
    async fn alertmanager_posts_one_firing_alert_with_flux_labels() {
        let request = post(ProviderSettings::new("alertmanager", "/api/v2/alerts")).await;
        assert_eq!(request.path, "/api/v2/alerts");
        assert_eq!(request.header("authorization"), None);
        let alert = &request.json()[0];
        assert_eq!(alert["status"], "firing");
        assert_eq!(
            alert["labels"]["alertname"],
            "FluxKustomizationReconciliationfailed"
        );
        assert_eq!(alert["startsAt"], "2026-11-26T09:00:00Z");
        assert_eq!(alert["labels"].get("timestamp"), None);
        assert_eq!(alert["labels"]["severity"], "error");
        assert_eq!(alert["labels"]["kind"], "Kustomization");
        assert_eq!(alert["labels"]["namespace"], "flux-system");
        assert_eq!(
            alert["labels"]["reportingcontroller"],
            "kustomize-controller"
        );
        assert_eq!(
            alert["labels"]["revision"],
            "main@sha1:9f3b4c1a2d5e6f708192a3b4c5d6e7f8091a2b3c"
        );
        assert_eq!(
            alert["annotations"],
            json!({"message": "Deployment/default/web dry-run failed"})
        );
    }

    #[tokio::test]
    async fn grafana_annotates_with_flux_tags_and_basic_auth() {
        let mut settings = ProviderSettings::new("grafana", "/api/annotations");
        settings.username = Some("admin".into());
        settings.password = Some("pw".into());
        let request = post(settings).await;
        assert_eq!(request.header("authorization"), Some("Basic YWRtaW46cHc="));
        assert_eq!(
            request.json(),
            json!({
                "when": 1_795_683_600,
                "text": "kustomization/apps.flux-system",
                "tags": ["flux", "kustomize-controller",
                         "revision: main@sha1|9f3b4c1a2d5e6f708192a3b4c5d6e7f8091a2b3c",
                         "kind: Kustomization", "name: apps", "namespace: flux-system"]
            })
        );
    }

    #[tokio::test]
    async fn alertmanager_sends_basic_auth_over_a_token_when_both_are_set() {
        let mut settings = ProviderSettings::new("alertmanager", "/api/v2/alerts");
        settings.token = Some("am-token".into());
        settings.username = Some("admin".into());
        settings.password = Some("pw".into());
        assert_eq!(
            post(settings).await.header("authorization"),
            Some("Basic YWRtaW46cHc=")
        );
    }

    #[test]
    fn title_case_lowers_the_rest_of_each_word_like_go_cases_title() {
        assert_eq!(title_case("ReconciliationFailed"), "Reconciliationfailed");
        assert_eq!(title_case("health check-failed"), "Health Check-Failed");
        assert_eq!(title_case(""), "");
    }

    #[tokio::test]
    async fn grafana_prefers_the_token_as_bearer() {
        let mut settings = ProviderSettings::new("grafana", "/api/annotations");
        settings.token = Some("glsa".into());
        settings.username = Some("admin".into());
        settings.password = Some("pw".into());
        assert_eq!(
            post(settings).await.header("authorization"),
            Some("Bearer glsa")
        );
    }

    #[tokio::test]
    async fn datadog_creates_an_event_at_the_events_api_with_the_api_key() {
        let mut settings = ProviderSettings::new("datadog", "/ignored/path");
        settings.token = Some("dd-secret".into());
        let request = post(settings).await;
        assert_eq!(request.path, "/api/v1/events");
        assert_eq!(request.header("dd-api-key"), Some("dd-secret"));
        assert_eq!(
            request.json(),
            json!({
                "title": "Events from the Kustomization apps/flux-system",
                "text": "Deployment/default/web dry-run failed",
                "tags": [
                    "flux_reporting_controller:kustomize-controller",
                    "flux_reason:reconciliationfailed",
                    "kube_kind:kustomization",
                    "kube_name:apps",
                    "kube_namespace:flux-system",
                    "revision:main@sha1:9f3b4c1a2d5e6f708192a3b4c5d6e7f8091a2b3c"
                ],
                "source_type_name": "fluxcd",
                "date_happened": 1_795_683_600,
                "alert_type": "error"
            })
        );
    }

    #[test]
    fn opsgenie_and_datadog_need_a_token() {
        for kind in ["opsgenie", "datadog"] {
            let err = notifier(ProviderSettings::new(kind, "https://example.com/"))
                .err()
                .expect("error");
            assert_eq!(err.to_string(), format!("{kind}: token is required"));
        }
    }
}
