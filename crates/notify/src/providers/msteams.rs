//! `msteams`: an Adaptive Card (schema 1.4, the highest Teams renders) for Workflows / Power
//! Automate webhooks; the legacy MessageCard for the retired `*.webhook.office.com` connectors,
//! chosen by host exactly as Flux chooses.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::parse_address;
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::Http;
use crate::settings::ProviderSettings;

/// The metadata key Flux lists first on the card.
const SUMMARY_KEY: &str = "summary";

pub(crate) struct MsTeams {
    http: Http,
    url: url::Url,
    legacy_connector: bool,
}

impl MsTeams {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        let url = parse_address(&settings.provider_type, &settings.address)?;
        let legacy_connector = url
            .host_str()
            .is_some_and(|h| h.ends_with(".webhook.office.com"));
        Ok(Self {
            http: Http::new(settings)?,
            url,
            legacy_connector,
        })
    }

    async fn deliver(&self, event: &Event) -> Result<(), NotifyError> {
        if event.is_commit_status_update() {
            return Ok(());
        }
        let payload = if self.legacy_connector {
            message_card(event)
        } else {
            adaptive_card(event)
        };
        self.http
            .post_json(&self.url, &payload, HeaderMap::new())
            .await?;
        Ok(())
    }
}

/// The Office 365 connector card.
fn message_card(event: &Event) -> Value {
    let title = event.lower_object_title();
    let facts: Vec<Value> = event
        .metadata
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    json!({
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": if event.is_error() { "FF0000" } else { "0076D7" },
        "summary": title,
        "sections": [{
            "activityTitle": event.message,
            "activitySubtitle": title,
            "facts": facts,
        }],
    })
}

/// The Adaptive Card: title, message (red on error), then the facts with `summary` first.
fn adaptive_card(event: &Event) -> Value {
    let mut message = json!({"type": "TextBlock", "text": event.message, "wrap": true});
    if event.is_error() {
        message["color"] = json!("attention");
    }
    let summary = event
        .metadata
        .get(SUMMARY_KEY)
        .map(|v| json!({"title": SUMMARY_KEY, "value": v}));
    // BTreeMap iteration is already sorted by key, as Flux sorts the rest.
    let facts: Vec<Value> = summary
        .into_iter()
        .chain(
            event
                .metadata
                .iter()
                .filter(|(k, _)| k.as_str() != SUMMARY_KEY)
                .map(|(k, v)| json!({"title": k, "value": v})),
        )
        .collect();
    let mut items = vec![
        json!({
            "type": "TextBlock",
            "text": event.lower_object_title(),
            "size": "large",
            "weight": "bolder",
            "wrap": true,
        }),
        message,
    ];
    let mut fact_set = json!({"type": "FactSet"});
    if !facts.is_empty() {
        fact_set["facts"] = Value::Array(facts);
    }
    items.push(fact_set);
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [{"type": "Container", "items": items}],
                "msteams": {"width": "Full"},
            },
        }],
    })
}

notifier_by_deliver!(MsTeams);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{TestServer, post_ok, sample_event};

    #[tokio::test]
    async fn a_workflows_webhook_gets_an_adaptive_card_with_summary_first() {
        let server = TestServer::start().await;
        let mut event = sample_event();
        event
            .metadata
            .insert("summary".into(), "prod cluster".into());
        event.metadata.insert("app".into(), "web".into());
        post_ok(
            ProviderSettings::new("msteams", &server.url("/workflows/x/triggers/manual")),
            &event,
        )
        .await;
        let request = server.single_request().await;
        assert_eq!(request.path, "/workflows/x/triggers/manual");
        let body = request.json();
        assert_eq!(body["type"], "message");
        let attachment = &body["attachments"][0];
        assert_eq!(
            attachment["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let content = &attachment["content"];
        assert_eq!(content["type"], "AdaptiveCard");
        assert_eq!(content["version"], "1.4");
        assert_eq!(content["msteams"]["width"], "Full");
        let items = &content["body"][0]["items"];
        assert_eq!(content["body"][0]["type"], "Container");
        assert_eq!(items[0]["text"], "kustomization/apps.flux-system");
        assert_eq!(items[0]["weight"], "bolder");
        assert_eq!(items[1]["text"], "Deployment/default/web dry-run failed");
        assert_eq!(items[1]["color"], "attention");
        let titles: Vec<&str> = items[2]["facts"]
            .as_array()
            .expect("facts")
            .iter()
            .map(|f| f["title"].as_str().expect("title"))
            .collect();
        assert_eq!(titles, ["summary", "app", "revision"]);
    }

    #[test]
    fn a_legacy_office_connector_host_gets_a_message_card() {
        let event = sample_event();
        let card = message_card(&event);
        assert_eq!(card["@type"], "MessageCard");
        assert_eq!(card["themeColor"], "FF0000");
        assert_eq!(
            card["sections"][0]["activitySubtitle"],
            "kustomization/apps.flux-system"
        );
        assert_eq!(card["sections"][0]["facts"][0]["name"], "revision");
        let teams = MsTeams::new(&ProviderSettings::new(
            "msteams",
            "https://acme.webhook.office.com/webhookb2/x",
        ))
        .expect("notifier");
        assert!(teams.legacy_connector);
    }
}
