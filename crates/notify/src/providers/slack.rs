//! `slack`, `discord` and `rocket`: one Slack attachment per event, the metadata as fields.
//!
//! Slack: an incoming webhook, or `chat.postMessage` with the bot token as a Bearer header
//! (that endpoint answers 200 even on failure, so its `ok` field is checked). Discord: the
//! webhook's Slack-compatible endpoint (`/slack` appended as Flux does). Rocket: Rocket.Chat's
//! incoming webhook with Rocket's colours.

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

use super::parse_address;
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::{Http, headers};
use crate::settings::ProviderSettings;

/// Which Slack dialect to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavour {
    Slack,
    Discord,
    Rocket,
}

#[derive(Serialize)]
struct Payload<'a> {
    channel: &'a str,
    username: &'a str,
    icon_url: &'a str,
    icon_emoji: &'a str,
    attachments: Vec<Attachment<'a>>,
}

#[derive(Serialize)]
struct Attachment<'a> {
    color: &'a str,
    author_name: String,
    text: &'a str,
    mrkdwn_in: [&'a str; 1],
    fields: Vec<Field<'a>>,
}

#[derive(Serialize)]
struct Field<'a> {
    title: &'a str,
    value: &'a str,
    short: bool,
}

/// `chat.postMessage` answers 200 with `ok: false` on failure.
#[derive(Deserialize)]
struct ApiAnswer {
    ok: bool,
    #[serde(default)]
    error: String,
}

pub(crate) struct Slack {
    http: Http,
    url: url::Url,
    flavour: Flavour,
    token: Option<String>,
    channel: String,
    username: Option<String>,
    checks_api_answer: bool,
}

impl Slack {
    pub(crate) fn new(settings: &ProviderSettings, flavour: Flavour) -> Result<Self, NotifyError> {
        let mut url = parse_address(&settings.provider_type, &settings.address)?;
        if flavour == Flavour::Discord && !url.path().ends_with("/slack") {
            let path = format!("{}/slack", url.path().trim_end_matches('/'));
            url.set_path(&path);
        }
        let checks_api_answer =
            flavour == Flavour::Slack && url.path().ends_with("/api/chat.postMessage");
        Ok(Self {
            http: Http::new(settings)?,
            url,
            flavour,
            token: settings.token.clone().filter(|t| !t.is_empty()),
            channel: settings.channel.clone().unwrap_or_default(),
            username: settings.username.clone(),
            checks_api_answer,
        })
    }

    async fn deliver(&self, event: &Event) -> Result<(), NotifyError> {
        if event.is_commit_status_update() {
            return Ok(());
        }
        let color = match (self.flavour, event.is_error()) {
            (Flavour::Rocket, true) => "#FF0000",
            (Flavour::Rocket, false) => "#0076D7",
            (_, true) => "danger",
            (_, false) => "good",
        };
        // As in Flux: a Discord webhook posts to its own channel; Rocket keeps an unset
        // username empty (the webhook's own name shows) where Slack and Discord name the
        // reporting controller.
        let channel = match self.flavour {
            Flavour::Discord => "",
            Flavour::Slack | Flavour::Rocket => &self.channel,
        };
        let default_username = match self.flavour {
            Flavour::Rocket => "",
            Flavour::Slack | Flavour::Discord => &event.reporting_controller,
        };
        let payload = Payload {
            channel,
            username: self.username.as_deref().unwrap_or(default_username),
            icon_url: "",
            icon_emoji: "",
            attachments: vec![Attachment {
                color,
                author_name: event.lower_object_title(),
                text: &event.message,
                mrkdwn_in: ["text"],
                fields: event
                    .metadata
                    .iter()
                    .map(|(title, value)| Field {
                        title,
                        value,
                        short: false,
                    })
                    .collect(),
            }],
        };
        let headers = match &self.token {
            Some(token) => headers(
                self.http.provider(),
                [("Authorization", format!("Bearer {token}").as_str())],
            )?,
            None => HeaderMap::new(),
        };
        let answer = self.http.post_json(&self.url, &payload, headers).await?;
        if self.checks_api_answer {
            let api: ApiAnswer =
                serde_json::from_slice(&answer.body).map_err(|e| NotifyError::InvalidEvent {
                    provider: self.http.provider().to_owned(),
                    reason: format!("unable to decode the chat.postMessage answer: {e}"),
                })?;
            if !api.ok {
                return Err(NotifyError::Status {
                    provider: self.http.provider().to_owned(),
                    status: 200,
                    body: format!("Slack responded with error: {}", api.error),
                });
            }
        }
        Ok(())
    }
}

notifier_by_deliver!(Slack);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::providers::testserver::{TestServer, info_event, post_err, post_ok, sample_event};

    #[tokio::test]
    async fn slack_sends_one_attachment_with_metadata_fields_and_danger_colour() {
        let server = TestServer::start().await;
        let mut settings = ProviderSettings::new("slack", &server.url("/services/T/B/X"));
        settings.channel = Some("#alerts".into());
        post_ok(settings, &sample_event()).await;
        let request = server.single_request().await;
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/services/T/B/X");
        assert_eq!(request.header("authorization"), None);
        assert_eq!(
            request.json(),
            json!({
                "channel": "#alerts",
                "username": "kustomize-controller",
                "icon_url": "",
                "icon_emoji": "",
                "attachments": [{
                    "color": "danger",
                    "author_name": "kustomization/apps.flux-system",
                    "text": "Deployment/default/web dry-run failed",
                    "mrkdwn_in": ["text"],
                    "fields": [{
                        "title": "revision",
                        "value": "main@sha1:9f3b4c1a2d5e6f708192a3b4c5d6e7f8091a2b3c",
                        "short": false
                    }]
                }]
            })
        );
    }

    #[tokio::test]
    async fn slack_bot_token_goes_in_a_bearer_header_and_username_overrides_the_controller() {
        let server = TestServer::start_with_status(200, r#"{"ok":true}"#).await;
        let mut settings = ProviderSettings::new("slack", &server.url("/api/chat.postMessage"));
        settings.token = Some("xoxb-secret".into());
        settings.username = Some("flux-bot".into());
        post_ok(settings, &info_event()).await;
        let request = server.single_request().await;
        assert_eq!(request.header("authorization"), Some("Bearer xoxb-secret"));
        let body = request.json();
        assert_eq!(body["username"], "flux-bot");
        assert_eq!(body["attachments"][0]["color"], "good");
    }

    #[tokio::test]
    async fn a_chat_post_message_answer_with_ok_false_is_an_error_without_the_token() {
        let server =
            TestServer::start_with_status(200, r#"{"ok":false,"error":"channel_not_found"}"#).await;
        let mut settings = ProviderSettings::new("slack", &server.url("/api/chat.postMessage"));
        settings.token = Some("xoxb-secret".into());
        let err = post_err(settings, &sample_event()).await;
        let text = err.to_string();
        assert!(text.contains("channel_not_found"), "{text}");
        assert!(!text.contains("xoxb-secret"), "{text}");
    }

    #[tokio::test]
    async fn commit_status_update_events_are_not_sent_to_chat() {
        let server = TestServer::start().await;
        let mut event = info_event();
        event
            .metadata
            .insert("commit_status".into(), "update".into());
        post_ok(ProviderSettings::new("slack", &server.url("/hook")), &event).await;
        assert!(server.requests().is_empty());
    }

    #[tokio::test]
    async fn discord_posts_the_slack_payload_to_the_webhooks_slack_endpoint() {
        let server = TestServer::start().await;
        let mut settings = ProviderSettings::new("discord", &server.url("/api/webhooks/1/abc"));
        settings.channel = Some("ignored".into());
        post_ok(settings, &sample_event()).await;
        let request = server.single_request().await;
        assert_eq!(request.path, "/api/webhooks/1/abc/slack");
        let body = request.json();
        assert_eq!(body["attachments"][0]["color"], "danger");
        assert_eq!(body["channel"], "");
        assert_eq!(body["username"], "kustomize-controller");
    }

    #[tokio::test]
    async fn rocket_uses_its_colours_and_channel() {
        let server = TestServer::start().await;
        let mut settings = ProviderSettings::new("rocket", &server.url("/hooks/xyz"));
        settings.channel = Some("ops".into());
        settings.username = Some("flux".into());
        post_ok(settings, &sample_event()).await;
        let body = server.single_request().await.json();
        assert_eq!(body["channel"], "ops");
        assert_eq!(body["username"], "flux");
        assert_eq!(body["attachments"][0]["color"], "#FF0000");
    }
}
