//! `matrix`: an `m.room.message` PUT into the room named by `channel`, with a transaction id
//! derived from the event (SHA-1 of its JSON, as Flux derives it) so a retried delivery is
//! idempotent on the homeserver.

use serde_json::json;
use sha1::Digest;

use super::{parse_address, required_channel, required_token};
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::{Http, headers};
use crate::settings::ProviderSettings;

pub(crate) struct Matrix {
    http: Http,
    base: url::Url,
    token: String,
    room: String,
}

impl Matrix {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        let room = required_channel(settings, "the room id")?;
        Ok(Self {
            base: parse_address(&settings.provider_type, &settings.address)?,
            token: required_token(settings)?.to_owned(),
            http: Http::new(settings)?,
            room,
        })
    }

    async fn deliver(&self, event: &Event) -> Result<(), NotifyError> {
        let body = self.http.encode(event)?;
        let txn = hex::encode(sha1::Sha1::digest(&body));
        let mut url = self.base.clone();
        let path = format!(
            "{}/_matrix/client/r0/rooms/{}/send/m.room.message/{txn}",
            url.path().trim_end_matches('/'),
            self.room
        );
        url.set_path(&path);
        let emoji = if event.is_error() { "🚨" } else { "💫" };
        let mut metadata = String::new();
        for (k, v) in &event.metadata {
            metadata.push_str(&format!("- {k}: {v}\n"));
        }
        let text = format!(
            "{emoji} {}\n{}\n{metadata}",
            event.lower_object_title(),
            event.message
        );
        let payload = json!({"body": text, "msgtype": "m.text"});
        let headers = headers(
            self.http.provider(),
            [("Authorization", format!("Bearer {}", self.token).as_str())],
        )?;
        self.http
            .send(
                reqwest::Method::PUT,
                &url,
                Some(self.http.encode(&payload)?),
                headers,
            )
            .await?;
        Ok(())
    }
}

notifier_by_deliver!(Matrix);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::notifier;
    use crate::providers::testserver::{TestServer, sample_event};

    #[tokio::test]
    async fn matrix_puts_a_text_message_into_the_room_with_an_idempotent_txn_id() {
        let server = TestServer::start().await;
        let mut settings = ProviderSettings::new("matrix", &server.url(""));
        settings.channel = Some("!room:example.org".into());
        settings.token = Some("mx-secret".into());
        let notifier = notifier(settings).expect("notifier");
        notifier.post(&sample_event()).await.expect("posted");
        notifier.post(&sample_event()).await.expect("posted again");
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        let request = &requests[0];
        assert_eq!(request.method, "PUT");
        assert!(
            request
                .path
                .starts_with("/_matrix/client/r0/rooms/!room:example.org/send/m.room.message/"),
            "{}",
            request.path
        );
        assert_eq!(request.path, requests[1].path, "same event, same txn id");
        assert_eq!(request.header("authorization"), Some("Bearer mx-secret"));
        let body = request.json();
        assert_eq!(body["msgtype"], "m.text");
        assert_eq!(
            body["body"],
            "🚨 kustomization/apps.flux-system\nDeployment/default/web dry-run failed\n\
             - revision: main@sha1:9f3b4c1a2d5e6f708192a3b4c5d6e7f8091a2b3c\n"
        );
    }
}
