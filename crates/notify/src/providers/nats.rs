//! `nats`: publishes the event JSON on the subject named by `channel`, with NATS's text
//! protocol over TCP (INFO, CONNECT, PUB, then PING/PONG so the server has processed the
//! publish, or answered `-ERR`, before the delivery counts as done). Authentication in Flux's
//! order: the Secret's `creds` (user JWT + NKey seed), else its `nkey` seed, else
//! username/password from the Secret or the address's user info.
//!
//! Not supported (a clear error, never a silent drop): servers that require TLS.

mod nkey;

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::required_channel;
use crate::error::{NotifyError, redact};
use crate::event::Event;
use crate::settings::ProviderSettings;

/// NATS's default client port.
const DEFAULT_PORT: u16 = 4222;
/// The longest protocol line we accept from the server (INFO can be a few KiB).
const MAX_LINE: usize = 64 * 1024;

#[derive(Deserialize)]
struct ServerInfo {
    #[serde(default)]
    tls_required: bool,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    max_payload: Option<usize>,
}

pub(crate) struct Nats {
    provider: String,
    host: String,
    port: u16,
    subject: String,
    user: Option<(String, String)>,
    user_key: Option<nkey::UserKey>,
    timeout: Duration,
    secrets: Vec<String>,
}

impl Nats {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        let provider = settings.provider_type.clone();
        let invalid = |reason: &str| NotifyError::InvalidAddress {
            provider: provider.clone(),
            reason: reason.to_owned(),
        };
        let subject = required_channel(settings, "the subject")?;
        if subject.contains(char::is_whitespace) {
            return Err(NotifyError::InvalidSetting {
                provider: provider.clone(),
                field: "channel".into(),
                reason: "a NATS subject cannot contain white space".into(),
            });
        }
        let secret_text = |key: &str| {
            settings
                .secret_data
                .get(key)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        let bad_key = |key: &str, reason: &str| NotifyError::InvalidSetting {
            provider: provider.clone(),
            field: key.to_owned(),
            reason: reason.to_owned(),
        };
        let user_key = match (secret_text("creds"), secret_text("nkey")) {
            (Some(creds), _) => {
                Some(nkey::UserKey::from_creds(&creds).map_err(|r| bad_key("creds", r))?)
            }
            (None, Some(seed)) => {
                Some(nkey::UserKey::from_seed(&seed).map_err(|r| bad_key("nkey", r))?)
            }
            (None, None) => None,
        };
        if settings.address.is_empty() {
            return Err(NotifyError::MissingSetting {
                provider: provider.clone(),
                field: "address".into(),
            });
        }
        let address = if settings.address.contains("://") {
            settings.address.clone()
        } else {
            format!("nats://{}", settings.address)
        };
        let url = url::Url::parse(&address).map_err(|e| invalid(&e.to_string()))?;
        match url.scheme() {
            "nats" => {}
            "tls" => return Err(invalid("TLS NATS servers (tls://) are not supported")),
            other => return Err(invalid(&format!("scheme '{other}' is not nats"))),
        }
        let host = url.host_str().ok_or_else(|| invalid("no host"))?.to_owned();
        let from_url = (!url.username().is_empty()).then(|| {
            (
                url.username().to_owned(),
                url.password().unwrap_or_default().to_owned(),
            )
        });
        let user = match (&settings.username, &settings.password) {
            (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => Some((u.clone(), p.clone())),
            _ => from_url,
        };
        let mut secrets = settings.secrets();
        if let Some((_, password)) = &user {
            secrets.push(password.clone());
        }
        Ok(Self {
            provider,
            host,
            port: url.port().unwrap_or(DEFAULT_PORT),
            subject,
            user,
            user_key,
            timeout: settings.timeout,
            secrets,
        })
    }

    async fn deliver(&self, event: &Event) -> Result<(), NotifyError> {
        if event.is_commit_status_update() {
            return Ok(());
        }
        let payload = serde_json::to_vec(event).map_err(|e| NotifyError::Encode {
            provider: self.provider.clone(),
            reason: e.to_string(),
        })?;
        match tokio::time::timeout(self.timeout, self.publish(&payload)).await {
            Ok(result) => result,
            Err(_) => Err(self.failed(&format!("timed out after {:?}", self.timeout))),
        }
    }

    async fn publish(&self, payload: &[u8]) -> Result<(), NotifyError> {
        let io = |e: std::io::Error| self.failed(&e.to_string());
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(io)?;
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        let info_line = self.read_line(&mut read).await?;
        let info = info_line
            .strip_prefix("INFO ")
            .ok_or_else(|| self.failed("the server did not greet with INFO"))?;
        let info: ServerInfo =
            serde_json::from_str(info).map_err(|e| self.failed(&format!("bad INFO: {e}")))?;
        if info.tls_required {
            return Err(NotifyError::UnsupportedFeature {
                provider: self.provider.clone(),
                feature: "NATS servers that require TLS".into(),
            });
        }
        if let Some(max) = info.max_payload
            && payload.len() > max
        {
            return Err(self.failed(&format!(
                "the event ({} bytes) exceeds the server's max_payload ({max})",
                payload.len()
            )));
        }
        let mut connect = json!({
            "verbose": false,
            "pedantic": false,
            "name": "NATS Provider Publisher",
            "lang": "rust",
            "version": env!("CARGO_PKG_VERSION"),
            "protocol": 1,
        });
        if let Some(key) = &self.user_key {
            let nonce = info
                .nonce
                .as_deref()
                .ok_or_else(|| self.failed("the server sent no nonce to sign for NKey auth"))?;
            for (field, value) in key.connect_fields(nonce) {
                connect[field] = json!(value);
            }
        } else if let Some((user, pass)) = &self.user {
            connect["user"] = json!(user);
            connect["pass"] = json!(pass);
        }
        let mut out = format!(
            "CONNECT {connect}\r\nPUB {} {}\r\n",
            self.subject,
            payload.len()
        )
        .into_bytes();
        out.extend_from_slice(payload);
        out.extend_from_slice(b"\r\nPING\r\n");
        write.write_all(&out).await.map_err(io)?;
        write.flush().await.map_err(io)?;
        // Anything the server objects to (authorization, permissions) arrives before the PONG.
        loop {
            let line = self.read_line(&mut read).await?;
            match line.as_str() {
                "PONG" => return Ok(()),
                "PING" => write.write_all(b"PONG\r\n").await.map_err(io)?,
                "+OK" => {}
                _ if line.starts_with("-ERR") => {
                    return Err(self.failed(&format!("server error: {}", &line[4..].trim())));
                }
                _ if line.starts_with("INFO ") => {}
                _ => return Err(self.failed("unexpected answer from the server")),
            }
        }
    }

    async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
        &self,
        read: &mut R,
    ) -> Result<String, NotifyError> {
        let mut line = Vec::new();
        let n = read
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| self.failed(&e.to_string()))?;
        if n == 0 {
            return Err(self.failed("the server closed the connection"));
        }
        if !line.ends_with(b"\n") {
            return Err(self.failed("protocol line too long"));
        }
        Ok(String::from_utf8_lossy(&line).trim_end().to_owned())
    }

    fn failed(&self, reason: &str) -> NotifyError {
        NotifyError::Request {
            provider: self.provider.clone(),
            reason: redact(reason, &self.secrets),
        }
    }
}

notifier_by_deliver!(Nats);

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;
    use tokio::sync::oneshot;

    use super::*;
    use crate::providers::notifier;
    use crate::providers::testserver::{post_err, post_ok, sample_event};

    /// What the fake server saw: the CONNECT options, the PUB line and the payload.
    struct Seen {
        connect: serde_json::Value,
        publish: String,
        payload: Vec<u8>,
    }

    /// A one-connection NATS server that greets with `info` and answers the PING with `reply`.
    async fn server(info: &'static str, reply: &'static str) -> (String, oneshot::Receiver<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let (read, mut write) = stream.into_split();
            let mut read = BufReader::new(read);
            write
                .write_all(format!("INFO {info}\r\n").as_bytes())
                .await
                .expect("info");
            let mut line = String::new();
            if read.read_line(&mut line).await.expect("connect") == 0 {
                return;
            }
            let connect = serde_json::from_str(line.trim_end().trim_start_matches("CONNECT "))
                .expect("connect json");
            let mut publish = String::new();
            read.read_line(&mut publish).await.expect("pub");
            let size: usize = publish
                .split_whitespace()
                .nth(2)
                .expect("size")
                .parse()
                .expect("n");
            let mut payload = vec![0; size + 2];
            read.read_exact(&mut payload).await.expect("payload");
            payload.truncate(size);
            let mut ping = String::new();
            read.read_line(&mut ping).await.expect("ping");
            assert_eq!(ping, "PING\r\n");
            write.write_all(reply.as_bytes()).await.expect("reply");
            let seen = Seen {
                connect,
                publish: publish.trim_end().to_owned(),
                payload,
            };
            tx.send(seen).ok();
        });
        (format!("nats://{addr}"), rx)
    }

    #[tokio::test]
    async fn nats_publishes_the_event_json_on_the_subject_with_user_credentials() {
        let (address, seen) =
            server(r#"{"server_id":"x","max_payload":1048576}"#, "PONG\r\n").await;
        let mut settings = ProviderSettings::new("nats", &address);
        settings.channel = Some("flux.events".into());
        settings.username = Some("flux".into());
        settings.password = Some("nats-secret".into());
        post_ok(settings, &sample_event()).await;
        let seen = seen.await.expect("server saw the publish");
        assert_eq!(seen.connect["user"], "flux");
        assert_eq!(seen.connect["pass"], "nats-secret");
        assert_eq!(seen.connect["verbose"], false);
        assert!(
            seen.publish.starts_with("PUB flux.events "),
            "{}",
            seen.publish
        );
        let event: Event = serde_json::from_slice(&seen.payload).expect("event json");
        assert_eq!(event, sample_event());
    }

    #[tokio::test]
    async fn a_server_error_is_reported_without_the_password() {
        let (address, _seen) =
            server(r#"{"server_id":"x"}"#, "-ERR 'Authorization Violation'\r\n").await;
        let mut settings = ProviderSettings::new("nats", &address);
        settings.channel = Some("flux.events".into());
        settings.username = Some("flux".into());
        settings.password = Some("nats-secret".into());
        let err = post_err(settings, &sample_event()).await;
        let text = err.to_string();
        assert!(text.contains("Authorization Violation"), "{text}");
        assert!(!text.contains("nats-secret"), "{text}");
    }

    #[tokio::test]
    async fn a_server_requiring_tls_is_a_clear_unsupported_error() {
        let (address, _seen) = server(r#"{"tls_required":true}"#, "").await;
        let mut settings = ProviderSettings::new("nats", &address);
        settings.channel = Some("s".into());
        let err = post_err(settings, &sample_event()).await;
        assert!(err.to_string().contains("not supported"), "{err}");
    }

    #[tokio::test]
    async fn an_nkey_seed_signs_the_servers_nonce_instead_of_sending_a_password() {
        let (address, seen) = server(r#"{"server_id":"x","nonce":"abc123"}"#, "PONG\r\n").await;
        let mut settings = ProviderSettings::new("nats", &address);
        settings.channel = Some("flux.events".into());
        settings.username = Some("ignored".into());
        settings.password = Some("ignored".into());
        settings.secret_data.insert(
            "nkey".into(),
            b"SUAGMJH5XLGZKQQWAWKRZJIGMOU4HPFUYLXJMXOO5NLFEO2OOQJ5LPRDPM\n".to_vec(),
        );
        post_ok(settings, &sample_event()).await;
        let seen = seen.await.expect("server saw the publish");
        let nkey = seen.connect["nkey"].as_str().expect("nkey");
        assert!(nkey.starts_with('U'), "{nkey}");
        assert!(seen.connect["sig"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(seen.connect.get("pass"), None);
    }

    #[test]
    fn a_malformed_nkey_seed_is_refused_up_front_without_echoing_it() {
        let mut settings = ProviderSettings::new("nats", "nats://127.0.0.1:4222");
        settings.channel = Some("s".into());
        settings
            .secret_data
            .insert("nkey".into(), b"SUAGSECRETSEED".to_vec());
        let err = notifier(settings).err().expect("invalid");
        assert!(err.to_string().contains("nkey"), "{err}");
        assert!(!err.to_string().contains("SUAGSECRETSEED"), "{err}");
    }
}
