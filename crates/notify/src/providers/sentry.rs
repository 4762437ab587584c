//! `sentry`: the address is a DSN (`https://<public key>@<host>/<project id>`). Failures are
//! captured as Sentry events (metadata as `extra`), successes as transactions with one span
//! (metadata as tags), both sent in one envelope to the project's envelope endpoint. `channel`
//! is the environment.
//!
//! Event, trace and span ids are derived from the event's JSON, so a retried delivery carries
//! the same ids and Sentry de-duplicates it.

use serde_json::{Value, json};
use sha2::Digest;

use crate::error::NotifyError;
use crate::event::Event;
use crate::http::{Http, headers};
use crate::settings::ProviderSettings;

/// Sentry's envelope protocol version.
const PROTOCOL_VERSION: u8 = 7;

pub(crate) struct Sentry {
    http: Http,
    url: url::Url,
    auth: String,
    environment: Option<String>,
}

impl Sentry {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        let provider = &settings.provider_type;
        let invalid = |reason: &str| NotifyError::InvalidAddress {
            provider: provider.clone(),
            reason: reason.to_owned(),
        };
        let dsn = super::parse_address(provider, &settings.address)?;
        let key = dsn.username();
        if key.is_empty() {
            return Err(invalid("the DSN has no public key"));
        }
        let path = dsn.path().trim_end_matches('/');
        let (prefix, project) = path
            .rsplit_once('/')
            .ok_or_else(|| invalid("no project id"))?;
        if project.is_empty() || !project.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("the DSN's project id is not a number"));
        }
        let mut url = dsn.clone();
        // Credentials must not travel in the URL: they go in X-Sentry-Auth.
        url.set_username("")
            .and_then(|()| url.set_password(None))
            .map_err(|()| invalid("cannot remove the DSN's credentials"))?;
        url.set_path(&format!("{prefix}/api/{project}/envelope/"));
        url.set_query(None);
        let auth = format!(
            "Sentry sentry_version={PROTOCOL_VERSION}, sentry_client=driftless-notify/{}, sentry_key={key}",
            env!("CARGO_PKG_VERSION")
        );
        Ok(Self {
            http: Http::new(settings)?,
            url,
            auth,
            environment: settings.channel.clone().filter(|c| !c.is_empty()),
        })
    }

    async fn deliver(&self, event: &Event) -> Result<(), NotifyError> {
        let digest = hex::encode(sha2::Sha256::digest(self.http.encode(event)?));
        let event_id = &digest[..32];
        let (kind, mut item) = match event.severity.as_str() {
            crate::event::SEVERITY_ERROR => ("event", error_event(event)),
            crate::event::SEVERITY_INFO => ("transaction", transaction(event, &digest[32..])),
            // Flux sends nothing for other severities.
            _ => return Ok(()),
        };
        item["event_id"] = json!(event_id);
        item["platform"] = json!("other");
        if let Some(environment) = &self.environment {
            item["environment"] = json!(environment);
        }
        let payload = self.http.encode(&item)?;
        let mut body = self.http.encode(&json!({"event_id": event_id}))?;
        body.push(b'\n');
        body.extend(
            self.http
                .encode(&json!({"type": kind, "length": payload.len()}))?,
        );
        body.push(b'\n');
        body.extend(payload);
        body.push(b'\n');
        let headers = headers(
            self.http.provider(),
            [
                ("X-Sentry-Auth", self.auth.as_str()),
                ("Content-Type", "application/x-sentry-envelope"),
            ],
        )?;
        self.http
            .send(reqwest::Method::POST, &self.url, Some(body), headers)
            .await?;
        Ok(())
    }
}

/// `Kind: namespace/name`, Flux's transaction name.
fn summary(event: &Event) -> String {
    let o = &event.involved_object;
    format!("{}: {}/{}", o.kind, o.namespace, o.name)
}

fn error_event(event: &Event) -> Value {
    json!({
        "timestamp": event.timestamp,
        "level": event.severity,
        "server_name": event.reporting_controller,
        "transaction": summary(event),
        "extra": event.metadata,
        "message": event.message,
    })
}

/// A zero-length transaction at the event's time with one `event` span carrying the tags.
fn transaction(event: &Event, ids: &str) -> Value {
    let (trace_id, span_id) = (&ids[..32], &ids[..16]);
    let o = &event.involved_object;
    let mut tags = serde_json::Map::new();
    for (k, v) in [
        ("flux_involved_object_kind", &o.kind),
        ("flux_involved_object_namespace", &o.namespace),
        ("flux_involved_object_name", &o.name),
        ("flux_reporting_controller", &event.reporting_controller),
        ("flux_reporting_instance", &event.reporting_instance),
        ("flux_reason", &event.reason),
    ] {
        tags.insert(k.into(), json!(v));
    }
    for (k, v) in &event.metadata {
        tags.insert(k.clone(), json!(v));
    }
    json!({
        "type": "transaction",
        "transaction": summary(event),
        "message": event.message,
        "contexts": {"trace": {"trace_id": trace_id, "span_id": span_id, "op": "event"}},
        "tags": tags,
        "start_timestamp": event.timestamp,
        "timestamp": event.timestamp,
        "spans": [{
            "trace_id": trace_id,
            "span_id": span_id,
            "op": "event",
            "start_timestamp": event.timestamp,
            "timestamp": event.timestamp,
            "tags": tags,
        }],
    })
}

notifier_by_deliver!(Sentry);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::notifier;
    use crate::providers::testserver::{Recorded, TestServer, info_event, post_ok, sample_event};

    fn envelope(request: &Recorded) -> Vec<Value> {
        String::from_utf8(request.body.clone())
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }

    async fn send(event: &Event) -> Recorded {
        let server = TestServer::start().await;
        let dsn = server.url("/42").replace("http://", "http://pubkey@");
        let mut settings = ProviderSettings::new("sentry", &dsn);
        settings.channel = Some("staging".into());
        post_ok(settings, event).await;
        server.single_request().await
    }

    #[tokio::test]
    async fn a_failure_is_captured_as_an_event_in_an_envelope() {
        let request = send(&sample_event()).await;
        assert_eq!(request.path, "/api/42/envelope/");
        let auth = request.header("x-sentry-auth").expect("auth header");
        assert!(auth.starts_with("Sentry sentry_version=7,"), "{auth}");
        assert!(auth.ends_with("sentry_key=pubkey"), "{auth}");
        assert_eq!(
            request.header("content-type"),
            Some("application/x-sentry-envelope")
        );
        let lines = envelope(&request);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1]["type"], "event");
        let item = &lines[2];
        assert_eq!(item["event_id"], lines[0]["event_id"]);
        assert_eq!(item["event_id"].as_str().map(str::len), Some(32));
        assert_eq!(item["level"], "error");
        assert_eq!(item["environment"], "staging");
        assert_eq!(item["server_name"], "kustomize-controller");
        assert_eq!(item["transaction"], "Kustomization: flux-system/apps");
        assert_eq!(item["message"], "Deployment/default/web dry-run failed");
        assert_eq!(
            item["extra"]["revision"],
            "main@sha1:9f3b4c1a2d5e6f708192a3b4c5d6e7f8091a2b3c"
        );
        let length = lines[1]["length"].as_u64().expect("length");
        let third = String::from_utf8(request.body.clone())
            .expect("utf-8")
            .lines()
            .nth(2)
            .map(str::len);
        assert_eq!(third, Some(length as usize));
    }

    #[tokio::test]
    async fn a_success_is_sent_as_a_transaction_with_one_tagged_span() {
        let request = send(&info_event()).await;
        let lines = envelope(&request);
        assert_eq!(lines[1]["type"], "transaction");
        let item = &lines[2];
        assert_eq!(item["type"], "transaction");
        assert_eq!(item["contexts"]["trace"]["op"], "event");
        assert_eq!(
            item["spans"][0]["tags"]["flux_reason"],
            "ReconciliationSucceeded"
        );
        assert_eq!(item["tags"]["flux_involved_object_kind"], "Kustomization");
        assert_eq!(
            item["tags"]["revision"],
            "main@sha1:9f3b4c1a2d5e6f708192a3b4c5d6e7f8091a2b3c"
        );
    }

    #[test]
    fn a_dsn_without_a_key_or_project_is_rejected() {
        for dsn in ["https://sentry.io/42", "https://key@sentry.io/"] {
            assert!(
                notifier(ProviderSettings::new("sentry", dsn)).is_err(),
                "{dsn}"
            );
        }
    }
}
