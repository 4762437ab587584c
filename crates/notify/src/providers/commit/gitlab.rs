//! `gitlab`: a commit status through the v4 API, the project given by its full path
//! (URL-encoded into one segment) or its numeric id. The statuses already on the commit under
//! the same name are read first and an identical one is not posted again; progressing events
//! are not posted.

use serde::Deserialize;
use serde_json::json;

use super::{Common, Progressing, parse_git_address};
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::{Http, headers};
use crate::providers::required_token;
use crate::settings::ProviderSettings;

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    sha: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: Option<String>,
}

pub(crate) struct GitLab {
    http: Http,
    common: Common,
    host: url::Url,
    project: String,
    token: String,
}

impl GitLab {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        let token = required_token(settings)?.to_owned();
        let (host, project) = parse_git_address(&settings.provider_type, &settings.address)?;
        let project = url::form_urlencoded::byte_serialize(project.as_bytes()).collect();
        Ok(Self {
            http: Http::new(settings)?,
            common: Common::new(settings, Progressing::Skip),
            host,
            project,
            token,
        })
    }

    fn endpoint(&self, tail: &str) -> url::Url {
        let mut url = self.host.clone();
        url.set_path(&format!("/api/v4/projects/{}/{tail}", self.project));
        url
    }

    async fn deliver(&self, event: &Event, id: Option<&str>) -> Result<(), NotifyError> {
        let Some(status) = self.common.read(event, id)? else {
            return Ok(());
        };
        let state = self.common.state(event, "running", "success", "failed")?;
        let headers = || {
            headers(
                &self.common.provider,
                [("PRIVATE-TOKEN", self.token.as_str())],
            )
        };
        let mut list = self.endpoint(&format!("repository/commits/{}/statuses", status.sha));
        list.query_pairs_mut().append_pair("name", &status.id);
        let answer = self
            .http
            .send(reqwest::Method::GET, &list, None, headers()?)
            .await?;
        let existing: Vec<Status> = serde_json::from_slice(&answer.body).unwrap_or_default();
        let duplicate = existing.iter().any(|s| {
            s.sha == status.sha
                && s.status == state
                && s.name == status.id
                && s.description.as_deref().unwrap_or_default() == status.description
        });
        if duplicate {
            return Ok(());
        }
        let payload = json!({
            "state": state,
            "name": status.id,
            "description": status.description,
        });
        let url = self.endpoint(&format!("statuses/{}", status.sha));
        self.http.post_json(&url, &payload, headers()?).await?;
        Ok(())
    }
}

commit_notifier_by_deliver!(GitLab);
