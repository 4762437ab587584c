//! `lark`: an interactive card (header coloured by severity, Markdown body with the metadata)
//! posted to a Lark / Feishu custom bot webhook.

use reqwest::header::HeaderMap;
use serde_json::json;

use super::parse_address;
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::Http;
use crate::settings::ProviderSettings;

pub(crate) struct Lark {
    http: Http,
    url: url::Url,
}

impl Lark {
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
        let (emoji, template) = if event.is_error() {
            ("🚨", "red")
        } else {
            ("💫", "turquoise")
        };
        let mut content = format!("**{}**\n\n", event.message);
        for (k, v) in &event.metadata {
            content.push_str(&format!("{k}: {v}\n"));
        }
        let payload = json!({
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": true},
                "header": {
                    "title": {
                        "tag": "plain_text",
                        "content": format!("{emoji} {}", event.lower_object_title()),
                    },
                    "template": template,
                },
                "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": content}}],
            },
        });
        self.http
            .post_json(&self.url, &payload, HeaderMap::new())
            .await?;
        Ok(())
    }
}

notifier_by_deliver!(Lark);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{TestServer, info_event, post_ok};

    #[tokio::test]
    async fn lark_posts_an_interactive_card() {
        let server = TestServer::start().await;
        post_ok(
            ProviderSettings::new("lark", &server.url("/open-apis/bot/v2/hook/x")),
            &info_event(),
        )
        .await;
        let body = server.single_request().await.json();
        assert_eq!(body["msg_type"], "interactive");
        assert_eq!(body["card"]["header"]["template"], "turquoise");
        assert_eq!(
            body["card"]["header"]["title"]["content"],
            "💫 kustomization/apps.flux-system"
        );
        assert_eq!(
            body["card"]["elements"][0]["text"]["content"],
            "**Reconciliation finished**\n\nrevision: main@sha1:9f3b4c1a2d5e6f708192a3b4c5d6e7f8091a2b3c\n"
        );
    }
}
