//! One module per provider type, and the factory that picks one from `spec.type`.

/// Implements [`Notifier`] for a provider whose `async fn deliver(&self, &Event)` does the work.
macro_rules! notifier_by_deliver {
    ($provider:ty) => {
        impl crate::Notifier for $provider {
            fn post<'a>(
                &'a self,
                event: &'a crate::event::Event,
            ) -> futures::future::BoxFuture<'a, Result<(), crate::error::NotifyError>> {
                Box::pin(self.deliver(event))
            }
        }
    };
}

/// Implements [`Notifier`] for a commit status provider whose
/// `async fn deliver(&self, &Event, Option<&str>)` takes the caller's status key, if any.
macro_rules! commit_notifier_by_deliver {
    ($provider:ty) => {
        impl crate::Notifier for $provider {
            fn post<'a>(
                &'a self,
                event: &'a crate::event::Event,
            ) -> futures::future::BoxFuture<'a, Result<(), crate::error::NotifyError>> {
                Box::pin(self.deliver(event, None))
            }

            fn post_with_commit_status<'a>(
                &'a self,
                event: &'a crate::event::Event,
                commit_status: &'a str,
            ) -> futures::future::BoxFuture<'a, Result<(), crate::error::NotifyError>> {
                Box::pin(self.deliver(event, Some(commit_status)))
            }
        }
    };
}

mod alerting;
pub(crate) mod commit;
mod generic;
mod googlechat;
mod lark;
mod matrix;
mod msteams;
mod nats;
mod pagerduty;
mod sentry;
mod slack;
mod telegram;
mod webex;

use alerting::{Alerting, Tool};
use slack::{Flavour, Slack};

use crate::Notifier;
use crate::error::NotifyError;
use crate::settings::ProviderSettings;

/// Every `spec.type` [`notifier`] accepts.
pub const SUPPORTED_TYPES: &[&str] = &[
    "generic",
    "generic-hmac",
    "slack",
    "discord",
    "rocket",
    "msteams",
    "googlechat",
    "webex",
    "telegram",
    "lark",
    "matrix",
    "opsgenie",
    "pagerduty",
    "alertmanager",
    "grafana",
    "datadog",
    "sentry",
    "nats",
    "github",
    "githubdispatch",
    "gitlab",
    "gitea",
    "bitbucket",
    "bitbucketserver",
    "azuredevops",
];

/// The notifier for `settings.provider_type`.
pub fn notifier(settings: ProviderSettings) -> Result<Box<dyn Notifier>, NotifyError> {
    let s = &settings;
    Ok(match settings.provider_type.as_str() {
        "generic" => Box::new(generic::Generic::new(s, false)?),
        "generic-hmac" => Box::new(generic::Generic::new(s, true)?),
        "slack" => Box::new(Slack::new(s, Flavour::Slack)?),
        "discord" => Box::new(Slack::new(s, Flavour::Discord)?),
        "rocket" => Box::new(Slack::new(s, Flavour::Rocket)?),
        "msteams" => Box::new(msteams::MsTeams::new(s)?),
        "googlechat" => Box::new(googlechat::GoogleChat::new(s)?),
        "webex" => Box::new(webex::Webex::new(s)?),
        "telegram" => Box::new(telegram::Telegram::new(s)?),
        "lark" => Box::new(lark::Lark::new(s)?),
        "matrix" => Box::new(matrix::Matrix::new(s)?),
        "opsgenie" => Box::new(Alerting::new(s, Tool::Opsgenie)?),
        "alertmanager" => Box::new(Alerting::new(s, Tool::Alertmanager)?),
        "grafana" => Box::new(Alerting::new(s, Tool::Grafana)?),
        "datadog" => Box::new(Alerting::new(s, Tool::DataDog)?),
        "pagerduty" => Box::new(pagerduty::PagerDuty::new(s)?),
        "sentry" => Box::new(sentry::Sentry::new(s)?),
        "nats" => Box::new(nats::Nats::new(s)?),
        "github" => Box::new(commit::GitHub::new(s)?),
        "githubdispatch" => Box::new(commit::GitHubDispatch::new(s)?),
        "gitlab" => Box::new(commit::GitLab::new(s)?),
        "gitea" => Box::new(commit::Gitea::new(s)?),
        "bitbucket" => Box::new(commit::Bitbucket::new(s)?),
        "bitbucketserver" => Box::new(commit::BitbucketServer::new(s)?),
        "azuredevops" => Box::new(commit::AzureDevOps::new(s)?),
        other => {
            return Err(NotifyError::UnsupportedProvider {
                provider_type: other.to_owned(),
            });
        }
    })
}

/// Parses the provider address; the error never repeats the address.
pub(crate) fn parse_address(provider: &str, address: &str) -> Result<url::Url, NotifyError> {
    if address.is_empty() {
        return Err(NotifyError::MissingSetting {
            provider: provider.to_owned(),
            field: "address".into(),
        });
    }
    let url = url::Url::parse(address).map_err(|e| NotifyError::InvalidAddress {
        provider: provider.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(NotifyError::InvalidAddress {
            provider: provider.to_owned(),
            reason: format!("scheme '{}' is not http or https", url.scheme()),
        });
    }
    Ok(url)
}

/// `channel`, required and non-empty; `meaning` says what the provider uses it for.
pub(crate) fn required_channel(
    settings: &ProviderSettings,
    meaning: &str,
) -> Result<String, NotifyError> {
    settings
        .channel
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| NotifyError::MissingSetting {
            provider: settings.provider_type.clone(),
            field: format!("channel ({meaning})"),
        })
}

/// The token, required and non-empty.
pub(crate) fn required_token(settings: &ProviderSettings) -> Result<&str, NotifyError> {
    settings
        .token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| NotifyError::MissingSetting {
            provider: settings.provider_type.clone(),
            field: "token".into(),
        })
}

#[cfg(test)]
pub(crate) mod testserver;
