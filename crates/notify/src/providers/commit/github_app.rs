//! GitHub App authentication for the `github` provider, from the same Secret keys Flux reads
//! (`githubAppID`, `githubAppInstallationID` or `githubAppInstallationOwner`,
//! `githubAppPrivateKey`, optional `githubAppBaseURL`): a short-lived RS256 JWT for the app,
//! exchanged for an installation token before each delivery.

use std::collections::BTreeMap;

use base64::Engine;
use reqwest::Method;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls::pki_types::{PrivateKeyDer, pem::PemObject};
use serde::Deserialize;
use serde_json::json;

use crate::error::NotifyError;
use crate::http::{Http, headers};

const KEY_APP_ID: &str = "githubAppID";
const KEY_INSTALLATION_ID: &str = "githubAppInstallationID";
const KEY_INSTALLATION_OWNER: &str = "githubAppInstallationOwner";
const KEY_PRIVATE_KEY: &str = "githubAppPrivateKey";
const KEY_BASE_URL: &str = "githubAppBaseURL";

/// GitHub accepts app JWTs valid for at most ten minutes; the issue time is back-dated a
/// minute against clock drift, as GitHub recommends.
const JWT_LIFETIME_SECS: i64 = 540;
const JWT_BACKDATE_SECS: i64 = 60;

/// Which installation the token is for.
enum Installation {
    Id(String),
    Owner(String),
}

pub(crate) struct GitHubApp {
    app_id: String,
    installation: Installation,
    key: RsaKeyPair,
    api: url::Url,
}

#[derive(Deserialize)]
struct InstallationEntry {
    id: u64,
    #[serde(default)]
    account: Option<Account>,
}

#[derive(Deserialize)]
struct Account {
    #[serde(default)]
    login: String,
}

#[derive(Deserialize)]
struct AccessToken {
    token: String,
}

impl GitHubApp {
    /// The app configured in `secret`, if the Secret holds `githubAppID`.
    pub(crate) fn from_secret(
        provider: &str,
        secret: &BTreeMap<String, Vec<u8>>,
        default_api: &url::Url,
    ) -> Result<Option<Self>, NotifyError> {
        let text = |key: &str| {
            secret
                .get(key)
                .map(|v| String::from_utf8_lossy(v).trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let invalid = |field: &str, reason: &str| NotifyError::InvalidSetting {
            provider: provider.to_owned(),
            field: field.to_owned(),
            reason: reason.to_owned(),
        };
        let Some(app_id) = text(KEY_APP_ID) else {
            return Ok(None);
        };
        let installation = match (text(KEY_INSTALLATION_ID), text(KEY_INSTALLATION_OWNER)) {
            (Some(id), None) => Installation::Id(id),
            (None, Some(owner)) => Installation::Owner(owner),
            _ => {
                return Err(invalid(
                    "secret",
                    "exactly one of githubAppInstallationID or githubAppInstallationOwner must be set",
                ));
            }
        };
        let pem = secret
            .get(KEY_PRIVATE_KEY)
            .ok_or_else(|| invalid(KEY_PRIVATE_KEY, "missing"))?;
        // Parse errors stay generic: never echo key material.
        let key = match PrivateKeyDer::from_pem_slice(pem) {
            Ok(PrivateKeyDer::Pkcs1(der)) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            Ok(PrivateKeyDer::Pkcs8(der)) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            _ => return Err(invalid(KEY_PRIVATE_KEY, "not a PEM RSA private key")),
        }
        .map_err(|_| invalid(KEY_PRIVATE_KEY, "not a usable RSA private key"))?;
        let api = match text(KEY_BASE_URL) {
            Some(base) => {
                let base = format!("{}/", base.trim_end_matches('/'));
                url::Url::parse(&base).map_err(|e| invalid(KEY_BASE_URL, &e.to_string()))?
            }
            None => default_api.clone(),
        };
        Ok(Some(Self {
            app_id,
            installation,
            key,
            api,
        }))
    }

    /// A fresh installation access token.
    pub(crate) async fn installation_token(&self, http: &Http) -> Result<String, NotifyError> {
        let jwt = self.jwt(http.provider())?;
        let auth = format!("Bearer {jwt}");
        let headers = || {
            headers(
                http.provider(),
                [
                    ("Authorization", auth.as_str()),
                    ("Accept", "application/vnd.github+json"),
                ],
            )
        };
        let id = match &self.installation {
            Installation::Id(id) => id.clone(),
            Installation::Owner(owner) => {
                let url = self.endpoint(http.provider(), "app/installations?per_page=100")?;
                let answer = http.send(Method::GET, &url, None, headers()?).await?;
                let entries: Vec<InstallationEntry> = serde_json::from_slice(&answer.body)
                    .map_err(|e| self.bad_answer(http, &e.to_string()))?;
                entries
                    .iter()
                    .find(|i| {
                        i.account
                            .as_ref()
                            .is_some_and(|a| a.login.eq_ignore_ascii_case(owner))
                    })
                    .map(|i| i.id.to_string())
                    .ok_or_else(|| {
                        self.bad_answer(http, &format!("no installation for owner '{owner}'"))
                    })?
            }
        };
        let url = self.endpoint(
            http.provider(),
            &format!("app/installations/{id}/access_tokens"),
        )?;
        let answer = http.post_json(&url, &json!({}), headers()?).await?;
        let token: AccessToken = serde_json::from_slice(&answer.body)
            .map_err(|e| self.bad_answer(http, &e.to_string()))?;
        Ok(token.token)
    }

    fn endpoint(&self, provider: &str, tail: &str) -> Result<url::Url, NotifyError> {
        self.api
            .join(tail)
            .map_err(|e| NotifyError::InvalidSetting {
                provider: provider.to_owned(),
                field: KEY_BASE_URL.into(),
                reason: e.to_string(),
            })
    }

    fn bad_answer(&self, http: &Http, reason: &str) -> NotifyError {
        NotifyError::InvalidEvent {
            provider: http.provider().to_owned(),
            reason: format!("GitHub App installation token: {reason}"),
        }
    }

    /// `header.claims.signature`, base64url without padding, signed RS256.
    fn jwt(&self, provider: &str) -> Result<String, NotifyError> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let now = jiff::Timestamp::now().as_second();
        let header = b64.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = json!({
            "iat": now - JWT_BACKDATE_SECS,
            "exp": now + JWT_LIFETIME_SECS,
            "iss": self.app_id,
        });
        let claims = b64.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| NotifyError::InvalidSetting {
                provider: provider.to_owned(),
                field: KEY_PRIVATE_KEY.into(),
                reason: "signing the app JWT failed".into(),
            })?;
        Ok(format!("{signing_input}.{}", b64.encode(signature)))
    }
}

#[cfg(test)]
mod tests {
    use ring::signature::{KeyPair, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    use serde_json::Value;

    use super::*;
    use crate::providers::notifier;
    use crate::providers::testserver::{Recorded, TestServer, post_ok, sample_event};
    use crate::settings::ProviderSettings;

    /// A throwaway 2048-bit key made for these tests only.
    const TEST_KEY: &str = include_str!("testdata/github-app-test-key.pem");

    fn app_secret(installation: (&str, &str)) -> BTreeMap<String, Vec<u8>> {
        BTreeMap::from([
            (KEY_APP_ID.to_owned(), b"1234".to_vec()),
            (
                installation.0.to_owned(),
                installation.1.as_bytes().to_vec(),
            ),
            (KEY_PRIVATE_KEY.to_owned(), TEST_KEY.as_bytes().to_vec()),
        ])
    }

    /// Answers the app endpoints and the status endpoints like GitHub does.
    async fn github() -> TestServer {
        TestServer::start_with(|r: &Recorded| match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/api/v3/app/installations") => (
                200,
                r#"[{"id":7,"account":{"login":"other"}},{"id":42,"account":{"login":"Org"}}]"#
                    .to_owned(),
            ),
            ("POST", "/api/v3/app/installations/42/access_tokens") => (
                201,
                r#"{"token":"ghs_installation","expires_at":"2099-01-01T00:00:00Z"}"#.to_owned(),
            ),
            ("GET", _) => (200, "[]".to_owned()),
            _ => (201, "{}".to_owned()),
        })
        .await
    }

    fn verify_jwt(authorization: &str) -> Value {
        let jwt = authorization.strip_prefix("Bearer ").expect("bearer");
        let (signing_input, signature) = jwt.rsplit_once('.').expect("three parts");
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let key = match PrivateKeyDer::from_pem_slice(TEST_KEY.as_bytes()).expect("pem") {
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()).expect("key"),
            _ => panic!("test key is PKCS#1"),
        };
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key().as_ref())
            .verify(
                signing_input.as_bytes(),
                &b64.decode(signature).expect("b64"),
            )
            .expect("signature verifies with the app's public key");
        let (header, claims) = signing_input.split_once('.').expect("header.claims");
        let header: Value =
            serde_json::from_slice(&b64.decode(header).expect("b64")).expect("json");
        assert_eq!(header["alg"], "RS256");
        serde_json::from_slice(&b64.decode(claims).expect("b64")).expect("json")
    }

    #[tokio::test]
    async fn an_app_secret_exchanges_a_signed_jwt_for_an_installation_token() {
        let server = github().await;
        let mut settings = ProviderSettings::new("github", &server.url("/org/repo"));
        settings.secret_data = app_secret((KEY_INSTALLATION_ID, "42"));
        post_ok(settings, &sample_event()).await;
        let requests = server.requests();
        assert_eq!(requests.len(), 3, "{requests:?}");
        assert_eq!(
            requests[0].path,
            "/api/v3/app/installations/42/access_tokens"
        );
        let claims = verify_jwt(requests[0].header("authorization").expect("jwt"));
        assert_eq!(claims["iss"], "1234");
        let lifetime = claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat");
        assert!(
            lifetime <= 600,
            "GitHub caps app JWTs at ten minutes: {lifetime}"
        );
        assert_eq!(requests[2].method, "POST");
        assert_eq!(
            requests[2].header("authorization"),
            Some("Bearer ghs_installation")
        );
    }

    #[tokio::test]
    async fn an_installation_owner_is_looked_up_among_the_apps_installations() {
        let server = github().await;
        let mut settings = ProviderSettings::new("github", &server.url("/org/repo"));
        settings.secret_data = app_secret((KEY_INSTALLATION_OWNER, "org"));
        post_ok(settings, &sample_event()).await;
        let requests = server.requests();
        assert_eq!(requests[0].path, "/api/v3/app/installations");
        assert_eq!(
            requests[1].path,
            "/api/v3/app/installations/42/access_tokens"
        );
        assert_eq!(requests.len(), 4);
    }

    #[test]
    fn an_app_secret_needs_exactly_one_installation_selector_and_a_usable_key() {
        let mut secret = app_secret((KEY_INSTALLATION_ID, "42"));
        secret.insert(KEY_INSTALLATION_OWNER.into(), b"org".to_vec());
        let mut settings = ProviderSettings::new("github", "https://github.com/org/repo");
        settings.secret_data = secret;
        let err = notifier(settings.clone()).err().expect("both selectors");
        assert!(err.to_string().contains("exactly one"), "{err}");

        settings.secret_data = app_secret((KEY_INSTALLATION_ID, "42"));
        settings
            .secret_data
            .insert(KEY_PRIVATE_KEY.into(), b"SECRET-NOT-A-KEY".to_vec());
        let err = notifier(settings).err().expect("bad key");
        assert!(
            err.to_string().contains("not a PEM RSA private key"),
            "{err}"
        );
        assert!(!err.to_string().contains("SECRET-NOT-A-KEY"), "{err}");
    }
}
