//! `bitbucketserver` (Server / Data Center): a build status through
//! `<context path>/rest/api/latest/projects/<key>/repos/<slug>/commits/<sha>/builds`, with an
//! HTTP access token (Bearer) or username/password (Basic). The address must be the HTTP(S)
//! clone URL: everything before its last `/scm/` is the context path. The status already
//! stored under the same key is read first, and an identical one is not posted again.

use serde::Deserialize;
use serde_json::json;
use sha1::Digest;

use super::{Common, Progressing, id_parts, parse_git_address};
use crate::error::NotifyError;
use crate::event::Event;
use crate::http::{Http, headers};
use crate::providers::alerting::basic_auth;
use crate::settings::ProviderSettings;

#[derive(Deserialize, Default)]
struct BuildStatus {
    #[serde(default)]
    key: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

pub(crate) struct BitbucketServer {
    http: Http,
    common: Common,
    host: url::Url,
    context_path: String,
    project: String,
    slug: String,
    address: String,
    authorization: String,
}

impl BitbucketServer {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        let provider = &settings.provider_type;
        let invalid = |reason: &str| NotifyError::InvalidAddress {
            provider: provider.clone(),
            reason: reason.to_owned(),
        };
        if !settings.address.starts_with("http://") && !settings.address.starts_with("https://") {
            return Err(invalid("must be an http or https clone URL"));
        }
        let (host, id) = parse_git_address(provider, &settings.address)?;
        let with_context = format!("/{id}");
        let at = with_context
            .rfind("/scm/")
            .ok_or_else(|| invalid("not an http(s) git clone URL (no /scm/ in the path)"))?;
        let context_path = with_context[..at].to_owned();
        let parts = id_parts(provider, &with_context[at + 5..], 2)?;
        let authorization = match (
            settings.token.as_deref().filter(|t| !t.is_empty()),
            settings.username.as_deref().filter(|u| !u.is_empty()),
            settings.password.as_deref().filter(|p| !p.is_empty()),
        ) {
            (Some(token), _, _) => format!("Bearer {token}"),
            (None, Some(user), Some(password)) => basic_auth(user, password),
            _ => {
                return Err(NotifyError::MissingSetting {
                    provider: provider.clone(),
                    field: "token, or username and password,".into(),
                });
            }
        };
        Ok(Self {
            http: Http::new(settings)?,
            common: Common::new(settings, Progressing::Skip),
            host,
            context_path,
            project: parts[0].to_owned(),
            slug: parts[1].to_owned(),
            address: settings.address.clone(),
            authorization,
        })
    }

    async fn deliver(&self, event: &Event, id: Option<&str>) -> Result<(), NotifyError> {
        let Some(status) = self.common.read(event, id)? else {
            return Ok(());
        };
        let state = self
            .common
            .state(event, "INPROGRESS", "SUCCESSFUL", "FAILED")?;
        // Bitbucket Server shows only the name in its UI, so the description rides along.
        let name = format!("{} [{}]", status.name, status.description);
        let key = hex::encode(sha1::Sha1::digest(status.id.as_bytes()));
        let mut url = self.host.clone();
        url.set_path(&format!(
            "{}/rest/api/latest/projects/{}/repos/{}/commits/{}/builds",
            self.context_path, self.project, self.slug, status.sha
        ));
        let headers = || {
            headers(
                &self.common.provider,
                [
                    ("Authorization", self.authorization.as_str()),
                    ("x-atlassian-token", "no-check"),
                    ("x-requested-with", "XMLHttpRequest"),
                ],
            )
        };
        let mut get = url.clone();
        get.query_pairs_mut().append_pair("key", &key);
        let existing: Option<BuildStatus> = self.http.get_optional(&get, headers()?).await?;
        let duplicate = existing.is_some_and(|e| {
            e.key == key
                && e.state == state
                && e.description == status.description
                && e.name == name
        });
        if duplicate {
            return Ok(());
        }
        let payload = json!({
            "key": key,
            "state": state,
            "url": self.address,
            "description": status.description,
            "name": name,
        });
        self.http.post_json(&url, &payload, headers()?).await?;
        Ok(())
    }
}

commit_notifier_by_deliver!(BitbucketServer);
