//! The credential Secrets `create secret` builds from flux's flags: git (basic auth or bearer
//! token), helm (basic auth) and oci (a `kubernetes.io/dockerconfigjson` registry login).
//! Values go into `stringData`, so the exported YAML is readable and the API server encodes.

use base64::Engine as _;
use clap::Args;
use serde_json::{Map, Value, json};

use super::super::cluster::ClusterError;

/// Flags of `create secret git`.
#[derive(Debug, Args)]
pub struct SecretGitFlags {
    pub name: String,
    #[arg(long)]
    pub url: String,
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    #[arg(long)]
    pub bearer_token: Option<String>,
}

/// Flags of `create secret helm`.
#[derive(Debug, Args)]
pub struct SecretHelmFlags {
    pub name: String,
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    #[arg(short = 'p', long)]
    pub password: Option<String>,
}

/// Flags of `create secret oci`.
#[derive(Debug, Args)]
pub struct SecretOciFlags {
    pub name: String,
    /// The registry host, e.g. `ghcr.io`.
    #[arg(long, default_value = "")]
    pub url: String,
    #[arg(short = 'u', long, default_value = "")]
    pub username: String,
    #[arg(short = 'p', long, default_value = "")]
    pub password: String,
}

fn invalid(message: impl Into<String>) -> ClusterError {
    ClusterError::Invalid(message.into())
}

/// A git credentials Secret body.
pub fn git(secret: &SecretGitFlags) -> Result<Value, ClusterError> {
    let mut data = Map::new();
    if secret.url.starts_with("ssh://") {
        return Err(invalid(
            "SSH secrets are not supported yet: use an https URL with --username/--password or --bearer-token",
        ));
    }
    match (&secret.username, &secret.password, &secret.bearer_token) {
        (Some(_), Some(_), Some(_)) => {
            return Err(invalid(
                "user credentials and bearer token cannot be used together",
            ));
        }
        (Some(u), Some(p), None) => {
            data.insert("username".into(), json!(u));
            data.insert("password".into(), json!(p));
        }
        (None, None, Some(token)) => {
            data.insert("bearerToken".into(), json!(token));
        }
        _ => {
            return Err(invalid(
                "for Git over HTTP/S the username and password, or a bearer token, are required",
            ));
        }
    }
    Ok(json!({"stringData": data}))
}

/// A Helm repository credentials Secret body.
pub fn helm(secret: &SecretHelmFlags) -> Result<Value, ClusterError> {
    match (&secret.username, &secret.password) {
        (Some(u), Some(p)) => Ok(json!({"stringData": {"username": u, "password": p}})),
        _ => Err(invalid("the username and password are required")),
    }
}

/// A registry login Secret body, in the `.dockerconfigjson` shape container runtimes read.
pub fn oci(secret: &SecretOciFlags) -> Result<Value, ClusterError> {
    if secret.url.is_empty() {
        return Err(invalid("--url is required"));
    }
    if secret.username.is_empty() || secret.password.is_empty() {
        return Err(invalid("--username and --password are required"));
    }
    let host = secret.url.trim_start_matches("oci://");
    let host = host.split('/').next().unwrap_or(host);
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", secret.username, secret.password));
    // Field order as Go's docker config struct writes it (username, password, auth).
    let text = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let config = format!(
        "{{\"auths\":{{{}:{{\"username\":{},\"password\":{},\"auth\":{}}}}}}}",
        text(host),
        text(&secret.username),
        text(&secret.password),
        text(&auth)
    );
    Ok(json!({"type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": config}}))
}
