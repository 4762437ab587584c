//! Registry credentials from a `.dockerconfigjson` payload (a `kubernetes.io/dockerconfigjson`
//! Secret, as Flux reads it for OCIRepository and ImageRepository).
//!
//! `auths` entries are matched by registry host; an entry holds `auth` (base64 of
//! `username:password`) or `username`/`password`, and may hold `registrytoken` (a bearer token
//! used as is) or `identitytoken` (an OAuth2 refresh token). `credHelpers` and `credsStore` name
//! programs to run: driftless never runs a program named by a user's Secret, so they are ignored
//! and [`DockerConfig::notes`] says so.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde::Deserialize;

use crate::reference::{DOCKER_HUB, DOCKER_HUB_API};

/// One registry's credentials. `Debug` never shows secret values.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// Username and password (Basic, or exchanged for a Bearer token).
    Basic {
        /// The user name.
        username: String,
        /// The password or personal access token.
        password: String,
    },
    /// A registry token sent as `Authorization: Bearer` without an exchange.
    Bearer(String),
    /// An OAuth2 refresh token exchanged at the token endpoint.
    IdentityToken {
        /// The user name sent with it (may be empty).
        username: String,
        /// The refresh token.
        token: String,
    },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Credential::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Credential::IdentityToken { username, .. } => f
                .debug_struct("IdentityToken")
                .field("username", username)
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

/// Why a `.dockerconfigjson` payload cannot be used. Messages name keys, never values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DockerConfigError {
    /// Not JSON of the expected shape.
    #[error("invalid .dockerconfigjson: {0}")]
    Json(String),
    /// An `auth` field is not base64 of `username:password`.
    #[error(
        "invalid .dockerconfigjson: the 'auth' of registry '{registry}' is not base64 of 'username:password'"
    )]
    Auth {
        /// The `auths` key.
        registry: String,
    },
}

/// Parsed `.dockerconfigjson`: credentials by normalised registry host.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DockerConfig {
    auths: BTreeMap<String, Credential>,
    notes: Vec<String>,
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerConfig")
            .field("registries", &self.auths.keys().collect::<Vec<_>>())
            .field("notes", &self.notes)
            .finish()
    }
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    auths: BTreeMap<String, RawAuth>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, serde_json::Value>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
    #[serde(default, rename = "registrytoken")]
    registry_token: Option<String>,
}

impl DockerConfig {
    /// Parse the bytes of a `.dockerconfigjson` key.
    pub fn parse(bytes: &[u8]) -> Result<DockerConfig, DockerConfigError> {
        let raw: RawConfig = serde_json::from_slice(bytes).map_err(|e| {
            // serde_json's message can quote the offending value; keep only the position.
            DockerConfigError::Json(format!(
                "not a JSON object with 'auths' (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let mut notes = Vec::new();
        if !raw.cred_helpers.is_empty() {
            notes.push(
                "credHelpers ignored: driftless never runs credential helpers named in a Secret"
                    .to_owned(),
            );
        }
        if raw.creds_store.is_some() {
            notes.push(
                "credsStore ignored: driftless never runs credential helpers named in a Secret"
                    .to_owned(),
            );
        }
        let mut auths = BTreeMap::new();
        for (key, entry) in raw.auths {
            if let Some(credential) = credential_of(&key, entry)? {
                auths.insert(normalise_host(&key), credential);
            }
        }
        Ok(DockerConfig { auths, notes })
    }

    /// A config holding one registry's credential.
    pub fn single(registry: &str, credential: Credential) -> DockerConfig {
        let mut auths = BTreeMap::new();
        auths.insert(normalise_host(registry), credential);
        DockerConfig {
            auths,
            notes: Vec::new(),
        }
    }

    /// The credential for `registry` (as written in a reference, e.g. `docker.io` or
    /// `localhost:5000`), if any.
    pub fn credential_for(&self, registry: &str) -> Option<&Credential> {
        self.auths.get(&normalise_host(registry))
    }

    /// Add `other`'s credentials and notes. A registry already present keeps its credential:
    /// the first Secret that names a registry wins, as in a keychain searched in order.
    pub fn merge(&mut self, other: DockerConfig) {
        for (host, credential) in other.auths {
            self.auths.entry(host).or_insert(credential);
        }
        self.notes.extend(other.notes);
    }

    /// Human-readable notes about parts of the payload that were ignored.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// True when no registry has credentials.
    pub fn is_empty(&self) -> bool {
        self.auths.is_empty()
    }
}

fn credential_of(key: &str, entry: RawAuth) -> Result<Option<Credential>, DockerConfigError> {
    if let Some(token) = entry.registry_token.filter(|t| !t.is_empty()) {
        return Ok(Some(Credential::Bearer(token)));
    }
    let (mut username, mut password) = (entry.username, entry.password);
    if let Some(auth) = entry.auth.filter(|a| !a.is_empty()) {
        let invalid = || DockerConfigError::Auth {
            registry: key.to_owned(),
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| invalid())?;
        let text = String::from_utf8(decoded).map_err(|_| invalid())?;
        let (user, pass) = text.split_once(':').ok_or_else(invalid)?;
        username = Some(user.to_owned());
        password = Some(pass.to_owned());
    }
    if let Some(token) = entry.identity_token.filter(|t| !t.is_empty()) {
        return Ok(Some(Credential::IdentityToken {
            username: username.unwrap_or_default(),
            token,
        }));
    }
    Ok(match (username, password) {
        (None, None) => None,
        (username, password) => Some(Credential::Basic {
            username: username.unwrap_or_default(),
            password: password.unwrap_or_default(),
        }),
    })
}

/// The host[:port] of an `auths` key or a reference's registry: scheme and path dropped, Docker
/// Hub's aliases (`https://index.docker.io/v1/`, `registry-1.docker.io`…) folded into one.
pub fn normalise_host(key: &str) -> String {
    let without_scheme = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = without_scheme
        .split('/')
        .next()
        .unwrap_or(without_scheme)
        .to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | DOCKER_HUB_API | DOCKER_HUB => DOCKER_HUB.to_owned(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn auth_is_decoded_into_username_and_password() {
        let json = format!(
            r#"{{"auths":{{"ghcr.io":{{"auth":"{}"}}}}}}"#,
            b64("bot:s3cr:et")
        );
        let config = DockerConfig::parse(json.as_bytes()).expect("valid");
        assert_eq!(
            config.credential_for("ghcr.io"),
            Some(&Credential::Basic {
                username: "bot".into(),
                password: "s3cr:et".into()
            })
        );
    }

    #[test]
    fn username_and_password_fields_work_without_auth() {
        let json = br#"{"auths":{"localhost:5000":{"username":"u","password":"p"}}}"#;
        let config = DockerConfig::parse(json).expect("valid");
        assert!(matches!(
            config.credential_for("localhost:5000"),
            Some(Credential::Basic { username, .. }) if username == "u"
        ));
        assert_eq!(config.credential_for("localhost:5001"), None);
    }

    #[test]
    fn docker_hub_keys_in_any_spelling_match_docker_io_references() {
        let json = format!(
            r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}}}}}}"#,
            b64("a:b")
        );
        let config = DockerConfig::parse(json.as_bytes()).expect("valid");
        assert!(config.credential_for("docker.io").is_some());
        assert!(config.credential_for("registry-1.docker.io").is_some());
    }

    #[test]
    fn credential_helpers_are_never_used_and_a_note_says_so() {
        let json = br#"{"auths":{},"credHelpers":{"gcr.io":"gcloud"},"credsStore":"desktop"}"#;
        let config = DockerConfig::parse(json).expect("valid");
        assert!(config.is_empty());
        assert_eq!(config.notes().len(), 2);
        assert!(config.notes()[0].contains("never runs credential helpers"));
    }

    #[test]
    fn registry_and_identity_tokens_are_kept_as_tokens() {
        let json = br#"{"auths":{"a.io":{"registrytoken":"t1"},"b.io":{"username":"u","identitytoken":"t2"}}}"#;
        let config = DockerConfig::parse(json).expect("valid");
        assert_eq!(
            config.credential_for("a.io"),
            Some(&Credential::Bearer("t1".into()))
        );
        assert!(matches!(
            config.credential_for("b.io"),
            Some(Credential::IdentityToken { username, .. }) if username == "u"
        ));
    }

    #[test]
    fn a_broken_payload_is_an_error_that_never_quotes_its_content() {
        let err = DockerConfig::parse(br#"{"auths":{"x.io":{"auth":"!!notbase64-hunter2"}}}"#)
            .expect_err("bad auth");
        assert!(err.to_string().contains("x.io"));
        assert!(!err.to_string().contains("hunter2"));
        let err = DockerConfig::parse(b"{\"auths\": \"hunter2\"}").expect_err("bad json");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn debug_output_redacts_every_secret() {
        let config = DockerConfig::single(
            "x.io",
            Credential::Basic {
                username: "u".into(),
                password: "hunter2".into(),
            },
        );
        let shown = format!("{config:?} {:?}", config.credential_for("x.io"));
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
