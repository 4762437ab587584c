//! `githubdispatch`: a `repository_dispatch` event on the repository, so a GitHub Actions
//! workflow can react to Flux. The event type is `Kind/name.namespace` and the client payload
//! is the Flux event itself, as Flux sends them.

use serde_json::json;

use super::github::GitHubRepo;
use crate::error::NotifyError;
use crate::event::Event;
use crate::settings::ProviderSettings;

pub(crate) struct GitHubDispatch {
    repo: GitHubRepo,
}

impl GitHubDispatch {
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        Ok(Self {
            repo: GitHubRepo::new(settings)?,
        })
    }

    async fn deliver(&self, event: &Event) -> Result<(), NotifyError> {
        if event.is_commit_status_update() {
            return Ok(());
        }
        let o = &event.involved_object;
        let payload = json!({
            "event_type": format!("{}/{}.{}", o.kind, o.name, o.namespace),
            "client_payload": event,
        });
        let headers = self.repo.headers().await?;
        let url = self.repo.endpoint("dispatches")?;
        self.repo.http.post_json(&url, &payload, headers).await?;
        Ok(())
    }
}

notifier_by_deliver!(GitHubDispatch);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{TestServer, post_ok, sample_event};

    #[tokio::test]
    async fn a_repository_dispatch_carries_the_event_as_client_payload() {
        let server = TestServer::start_with_status(204, "").await;
        let mut settings = ProviderSettings::new("githubdispatch", &server.url("/org/repo"));
        settings.token = Some("ghp-secret".into());
        post_ok(settings, &sample_event()).await;
        let request = server.single_request().await;
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/api/v3/repos/org/repo/dispatches");
        assert_eq!(request.header("authorization"), Some("Bearer ghp-secret"));
        let body = request.json();
        assert_eq!(body["event_type"], "Kustomization/apps.flux-system");
        let posted: Event =
            serde_json::from_value(body["client_payload"].clone()).expect("event payload");
        assert_eq!(posted, sample_event());
    }
}
