//! `googlechat`: a Chat card (header, message paragraph, key-value widgets for the metadata)
//! posted to the space's incoming webhook.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::parse_address;
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::Http;
use crate::settings::ProviderSettings;

pub(crate) struct GoogleChat {
    http: Http,
    url: url::Url,
}

impl GoogleChat {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        Ok(Self {
            url: parse_address(&settings.provider_type, &settings.address)?,
            http: Http::new(settings)?,
        })
    }

    async fn deliver(&self, event: &Event) -> Result<(), NotifyError> {
        if event.is_commit_status_update() {
            return Ok(());
        }
        self.http
            .post_json(&self.url, &card(event), HeaderMap::new())
            .await?;
        Ok(())
    }
}

fn key_value(label: &str, content: &str) -> Value {
    json!({"textParagraph": null, "keyValue": {
        "topLabel": label, "content": content, "contentMultiline": false,
        "bottomLabel": null, "icon": null,
    }})
}

fn card(event: &Event) -> Value {
    let text = if event.is_error() {
        format!("<font color=\"#ff0000\">{}</font>", event.message)
    } else {
        event.message.clone()
    };
    let mut sections = vec![
        json!({"header": "", "widgets": [{"textParagraph": {"text": text}, "keyValue": null}]}),
    ];
    if !event.metadata.is_empty() {
        let widgets: Vec<Value> = event
            .metadata
            .iter()
            .map(|(k, v)| key_value(k, v))
            .collect();
        sections.push(json!({"header": "", "widgets": widgets}));
    }
    json!({"cards": [{
        "header": {
            "title": event.lower_object_title(),
            "subtitle": event.reporting_controller,
            "imageUrl": null,
            "imageStyle": null,
        },
        "sections": sections,
    }]})
}

notifier_by_deliver!(GoogleChat);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{TestServer, post_ok, sample_event};

    #[tokio::test]
    async fn google_chat_posts_a_card_with_header_message_and_metadata() {
        let server = TestServer::start().await;
        post_ok(
            ProviderSettings::new("googlechat", &server.url("/v1/spaces/S/messages")),
            &sample_event(),
        )
        .await;
        let request = server.single_request().await;
        assert_eq!(request.path, "/v1/spaces/S/messages");
        let card = &request.json()["cards"][0];
        assert_eq!(card["header"]["title"], "kustomization/apps.flux-system");
        assert_eq!(card["header"]["subtitle"], "kustomize-controller");
        assert_eq!(
            card["sections"][0]["widgets"][0]["textParagraph"]["text"],
            "<font color=\"#ff0000\">Deployment/default/web dry-run failed</font>"
        );
        let kv = &card["sections"][1]["widgets"];
        assert_eq!(kv[0]["keyValue"]["topLabel"], "revision");
        assert_eq!(kv.as_array().map(Vec::len), Some(1));
    }

    #[tokio::test]
    async fn google_chat_leaves_out_the_metadata_section_when_there_is_none() {
        let server = TestServer::start().await;
        let mut event = sample_event();
        event.metadata.clear();
        post_ok(
            ProviderSettings::new("googlechat", &server.url("/x")),
            &event,
        )
        .await;
        let body = server.single_request().await.json();
        assert_eq!(
            body["cards"][0]["sections"].as_array().map(Vec::len),
            Some(1)
        );
    }
}
