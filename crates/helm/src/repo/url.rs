//! The URLs of a chart repository: where its index is, where a chart listed with a relative
//! URL is (Helm's `ResolveReferenceURL`), and whether a request may carry the repository's
//! credentials (Helm sends them only to the repository's own scheme and host unless
//! `passCredentials` is set).

use ::url::Url;

use super::RepoError;

fn parse(raw: &str) -> Result<Url, RepoError> {
    Url::parse(raw).map_err(|e| RepoError::InvalidUrl {
        url: redact(raw),
        reason: e.to_string(),
    })
}

/// `raw` with any user information removed, for messages.
pub fn redact(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) => {
            // Both setters only fail for URLs that cannot have credentials at all.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

/// `<repository URL>/index.yaml`, the query string kept.
pub fn index_url(repo_url: &str) -> Result<String, RepoError> {
    let mut url = parse(repo_url)?;
    let path = format!("{}/index.yaml", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url.to_string())
}

/// A chart URL from the index resolved against the repository URL: absolute URLs as they
/// are; relative ones below the repository path (as a directory), with the repository's
/// query string, as Helm resolves them.
pub fn resolve_chart_url(repo_url: &str, chart_url: &str) -> Result<String, RepoError> {
    if let Ok(absolute) = Url::parse(chart_url) {
        return Ok(absolute.to_string());
    }
    let mut base = parse(repo_url)?;
    let dir = format!("{}/", base.path().trim_end_matches('/'));
    base.set_path(&dir);
    let query = base.query().map(str::to_owned);
    let mut resolved = base.join(chart_url).map_err(|e| RepoError::InvalidUrl {
        url: chart_url.to_owned(),
        reason: e.to_string(),
    })?;
    resolved.set_query(query.as_deref());
    Ok(resolved.to_string())
}

/// Whether a request to `target` may carry the repository's credentials: always with
/// `pass_credentials`, otherwise only when scheme and host (with port) match the repository.
pub fn sends_credentials(repo_url: &str, target: &str, pass_credentials: bool) -> bool {
    if pass_credentials {
        return true;
    }
    match (Url::parse(repo_url), Url::parse(target)) {
        (Ok(repo), Ok(target)) => {
            repo.scheme() == target.scheme()
                && repo.host_str() == target.host_str()
                && repo.port_or_known_default() == target.port_or_known_default()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_is_below_the_repository_path_with_or_without_a_trailing_slash() {
        for repo in ["https://h/charts", "https://h/charts/"] {
            assert_eq!(
                index_url(repo).expect("valid"),
                "https://h/charts/index.yaml"
            );
        }
        assert_eq!(
            index_url("https://h/c?token=x").expect("valid"),
            "https://h/c/index.yaml?token=x"
        );
    }

    #[test]
    fn relative_chart_urls_resolve_below_the_repository_and_keep_its_query() {
        assert_eq!(
            resolve_chart_url("https://h/charts", "podinfo-6.0.0.tgz").expect("valid"),
            "https://h/charts/podinfo-6.0.0.tgz"
        );
        assert_eq!(
            resolve_chart_url("https://h/charts/?t=1", "sub/podinfo-6.0.0.tgz").expect("valid"),
            "https://h/charts/sub/podinfo-6.0.0.tgz?t=1"
        );
        assert_eq!(
            resolve_chart_url("https://h/charts", "https://cdn/p.tgz").expect("valid"),
            "https://cdn/p.tgz"
        );
    }

    #[test]
    fn credentials_go_only_to_the_repository_host_unless_passed_on_purpose() {
        let repo = "https://charts.example.com/stable";
        assert!(sends_credentials(
            repo,
            "https://charts.example.com/x.tgz",
            false
        ));
        assert!(!sends_credentials(
            repo,
            "https://cdn.example.com/x.tgz",
            false
        ));
        assert!(!sends_credentials(
            repo,
            "http://charts.example.com/x.tgz",
            false
        ));
        assert!(sends_credentials(
            repo,
            "https://cdn.example.com/x.tgz",
            true
        ));
    }

    #[test]
    fn messages_never_carry_user_information() {
        assert_eq!(redact("https://u:p@h/x"), "https://h/x");
    }
}
