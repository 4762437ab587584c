//! `azuredevops`: a commit status through the Azure DevOps Git API, with a personal access
//! token (Basic, empty user). The address is the repository URL
//! `https://dev.azure.com/<org>/<project>/_git/<repo>`. The newest status with the same
//! genre and name is read first, and an identical one is not posted again. Progressing
//! events are not posted.

use serde::Deserialize;
use serde_json::json;

use super::{Common, Progressing, id_parts, parse_git_address};
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::{Http, headers};
use crate::providers::alerting::basic_auth;
use crate::providers::required_token;
use crate::settings::ProviderSettings;

/// The genre Flux files its statuses under.
const GENRE: &str = "fluxcd";
/// The REST API version used.
const API_VERSION: &str = "6.0";

#[derive(Deserialize)]
struct Statuses {
    #[serde(default)]
    value: Vec<Status>,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    state: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    context: Context,
}

#[derive(Deserialize, Default)]
struct Context {
    #[serde(default)]
    name: String,
    #[serde(default)]
    genre: String,
}

pub(crate) struct AzureDevOps {
    http: Http,
    common: Common,
    statuses: String,
    host: url::Url,
    authorization: String,
}

impl AzureDevOps {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        let provider = &settings.provider_type;
        let token = required_token(settings)?;
        let (host, id) = parse_git_address(provider, &settings.address)?;
        let parts = id_parts(provider, &id, 4)?;
        let statuses = format!(
            "/{}/{}/_apis/git/repositories/{}/commits",
            parts[0], parts[1], parts[3]
        );
        Ok(Self {
            http: Http::new(settings)?,
            common: Common::new(settings, Progressing::Skip),
            statuses,
            host,
            authorization: basic_auth("", token),
        })
    }

    async fn deliver(&self, event: &Event, id: Option<&str>) -> Result<(), NotifyError> {
        let Some(status) = self.common.read(event, id)? else {
            return Ok(());
        };
        let state = self.common.state(event, "pending", "succeeded", "error")?;
        let mut url = self.host.clone();
        url.set_path(&format!("{}/{}/statuses", self.statuses, status.sha));
        url.set_query(Some(&format!("api-version={API_VERSION}")));
        let headers = || {
            headers(
                &self.common.provider,
                [("Authorization", self.authorization.as_str())],
            )
        };
        let answer = self
            .http
            .send(reqwest::Method::GET, &url, None, headers()?)
            .await?;
        let existing: Statuses =
            serde_json::from_slice(&answer.body).unwrap_or(Statuses { value: Vec::new() });
        let latest = existing
            .value
            .iter()
            .find(|s| s.context.name == status.id && s.context.genre == GENRE);
        if latest.is_some_and(|s| s.state == state && s.description == status.description) {
            return Ok(());
        }
        let payload = json!({
            "state": state,
            "description": status.description,
            "context": {"genre": GENRE, "name": status.id},
        });
        self.http.post_json(&url, &payload, headers()?).await?;
        Ok(())
    }
}

commit_notifier_by_deliver!(AzureDevOps);
