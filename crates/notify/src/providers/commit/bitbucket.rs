//! `bitbucket` (Cloud): a build status through the 2.0 API, authenticated with the
//! `<username>:<app-password>` token. The key is the SHA-1 of the status id (Bitbucket caps
//! keys at 40 characters). The status stored under that key is read first and an identical
//! one is not posted again. Progressing events are not posted.
//!
//! The API host is `api.bitbucket.org` for `bitbucket.org` addresses; any other host is taken
//! as serving the same API under `/2.0` (a proxy or a test server).

use serde::Deserialize;
use serde_json::json;
use sha1::Digest;

use super::{Common, Progressing, id_parts, parse_git_address};
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::{Http, headers};
use crate::providers::alerting::basic_auth;
use crate::providers::required_token;
use crate::settings::ProviderSettings;

#[derive(Deserialize, Default)]
struct Existing {
    #[serde(default)]
    state: String,
    #[serde(default)]
    description: String,
}

pub(crate) struct Bitbucket {
    http: Http,
    common: Common,
    api: url::Url,
    owner: String,
    repo: String,
    authorization: String,
}

impl Bitbucket {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        let provider = &settings.provider_type;
        let token = required_token(settings)?;
        let (user, password) = token
            .split_once(':')
            .filter(|(u, p)| !u.is_empty() && !p.is_empty() && !p.contains(':'))
            .ok_or_else(|| NotifyError::InvalidSetting {
                provider: provider.clone(),
                field: "token".into(),
                reason: "expected the format <user>:<password>".into(),
            })?;
        let (host, id) = parse_git_address(provider, &settings.address)?;
        let parts = id_parts(provider, &id, 2)?;
        let mut api = if host.host_str() == Some("bitbucket.org") {
            url::Url::parse("https://api.bitbucket.org/").map_err(|e| {
                NotifyError::InvalidAddress {
                    provider: provider.clone(),
                    reason: e.to_string(),
                }
            })?
        } else {
            host
        };
        api.set_path("/2.0/");
        Ok(Self {
            http: Http::new(settings)?,
            common: Common::new(settings, Progressing::Skip),
            api,
            owner: parts[0].to_owned(),
            repo: parts[1].to_owned(),
            authorization: basic_auth(user, password),
        })
    }

    async fn deliver(&self, event: &Event, id: Option<&str>) -> Result<(), NotifyError> {
        let Some(status) = self.common.read(event, id)? else {
            return Ok(());
        };
        let state = self
            .common
            .state(event, "INPROGRESS", "SUCCESSFUL", "FAILED")?;
        let key = hex::encode(sha1::Sha1::digest(status.id.as_bytes()));
        let mut url = self.api.clone();
        url.set_path(&format!(
            "/2.0/repositories/{}/{}/commit/{}/statuses/build",
            self.owner, self.repo, status.sha
        ));
        let headers = || {
            headers(
                &self.common.provider,
                [("Authorization", self.authorization.as_str())],
            )
        };
        let mut existing_url = url.clone();
        existing_url.set_path(&format!("{}/{key}", url.path()));
        let existing: Option<Existing> = self.http.get_optional(&existing_url, headers()?).await?;
        if existing.is_some_and(|e| e.state == state && e.description == status.description) {
            return Ok(());
        }
        let payload = json!({
            "state": state,
            "key": key,
            "name": status.name,
            "description": status.description,
            "url": "https://bitbucket.org",
        });
        self.http.post_json(&url, &payload, headers()?).await?;
        Ok(())
    }
}

commit_notifier_by_deliver!(Bitbucket);
