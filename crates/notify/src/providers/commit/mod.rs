//! Git commit status providers, and what they share: reading the commit out of the event's
//! revision, the repository out of the provider address, and the status key.
//!
//! The key (GitHub's context, GitLab's name…) is `<kind>/<name>/<first segment of the
//! Provider UID>` lower-cased, so that several clusters reporting on one commit do not
//! overwrite each other. With `commitStatusExpr` the key is a CEL result the caller evaluates
//! (it needs the Provider and Alert objects) and hands to [`crate::Notifier::post_with_commit_status`].

mod azuredevops;
mod bitbucket;
mod bitbucketserver;
mod gitea;
mod github;
mod github_app;
mod github_dispatch;
mod gitlab;

pub(crate) use azuredevops::AzureDevOps;
pub(crate) use bitbucket::Bitbucket;
pub(crate) use bitbucketserver::BitbucketServer;
pub(crate) use gitea::Gitea;
pub(crate) use github::GitHub;
pub(crate) use github_dispatch::GitHubDispatch;
pub(crate) use gitlab::GitLab;

use crate::error::NotifyError;
use crate::event::Event;
use crate::settings::ProviderSettings;

/// The default commit status key for `event`.
pub fn commit_status_id(provider_uid: &str, event: &Event) -> String {
    let uid_head = provider_uid.split('-').next().unwrap_or_default();
    let o = &event.involved_object;
    format!("{}/{}/{uid_head}", o.kind, o.name).to_lowercase()
}

/// The commit hash inside a Flux revision: `main@sha1:<hex>`, `sha1:<hex>`, `v1.0@sha256:<hex>`,
/// or the legacy `main/<hex>` and bare `<hex>` forms (SHA-1 or SHA-256 by length).
pub fn parse_revision(revision: &str) -> Option<String> {
    let tail = revision.rsplit_once('@').map_or(revision, |(_, t)| t);
    let hash = match tail.split_once(':') {
        Some(("sha1", hex)) if hex.len() == 40 => hex,
        Some(("sha256", hex)) if hex.len() == 64 => hex,
        Some(_) => return None,
        // Legacy `<ref>/<hex>`: the hash is the last path segment.
        None => {
            let hex = tail.rsplit_once('/').map_or(tail, |(_, h)| h);
            if hex.len() != 40 && hex.len() != 64 {
                return None;
            }
            hex
        }
    };
    hash.bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| hash.to_ascii_lowercase())
}

/// A repository address split the way Flux splits it: `scheme://host[:port]` (ssh becomes
/// https) and the path without its leading `/` and trailing `.git`. Accepts URLs and the
/// scp-like `git@host:owner/repo.git`.
pub(crate) fn parse_git_address(
    provider: &str,
    address: &str,
) -> Result<(url::Url, String), NotifyError> {
    let invalid = |reason: &str| NotifyError::InvalidAddress {
        provider: provider.to_owned(),
        reason: reason.to_owned(),
    };
    if address.is_empty() {
        return Err(NotifyError::MissingSetting {
            provider: provider.to_owned(),
            field: "address".into(),
        });
    }
    let normalised = if address.contains("://") {
        address.to_owned()
    } else if let Some((user_host, path)) = address.split_once(':') {
        // scp-like syntax: user@host:path
        format!("ssh://{user_host}/{path}")
    } else {
        return Err(invalid("not a repository URL"));
    };
    let url = url::Url::parse(&normalised).map_err(|e| invalid(&e.to_string()))?;
    let scheme = match url.scheme() {
        "ssh" | "git+ssh" => "https",
        "http" => "http",
        "https" => "https",
        _ => return Err(invalid("scheme is not http, https or ssh")),
    };
    let host = url.host_str().ok_or_else(|| invalid("no host"))?;
    let origin = match url.port() {
        Some(port) if scheme == url.scheme() => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    };
    let base = url::Url::parse(&origin).map_err(|e| invalid(&e.to_string()))?;
    let id = url.path().trim_start_matches('/');
    let id = id.strip_suffix(".git").unwrap_or(id).trim_end_matches('/');
    if id.is_empty() {
        return Err(invalid("no repository path"));
    }
    Ok((base, id.to_owned()))
}

/// Splits a repository id into exactly `n` `/`-separated parts.
pub(crate) fn id_parts<'a>(
    provider: &str,
    id: &'a str,
    n: usize,
) -> Result<Vec<&'a str>, NotifyError> {
    let parts: Vec<&str> = id.split('/').collect();
    if parts.len() != n || parts.iter().any(|p| p.is_empty()) {
        return Err(NotifyError::InvalidAddress {
            provider: provider.to_owned(),
            reason: format!("invalid repository id '{id}'"),
        });
    }
    Ok(parts)
}

/// What a commit status provider needs from one event, or `None` when the event is skipped.
pub(crate) struct StatusEvent {
    /// The commit hash.
    pub(crate) sha: String,
    /// Status key (context / name).
    pub(crate) id: String,
    /// `kind/name`, lower-cased.
    pub(crate) name: String,
    /// The reason as lower-case words.
    pub(crate) description: String,
}

/// How the provider treats `Progressing` events.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progressing {
    /// Not posted (GitHub, GitLab, Bitbucket, Bitbucket Server, Azure DevOps).
    Skip,
    /// Posted as a pending state (Gitea).
    Pending,
}

/// Common settings of the commit status providers.
pub(crate) struct Common {
    pub(crate) provider: String,
    pub(crate) provider_uid: String,
    pub(crate) has_expr: bool,
    pub(crate) progressing: Progressing,
}

impl Common {
    pub(crate) fn new(settings: &ProviderSettings, progressing: Progressing) -> Self {
        Self {
            provider: settings.provider_type.clone(),
            provider_uid: settings.provider_uid.clone().unwrap_or_default(),
            has_expr: settings
                .commit_status_expr
                .as_deref()
                .is_some_and(|e| !e.trim().is_empty()),
            progressing,
        }
    }

    /// Reads the event; events without a revision (or progressing, where skipped) are not for
    /// a commit status and yield `None`.
    pub(crate) fn read(
        &self,
        event: &Event,
        id: Option<&str>,
    ) -> Result<Option<StatusEvent>, NotifyError> {
        if self.progressing == Progressing::Skip && event.is_progressing() {
            return Ok(None);
        }
        let Some(revision) = event.revision() else {
            return Ok(None);
        };
        let sha = parse_revision(revision).ok_or_else(|| NotifyError::InvalidEvent {
            provider: self.provider.clone(),
            reason: format!("failed to extract commit hash from '{revision}' revision"),
        })?;
        let id = match id {
            Some(id) => id.to_owned(),
            None if self.has_expr => {
                return Err(NotifyError::UnsupportedFeature {
                    provider: self.provider.clone(),
                    feature: "commitStatusExpr without a caller-evaluated status key".into(),
                });
            }
            None => commit_status_id(&self.provider_uid, event),
        };
        let (name, description) = event.name_and_description();
        Ok(Some(StatusEvent {
            sha,
            id,
            name,
            description,
        }))
    }

    /// The state for a severity, or an error for `trace` and anything unknown.
    pub(crate) fn state<'a>(
        &self,
        event: &Event,
        pending: &'a str,
        success: &'a str,
        failure: &'a str,
    ) -> Result<&'a str, NotifyError> {
        if self.progressing == Progressing::Pending && event.is_progressing() {
            return Ok(pending);
        }
        match event.severity.as_str() {
            crate::event::SEVERITY_INFO => Ok(success),
            crate::event::SEVERITY_ERROR => Ok(failure),
            other => Err(NotifyError::InvalidEvent {
                provider: self.provider.clone(),
                reason: format!("can't convert severity '{other}' to a commit state"),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
