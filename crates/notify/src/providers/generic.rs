//! `generic` and `generic-hmac`: the event itself, POSTed as JSON. Flux adds a
//! `gotk-component` header naming the reporting controller, then the Secret's headers; the
//! HMAC flavour signs the exact body with the token in `X-Signature: sha256=<hex>`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{parse_address, required_token};
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::{Http, headers};
use crate::settings::ProviderSettings;

/// Header naming the controller that reported the event.
const COMPONENT_HEADER: &str = "gotk-component";
/// Header carrying the body's HMAC for `generic-hmac`.
const SIGNATURE_HEADER: &str = "X-Signature";

pub(crate) struct Generic {
    http: Http,
    url: url::Url,
    headers: Vec<(String, String)>,
    hmac_key: Option<Vec<u8>>,
}

impl Generic {
    pub(crate) fn new(settings: &ProviderSettings, signed: bool) -> Result<Self, NotifyError> {
        let url = parse_address(&settings.provider_type, &settings.address)?;
        let hmac_key = if signed {
            Some(required_token(settings)?.as_bytes().to_vec())
        } else {
            None
        };
        let headers = settings
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Self {
            http: Http::new(settings)?,
            url,
            headers,
            hmac_key,
        })
    }

    async fn deliver(&self, event: &Event) -> Result<(), NotifyError> {
        let body = self.http.encode(event)?;
        let mut pairs: Vec<(&str, String)> =
            vec![(COMPONENT_HEADER, event.reporting_controller.clone())];
        pairs.extend(self.headers.iter().map(|(k, v)| (k.as_str(), v.clone())));
        if let Some(key) = &self.hmac_key {
            pairs.push((SIGNATURE_HEADER, format!("sha256={}", sign(key, &body))));
        }
        let headers = headers(
            self.http.provider(),
            pairs.iter().map(|(k, v)| (*k, v.as_str())),
        )?;
        self.http
            .send(reqwest::Method::POST, &self.url, Some(body), headers)
            .await?;
        Ok(())
    }
}

/// Hex HMAC-SHA256 of `body` keyed with `key`.
pub(crate) fn sign(key: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

notifier_by_deliver!(Generic);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::notifier;
    use crate::providers::testserver::{TestServer, post_err, post_ok, sample_event};

    #[tokio::test]
    async fn generic_posts_the_event_as_json_with_the_component_and_custom_headers() {
        let server = TestServer::start().await;
        let mut settings = ProviderSettings::new("generic", &server.url("/hook"));
        settings
            .headers
            .insert("X-Custom".into(), "custom-value".into());
        let notifier = notifier(settings).expect("notifier");
        let event = sample_event();
        notifier.post(&event).await.expect("posted");
        let request = server.single_request().await;
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/hook");
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(
            request.header("gotk-component"),
            Some("kustomize-controller")
        );
        assert_eq!(request.header("x-custom"), Some("custom-value"));
        let posted: Event = serde_json::from_slice(&request.body).expect("event json");
        assert_eq!(posted, event);
    }

    #[tokio::test]
    async fn generic_hmac_signs_the_exact_body_with_the_token() {
        let server = TestServer::start().await;
        let mut settings = ProviderSettings::new("generic-hmac", &server.url("/hook"));
        settings.token = Some("hmac-secret".into());
        post_ok(settings, &sample_event()).await;
        let request = server.single_request().await;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"hmac-secret").expect("key");
        mac.update(&request.body);
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(request.header("x-signature"), Some(expected.as_str()));
    }

    #[test]
    fn generic_hmac_without_a_token_is_an_error() {
        let settings = ProviderSettings::new("generic-hmac", "http://127.0.0.1:1/");
        let err = notifier(settings).err().expect("error");
        assert_eq!(err.to_string(), "generic-hmac: token is required");
    }

    #[tokio::test]
    async fn a_rejected_request_reports_the_status_without_the_token_or_address() {
        let server = TestServer::start_with_status(500, "bad token hmac-secret").await;
        let address = server.url("/hook?key=query-secret");
        let mut settings = ProviderSettings::new("generic-hmac", &address);
        settings.token = Some("hmac-secret".into());
        let err = post_err(settings, &sample_event()).await;
        let text = err.to_string();
        assert!(text.contains("500"), "{text}");
        assert!(!text.contains("hmac-secret"), "{text}");
        assert!(!text.contains("query-secret"), "{text}");
    }

    #[tokio::test]
    async fn an_unreachable_address_is_an_error_without_the_address() {
        let mut settings =
            ProviderSettings::new("generic", "http://127.0.0.1:9/hook?token=query-secret");
        settings.timeout = std::time::Duration::from_secs(2);
        let err = post_err(settings, &sample_event()).await;
        let text = err.to_string();
        assert!(text.starts_with("generic: request failed"), "{text}");
        assert!(!text.contains("query-secret"), "{text}");
    }

    #[test]
    fn an_invalid_address_is_an_error_that_does_not_echo_it() {
        let err = notifier(ProviderSettings::new("generic", "not a url secret-ish"))
            .err()
            .expect("error");
        assert!(!err.to_string().contains("secret-ish"));
    }

    #[test]
    fn an_unknown_type_is_unsupported() {
        let err = notifier(ProviderSettings::new("carrier-pigeon", "http://x/"))
            .err()
            .expect("error");
        assert_eq!(
            err.to_string(),
            "unsupported provider type 'carrier-pigeon'"
        );
    }
}
