//! The Bearer token exchange (distribution's token authentication spec): GET the realm with
//! `service` and `scope`, Basic credentials when there are any, or POST an OAuth2
//! `refresh_token` grant for an `identitytoken`. The answer's `token` (or `access_token`) goes
//! into `Authorization: Bearer`.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{StatusCode, Url};

use crate::auth::Credential;
use crate::client::{Client, basic_header, error_detail, read_limited, safe};
use crate::error::OciError;

/// Token answers are small; anything bigger is not a token.
const MAX_TOKEN_RESPONSE: u64 = 1 << 20;

#[derive(serde::Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// A token for `scope` from `realm`.
pub(crate) async fn fetch_token(
    client: &Client,
    realm: &str,
    service: Option<&str>,
    scope: &str,
    credential: Option<&Credential>,
) -> Result<String, OciError> {
    let realm_safe = safe(realm);
    let fail = |detail: String| OciError::Token {
        realm: realm_safe.clone(),
        detail,
    };
    let mut url = Url::parse(realm).map_err(|e| fail(format!("invalid realm: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(fail("the realm is not an http(s) URL".to_owned()));
    }
    let method = match credential {
        Some(Credential::IdentityToken { .. }) => "POST",
        _ => "GET",
    };
    let request = match credential {
        Some(Credential::IdentityToken { token, .. }) => {
            let mut form = Url::parse("form:")
                .map_err(|e| fail(format!("encoding the refresh grant: {e}")))?;
            form.query_pairs_mut()
                .append_pair("grant_type", "refresh_token")
                .append_pair("refresh_token", token)
                .append_pair("client_id", "driftless")
                .append_pair("scope", scope);
            if let Some(service) = service {
                form.query_pairs_mut().append_pair("service", service);
            }
            client
                .http()
                .post(url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form.query().unwrap_or_default().to_owned())
        }
        other => {
            {
                let mut query = url.query_pairs_mut();
                if let Some(service) = service {
                    query.append_pair("service", service);
                }
                query.append_pair("scope", scope);
            }
            let mut request = client.http().get(url);
            if let Some(Credential::Basic { username, password }) = other {
                request = request.header(AUTHORIZATION, basic_header(username, password));
            }
            request
        }
    };
    let response = request.send().await.map_err(|e| OciError::Transport {
        method,
        url: realm_safe.clone(),
        source: e.without_url(),
    })?;
    let status = response.status();
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        return Err(OciError::Unauthorized {
            method,
            url: realm_safe.clone(),
            status: status.as_u16(),
            detail: error_detail(response).await,
        });
    }
    if !status.is_success() {
        return Err(fail(error_detail(response).await));
    }
    let body = read_limited(response, "token response", &realm_safe, MAX_TOKEN_RESPONSE).await?;
    let parsed: TokenResponse = serde_json::from_slice(&body)
        .map_err(|_| fail("the answer is not a JSON token response".to_owned()))?;
    parsed
        .token
        .or(parsed.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| fail("the answer holds no token".to_owned()))
}
