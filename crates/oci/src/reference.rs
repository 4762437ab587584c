//! Image references: `[registry[:port]/]repository[:tag][@digest]`, with Docker Hub's defaults.
//!
//! The grammar is the distribution project's: the first path component is a registry when it
//! holds a `.` or a `:` or is `localhost`; otherwise the image lives on Docker Hub, where a
//! single-component name gains `library/`. Docker Hub's API host is `registry-1.docker.io`
//! (go-containerregistry calls it `index.docker.io`, both answer).

use std::fmt;

/// Docker Hub as it is written in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A reference that does not follow the grammar.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid image reference '{reference}': {reason}")]
pub struct ReferenceError {
    /// The reference as given.
    pub reference: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parse `s` (no `oci://` scheme; strip it first).
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let fail = |reason: &str| ReferenceError {
            reference: s.to_owned(),
            reason: reason.to_owned(),
        };
        if s.is_empty() {
            return Err(fail("it is empty"));
        }
        if s.contains("://") {
            return Err(fail("it must not carry a URL scheme"));
        }
        let (name_and_tag, digest) = match s.split_once('@') {
            Some((rest, digest)) => {
                if !valid_digest(digest) {
                    return Err(fail("the digest must be <algorithm>:<hex>"));
                }
                (rest, Some(digest.to_owned()))
            }
            None => (s, None),
        };
        // A ':' after the last '/' starts the tag; one before it is a registry port.
        let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&name_and_tag[..at], Some(&name_and_tag[at + 1..]))
            }
            None => (name_and_tag, None),
        };
        if let Some(tag) = tag
            && !valid_tag(tag)
        {
            return Err(fail(
                "the tag must be 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'",
            ));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), rest.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
            _ => registry,
        };
        if registry.is_empty() || registry.chars().any(|c| c.is_whitespace() || c == '@') {
            return Err(fail("the registry host is malformed"));
        }
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if !valid_repository(&repository) {
            return Err(fail(
                "the repository must be lowercase path components of [a-z0-9] joined by '.', '_', '__' or '-'",
            ));
        }
        Ok(Reference {
            registry,
            repository,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The registry as written (`docker.io` for Docker Hub), with its port.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host:port the registry API is reached at.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// The repository path inside the registry (`library/nginx`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if one was given.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The same repository at `tag`, without a digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository pinned to `digest` (the tag, if any, is kept for display).
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            digest: Some(digest.to_owned()),
            ..self.clone()
        }
    }

    /// What the manifest endpoint is asked for: the digest when pinned, else the tag, else
    /// `latest` as Docker does.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// `[\w][\w.-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    tag.len() <= 128
        && chars.next().is_some_and(word)
        && chars.all(|c| word(c) || c == '.' || c == '-')
}

/// `algorithm:hex` with a lowercase algorithm and at least 32 hex characters.
fn valid_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    !algorithm.is_empty()
        && algorithm
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
        && hex.len() >= 32
        && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// Path components of `[a-z0-9]+` separated by `.`, `_`, `__` or runs of `-`.
fn valid_repository(repository: &str) -> bool {
    !repository.is_empty()
        && repository.len() <= 255
        && repository.split('/').all(|component| {
            let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
            let bytes: Vec<char> = component.chars().collect();
            let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
                return false;
            };
            if !alnum(*first) || !alnum(*last) {
                return false;
            }
            let mut separator = String::new();
            for c in bytes {
                if alnum(c) {
                    if !matches!(separator.as_str(), "" | "." | "_" | "__")
                        && !separator.chars().all(|s| s == '-')
                    {
                        return false;
                    }
                    separator.clear();
                } else if matches!(c, '.' | '_' | '-') {
                    separator.push(c);
                } else {
                    return false;
                }
            }
            true
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Reference {
        Reference::parse(s).expect("valid reference")
    }

    #[test]
    fn a_bare_docker_hub_name_gains_library_and_the_api_host() {
        let r = parse("nginx");
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.repository(), "library/nginx");
        assert_eq!(r.manifest_reference(), "latest");
        assert_eq!(r.to_string(), "docker.io/library/nginx");
    }

    #[test]
    fn a_docker_hub_user_repository_keeps_its_namespace() {
        let r = parse("fluxcd/flux:v1.0");
        assert_eq!(r.repository(), "fluxcd/flux");
        assert_eq!(r.tag(), Some("v1.0"));
        assert_eq!(parse("index.docker.io/fluxcd/flux").registry(), "docker.io");
    }

    #[test]
    fn a_registry_port_is_not_mistaken_for_a_tag() {
        let r = parse("localhost:5000/app/web");
        assert_eq!(r.registry(), "localhost:5000");
        assert_eq!(r.repository(), "app/web");
        assert_eq!(r.tag(), None);
        let r = parse("127.0.0.1:5000/app:1.2.3");
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.tag(), Some("1.2.3"));
    }

    #[test]
    fn tag_and_digest_are_both_kept_and_the_digest_is_what_is_fetched() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = parse(&format!("ghcr.io/stefanprodan/podinfo:6.5.0@{digest}"));
        assert_eq!(r.tag(), Some("6.5.0"));
        assert_eq!(r.digest(), Some(digest.as_str()));
        assert_eq!(r.manifest_reference(), digest);
        assert_eq!(
            r.to_string(),
            format!("ghcr.io/stefanprodan/podinfo:6.5.0@{digest}")
        );
    }

    #[test]
    fn malformed_references_are_refused_with_a_reason() {
        for bad in [
            "",
            "oci://ghcr.io/x",
            "ghcr.io/UPPER/case",
            "ghcr.io/x:-tag",
            "ghcr.io/x@sha256:zz",
            "ghcr.io/x/",
            "ghcr.io/a..b",
        ] {
            let err = Reference::parse(bad).expect_err(bad);
            assert_eq!(err.reference, bad);
        }
    }

    #[test]
    fn repository_separators_follow_the_distribution_grammar() {
        for good in ["a/b_c", "a/b__c", "a/b---c", "a/b.c", "a0/9z"] {
            assert!(valid_repository(good), "{good}");
        }
        for bad in ["a/_b", "a/b___c", "a/b.-c", "a/b."] {
            assert!(!valid_repository(bad), "{bad}");
        }
    }

    #[test]
    fn with_tag_drops_the_digest_and_with_digest_pins_it() {
        let r = parse("ghcr.io/x/y:1.0");
        let pinned = r.with_digest(&format!("sha256:{}", "b".repeat(64)));
        assert!(pinned.manifest_reference().starts_with("sha256:"));
        assert_eq!(pinned.with_tag("2.0").manifest_reference(), "2.0");
    }
}
