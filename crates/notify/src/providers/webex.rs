//! `webex`: a Markdown message to the room named by `channel`, through the Messages API with
//! the bot token as a Bearer header.

use serde::Serialize;

use super::{parse_address, required_channel, required_token};
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::{Http, headers};
use crate::settings::ProviderSettings;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    room_id: String,
    markdown: String,
}

pub(crate) struct Webex {
    http: Http,
    url: url::Url,
    token: String,
    room: String,
}

impl Webex {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        let room = required_channel(settings, "the room id")?;
        Ok(Self {
            url: parse_address(&settings.provider_type, &settings.address)?,
            token: required_token(settings)?.to_owned(),
            http: Http::new(settings)?,
            room,
        })
    }

    async fn deliver(&self, event: &Event) -> Result<(), NotifyError> {
        if event.is_commit_status_update() {
            return Ok(());
        }
        let payload = Payload {
            room_id: self.room.clone(),
            markdown: markdown(event),
        };
        let headers = headers(
            self.http.provider(),
            [("Authorization", format!("Bearer {}", self.token).as_str())],
        )?;
        self.http.post_json(&self.url, &payload, headers).await?;
        Ok(())
    }
}

fn markdown(event: &Event) -> String {
    let emoji = if event.is_error() { "💣" } else { "✅" };
    let mut text = format!(
        "{emoji} **{}**\n{}\n",
        event.lower_object_title(),
        event.message
    );
    for (k, v) in &event.metadata {
        text.push_str(&format!(">**{k}**: {v}\n"));
    }
    text
}

notifier_by_deliver!(Webex);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::notifier;
    use crate::providers::testserver::{TestServer, post_ok, sample_event};

    #[tokio::test]
    async fn webex_posts_markdown_to_the_room_with_the_bot_token() {
        let server = TestServer::start().await;
        let mut settings = ProviderSettings::new("webex", &server.url("/v1/messages"));
        settings.channel = Some("room-1".into());
        settings.token = Some("webex-secret".into());
        post_ok(settings, &sample_event()).await;
        let request = server.single_request().await;
        assert_eq!(request.path, "/v1/messages");
        assert_eq!(request.header("authorization"), Some("Bearer webex-secret"));
        let body = request.json();
        assert_eq!(body["roomId"], "room-1");
        assert_eq!(
            body["markdown"],
            "💣 **kustomization/apps.flux-system**\nDeployment/default/web dry-run failed\n\
             >**revision**: main@sha1:9f3b4c1a2d5e6f708192a3b4c5d6e7f8091a2b3c\n"
        );
    }

    #[test]
    fn webex_without_a_room_is_an_error() {
        let mut settings = ProviderSettings::new("webex", "https://webexapis.com/v1/messages");
        settings.token = Some("t".into());
        let err = notifier(settings).err().expect("error");
        assert!(err.to_string().contains("channel"), "{err}");
    }
}
