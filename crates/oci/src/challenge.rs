//! `WWW-Authenticate` challenges (RFC 7235) as registries send them on a 401:
//! `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:x:pull"`
//! or `Basic realm="Registry"`.

use std::collections::BTreeMap;

/// What a registry asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// Send `Authorization: Basic`.
    Basic,
    /// Get a token from `realm` with these parameters, then send `Authorization: Bearer`.
    Bearer {
        /// The token endpoint URL.
        realm: String,
        /// The `service` parameter to pass on, when given.
        service: Option<String>,
        /// The `scope` the registry said it needs, when given.
        scope: Option<String>,
    },
}

/// Parse the first challenge of a `WWW-Authenticate` value that this client understands.
/// `None` when there is none (an unknown scheme, or garbage).
pub fn parse(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = parse_params(rest);
    let realm = params.remove("realm").filter(|r| !r.is_empty())?;
    Some(Challenge::Bearer {
        realm,
        service: params.remove("service"),
        scope: params.remove("scope"),
    })
}

/// `key=value` or `key="quoted, value"` pairs separated by commas; keys lowercased.
fn parse_params(input: &str) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars
            .peek()
            .is_some_and(|c| c.is_ascii_whitespace() || *c == ',')
        {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if key.is_empty() {
            return params;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    other => value.push(other),
                }
            }
            // Skip anything up to the next separator.
            for c in chars.by_ref() {
                if c == ',' {
                    break;
                }
            }
        } else {
            value = chars
                .by_ref()
                .take_while(|c| *c != ',')
                .collect::<String>()
                .trim()
                .to_owned();
        }
        params.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_challenge_yields_realm_service_and_scope() {
        let challenge = parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
        );
        assert_eq!(
            challenge,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/nginx:pull".into()),
            })
        );
    }

    #[test]
    fn quoted_values_keep_commas_and_escapes_and_keys_ignore_case() {
        let challenge = parse(
            r#"bearer Realm="http://127.0.0.1:1/token", scope="repository:a:pull,push", service=reg\"x"#,
        );
        assert_eq!(
            challenge,
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/token".into(),
                service: Some(r#"reg\"x"#.into()),
                scope: Some("repository:a:pull,push".into()),
            })
        );
    }

    #[test]
    fn basic_is_recognised_and_unknown_or_realmless_challenges_are_not() {
        assert_eq!(
            parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse("Negotiate abc"), None);
        assert_eq!(parse(r#"Bearer service="x""#), None);
        assert_eq!(parse(""), None);
    }
}
