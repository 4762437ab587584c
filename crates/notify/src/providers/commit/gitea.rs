//! `gitea`: a commit status through Gitea's API (`/api/v1`), skipping a status identical to
//! the latest one with the same context. Progressing events become `pending`.

use serde::Deserialize;
use serde_json::json;

use super::{Common, Progressing, id_parts, parse_git_address};
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::{Http, headers};
use crate::providers::required_token;
use crate::settings::ProviderSettings;

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    status: String,
    #[serde(default)]
    context: String,
    #[serde(default)]
    description: String,
}

pub(crate) struct Gitea {
    http: Http,
    common: Common,
    host: url::Url,
    owner: String,
    repo: String,
    token: String,
}

impl Gitea {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        let provider = &settings.provider_type;
        let token = required_token(settings)?.to_owned();
        let (host, id) = parse_git_address(provider, &settings.address)?;
        let parts = id_parts(provider, &id, 2)?;
        Ok(Self {
            http: Http::new(settings)?,
            common: Common::new(settings, Progressing::Pending),
            host,
            owner: parts[0].to_owned(),
            repo: parts[1].to_owned(),
            token,
        })
    }

    fn endpoint(&self, tail: &str) -> url::Url {
        let mut url = self.host.clone();
        url.set_path(&format!(
            "/api/v1/repos/{}/{}/{tail}",
            self.owner, self.repo
        ));
        url
    }

    async fn deliver(&self, event: &Event, id: Option<&str>) -> Result<(), NotifyError> {
        let Some(status) = self.common.read(event, id)? else {
            return Ok(());
        };
        let state = self.common.state(event, "pending", "success", "failure")?;
        let auth = format!("token {}", self.token);
        let headers = || headers(&self.common.provider, [("Authorization", auth.as_str())]);
        let mut list = self.endpoint(&format!("commits/{}/statuses", status.sha));
        list.set_query(Some("page=1&limit=50"));
        let answer = self
            .http
            .send(reqwest::Method::GET, &list, None, headers()?)
            .await?;
        let existing: Vec<Status> = serde_json::from_slice(&answer.body).unwrap_or_default();
        let latest = existing
            .iter()
            .filter(|s| !s.context.is_empty() && !s.status.is_empty() && !s.description.is_empty())
            .find(|s| s.context == status.id);
        if latest.is_some_and(|s| s.status == state && s.description == status.description) {
            return Ok(());
        }
        let payload = json!({
            "state": state,
            "target_url": "",
            "description": status.description,
            "context": status.id,
        });
        self.http
            .post_json(
                &self.endpoint(&format!("statuses/{}", status.sha)),
                &payload,
                headers()?,
            )
            .await?;
        Ok(())
    }
}

commit_notifier_by_deliver!(Gitea);
