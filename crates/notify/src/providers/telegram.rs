//! `telegram`: the Bot API's `sendMessage` with MarkdownV2 text to the chat named by `channel`
//! (`<chat id>:<topic id>` posts into a forum topic).
//! The bot token is part of the URL path, which is why no error ever prints a URL. The address
//! is optional (Telegram's API by default) and may point at a self-hosted Bot API server.

use reqwest::header::HeaderMap;
use serde::Serialize;

use super::{parse_address, required_channel, required_token};
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::Http;
use crate::settings::ProviderSettings;

/// Telegram's Bot API.
const DEFAULT_API: &str = "https://api.telegram.org";

#[derive(Serialize)]
struct Payload<'a> {
    chat_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_thread_id: Option<&'a str>,
    text: String,
    parse_mode: &'a str,
}

pub(crate) struct Telegram {
    http: Http,
    url: url::Url,
    chat_id: String,
}

impl Telegram {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        let provider = &settings.provider_type;
        let chat_id = required_channel(settings, "the chat id")?;
        let token = required_token(settings)?;
        let base = if settings.address.is_empty() {
            DEFAULT_API
        } else {
            settings.address.as_str()
        };
        let mut url = parse_address(provider, base)?;
        let path = format!(
            "{}/bot{token}/sendMessage",
            url.path().trim_end_matches('/')
        );
        url.set_path(&path);
        Ok(Self {
            http: Http::new(settings)?,
            url,
            chat_id,
        })
    }

    async fn deliver(&self, event: &Event) -> Result<(), NotifyError> {
        let (chat_id, thread) = match self.chat_id.split_once(':') {
            Some((chat, thread)) => (chat, Some(thread)),
            None => (self.chat_id.as_str(), None),
        };
        let payload = Payload {
            chat_id,
            message_thread_id: thread,
            text: text(event),
            parse_mode: "MarkdownV2",
        };
        self.http
            .post_json(&self.url, &payload, HeaderMap::new())
            .await?;
        Ok(())
    }
}

/// MarkdownV2 requires these characters escaped everywhere outside entities.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "_*[]()~`>#+-=|{}.!\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn text(event: &Event) -> String {
    let emoji = if event.is_error() { "🚨" } else { "💫" };
    let o = &event.involved_object;
    let heading = format!(
        "{emoji} {}/{}/{}",
        o.kind.to_lowercase(),
        o.name,
        o.namespace
    );
    let mut text = format!("*{}*\n{}\n", escape(&heading), escape(&event.message));
    for (k, v) in &event.metadata {
        text.push_str(&format!("\\- *{}*: {}\n", escape(k), escape(v)));
    }
    text
}

notifier_by_deliver!(Telegram);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{TestServer, post_err, post_ok, sample_event};

    #[tokio::test]
    async fn telegram_sends_escaped_markdown_v2_to_the_chat() {
        let server = TestServer::start().await;
        let mut settings = ProviderSettings::new("telegram", &server.url(""));
        settings.channel = Some("-100123:7".into());
        settings.token = Some("123:tg-secret".into());
        post_ok(settings, &sample_event()).await;
        let request = server.single_request().await;
        assert_eq!(request.path, "/bot123:tg-secret/sendMessage");
        let body = request.json();
        assert_eq!(body["chat_id"], "-100123");
        assert_eq!(body["message_thread_id"], "7");
        assert_eq!(body["parse_mode"], "MarkdownV2");
        assert_eq!(
            body["text"],
            "*🚨 kustomization/apps/flux\\-system*\nDeployment/default/web dry\\-run failed\n\
             \\- *revision*: main@sha1:9f3b4c1a2d5e6f708192a3b4c5d6e7f8091a2b3c\n"
        );
    }

    #[tokio::test]
    async fn a_telegram_failure_never_shows_the_bot_token() {
        let server = TestServer::start_with_status(401, "{\"ok\":false}").await;
        let mut settings = ProviderSettings::new("telegram", &server.url(""));
        settings.channel = Some("1".into());
        settings.token = Some("123:tg-secret".into());
        let err = post_err(settings, &sample_event()).await;
        assert!(!err.to_string().contains("tg-secret"), "{err}");
    }
}
