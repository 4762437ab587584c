//! `gitlab`: a commit status through the v4 API (`POST /projects/:id/statuses/:sha`), the
//! project given by its full path (URL-encoded) or its numeric id. Progressing events become
//! `running`. GitLab refuses to repeat a state (`Cannot transition status…`); that answer means
//! the status already says what we would post, so it is not an error.

use serde_json::json;

use super::{Common, Progressing, parse_git_address};
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::{Http, headers};
use crate::providers::required_token;
use crate::settings::ProviderSettings;

/// GitLab's answer when the commit already carries this state.
const ALREADY_IN_STATE: &str = "Cannot transition status";

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
        Ok(Self {
            http: Http::new(settings)?,
            common: Common::new(settings, Progressing::Pending),
            host,
            project,
            token,
        })
    }

    async fn deliver(&self, event: &Event, id: Option<&str>) -> Result<(), NotifyError> {
        let Some(status) = self.common.read(event, id)? else {
            return Ok(());
        };
        let state = self.common.state(event, "running", "success", "failed")?;
        let mut url = self.host.clone();
        // The project path is one URL segment: its slashes are encoded.
        let project: String =
            url::form_urlencoded::byte_serialize(self.project.as_bytes()).collect();
        url.set_path(&format!(
            "/api/v4/projects/{project}/statuses/{}",
            status.sha
        ));
        let payload = json!({
            "state": state,
            "name": status.id,
            "description": status.description,
        });
        let headers = headers(
            &self.common.provider,
            [("PRIVATE-TOKEN", self.token.as_str())],
        )?;
        match self.http.post_json(&url, &payload, headers).await {
            Err(NotifyError::Status {
                status: 400, body, ..
            }) if body.contains(ALREADY_IN_STATE) => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

commit_notifier_by_deliver!(GitLab);
