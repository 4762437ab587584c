//! `github`: a commit status through the REST API (`api.github.com` for github.com, `/api/v3`
//! on GitHub Enterprise Server), authenticated with a personal access token or as a GitHub App.
//! The latest status with the same context is read first and an identical one is not posted
//! again, as Flux does.

use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::json;

use super::github_app::GitHubApp;
use super::{Common, Progressing, id_parts, parse_git_address};
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::{Http, headers};
use crate::providers::required_token;
use crate::settings::ProviderSettings;

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    context: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// A GitHub repository's REST API, authenticated with a token or as a GitHub App; shared by
/// the `github` and `githubdispatch` providers.
pub(crate) struct GitHubRepo {
    pub(crate) http: Http,
    api: url::Url,
    owner: String,
    repo: String,
    auth: Auth,
}

/// How requests authenticate.
enum Auth {
    Token(String),
    App(Box<GitHubApp>),
}

impl GitHubRepo {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        let provider = &settings.provider_type;
        let (host, id) = parse_git_address(provider, &settings.address)?;
        let parts = id_parts(provider, &id, 2)?;
        let api = if host.host_str() == Some("github.com") {
            url::Url::parse("https://api.github.com/")
        } else {
            host.join("/api/v3/")
        }
        .map_err(|e| NotifyError::InvalidAddress {
            provider: provider.clone(),
            reason: e.to_string(),
        })?;
        let auth = match GitHubApp::from_secret(provider, &settings.secret_data, &api)? {
            Some(app) => Auth::App(Box::new(app)),
            None => Auth::Token(required_token(settings)?.to_owned()),
        };
        Ok(Self {
            http: Http::new(&with_app_secret_tls(settings))?,
            api,
            owner: parts[0].to_owned(),
            repo: parts[1].to_owned(),
            auth,
        })
    }

    /// `repos/<owner>/<repo>/<tail>` under the API root.
    pub(crate) fn endpoint(&self, tail: &str) -> Result<url::Url, NotifyError> {
        self.api
            .join(&format!("repos/{}/{}/{tail}", self.owner, self.repo))
            .map_err(|e| NotifyError::InvalidAddress {
                provider: self.http.provider().to_owned(),
                reason: e.to_string(),
            })
    }

    /// Headers for one delivery (a GitHub App fetches a fresh installation token).
    pub(crate) async fn headers(&self) -> Result<HeaderMap, NotifyError> {
        let token = match &self.auth {
            Auth::Token(token) => token.clone(),
            Auth::App(app) => app.installation_token(&self.http).await?,
        };
        headers(
            self.http.provider(),
            [
                ("Authorization", format!("Bearer {token}").as_str()),
                ("Accept", "application/vnd.github+json"),
            ],
        )
    }
}

pub(crate) struct GitHub {
    repo: GitHubRepo,
    common: Common,
}

impl GitHub {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        Ok(Self {
            repo: GitHubRepo::new(settings)?,
            common: Common::new(settings, Progressing::Skip),
        })
    }

    async fn deliver(&self, event: &Event, id: Option<&str>) -> Result<(), NotifyError> {
        let Some(status) = self.common.read(event, id)? else {
            return Ok(());
        };
        let state = self.common.state(event, "pending", "success", "failure")?;
        let headers = self.repo.headers().await?;
        let mut list = self
            .repo
            .endpoint(&format!("commits/{}/statuses", status.sha))?;
        list.set_query(Some("per_page=50"));
        let answer = self
            .repo
            .http
            .send(reqwest::Method::GET, &list, None, headers.clone())
            .await?;
        // An unreadable list only costs a possibly duplicate status.
        let existing: Vec<Status> = serde_json::from_slice(&answer.body).unwrap_or_default();
        let latest = existing
            .iter()
            .find(|s| s.context.as_deref() == Some(status.id.as_str()));
        if let Some(latest) = latest
            && latest.state.as_deref() == Some(state)
            && latest.description.as_deref() == Some(status.description.as_str())
        {
            return Ok(());
        }
        let payload = json!({
            "state": state,
            "description": status.description,
            "context": status.id,
        });
        let url = self.repo.endpoint(&format!("statuses/{}", status.sha))?;
        self.repo.http.post_json(&url, &payload, headers).await?;
        Ok(())
    }
}

/// For GitHub Enterprise Server behind a private CA, Flux also takes `ca.crt` (and
/// `tls.crt`/`tls.key`) from the `secretRef` Secret; `certSecretRef` wins when both are set.
fn with_app_secret_tls(settings: &ProviderSettings) -> ProviderSettings {
    let mut settings = settings.clone();
    let from_secret = |key: &str| settings.secret_data.get(key).cloned();
    if settings.ca_pem.is_none() {
        settings.ca_pem = from_secret("ca.crt");
    }
    if settings.client_cert_pem.is_none() && settings.client_key_pem.is_none() {
        settings.client_cert_pem = from_secret("tls.crt");
        settings.client_key_pem = from_secret("tls.key");
    }
    settings
}

commit_notifier_by_deliver!(GitHub);
