//! Repository URLs: Flux's accepted schemes, credential extraction and sanitising.
//!
//! Flux accepts only `http://`, `https://` and `ssh://` (scp-like `git@host:repo` is
//! rejected by the CRD pattern). Credentials embedded in the URL are lifted out so that
//! no message, log or gix error can ever echo them back.

use crate::error::GitError;

/// A validated repository URL with any userinfo removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoUrl {
    /// The URL without userinfo: safe to log and to put in conditions.
    pub sanitized: String,
    pub scheme: Scheme,
    /// `user[:password]` that was embedded in the URL, if any.
    pub embedded_user: Option<String>,
    pub embedded_password: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
    Ssh,
}

impl RepoUrl {
    pub fn parse(raw: &str) -> Result<RepoUrl, GitError> {
        let invalid = |reason: &str| GitError::InvalidUrl {
            url: sanitize_url(raw),
            reason: reason.to_string(),
        };
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or_else(|| invalid("must start with http://, https:// or ssh://"))?;
        let scheme = match scheme {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            "ssh" => Scheme::Ssh,
            _ => return Err(invalid("scheme must be http, https or ssh")),
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(invalid("missing host"));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("contains whitespace or control characters"));
        }
        let (embedded_user, embedded_password) = match userinfo {
            None => (None, None),
            Some(info) => match info.split_once(':') {
                Some((user, pass)) => (Some(user.to_string()), Some(pass.to_string())),
                None => (Some(info.to_string()), None),
            },
        };
        // SSH keeps its user: it selects the account, not a secret.
        let sanitized = match (scheme, &embedded_user) {
            (Scheme::Ssh, Some(user)) => format!("ssh://{user}@{host}/{path}"),
            _ => {
                let scheme_str = raw.split_once("://").map_or("", |(s, _)| s);
                format!("{scheme_str}://{host}/{path}")
            }
        };
        let url = RepoUrl {
            sanitized,
            scheme,
            embedded_user,
            embedded_password,
        };
        gix::url::parse(gix::bstr::BStr::new(url.sanitized.as_str()))
            .map_err(|err| invalid(&redact(&err.to_string(), &url.secrets())))?;
        Ok(url)
    }

    /// Secrets that must never appear in any message derived from this URL.
    pub(crate) fn secrets(&self) -> Vec<String> {
        self.embedded_password.iter().cloned().collect()
    }
}

/// Remove `user:password@` from anything that looks like a URL, for messages about input
/// that did not even parse.
pub fn sanitize_url(raw: &str) -> String {
    match raw.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (rest, None),
            };
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            match path {
                Some(path) => format!("{scheme}://{host}/{path}"),
                None => format!("{scheme}://{host}"),
            }
        }
        None => raw.split('@').next_back().unwrap_or_default().to_string(),
    }
}

/// Replace every non-empty secret in `message` with `***`.
pub(crate) fn redact(message: &str, secrets: &[String]) -> String {
    let mut out = message.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret.as_str(), "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_credentials_are_lifted_out_of_the_url() {
        let url = RepoUrl::parse("https://bob:s3cret@git.example/org/repo.git").expect("valid");
        assert_eq!(url.sanitized, "https://git.example/org/repo.git");
        assert_eq!(url.embedded_user.as_deref(), Some("bob"));
        assert_eq!(url.embedded_password.as_deref(), Some("s3cret"));
    }

    #[test]
    fn scp_like_and_file_urls_are_rejected_like_flux_does() {
        for raw in [
            "git@github.com:org/repo.git",
            "file:///tmp/repo",
            "ftp://h/r",
        ] {
            let err = RepoUrl::parse(raw).expect_err(raw);
            assert_eq!(err.reason(), "URLInvalid", "{raw}");
        }
    }

    #[test]
    fn an_invalid_url_error_never_shows_the_password() {
        let err = RepoUrl::parse("gopher://bob:s3cret@host/x").expect_err("scheme");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn ssh_urls_keep_the_user() {
        let url = RepoUrl::parse("ssh://git@host:2222/org/repo").expect("valid");
        assert_eq!(url.sanitized, "ssh://git@host:2222/org/repo");
        assert_eq!(url.scheme, Scheme::Ssh);
    }
}
