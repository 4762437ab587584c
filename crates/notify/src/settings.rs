//! What a `Provider` object and its Secrets resolve to: everything a notifier needs.

use std::collections::BTreeMap;
use std::time::Duration;

/// Flux's default provider timeout (`spec.timeout` unset).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// A provider's settings, resolved from the `Provider` spec and its `secretRef`,
/// `certSecretRef` and `proxySecretRef`. `Debug` shows which secrets are set, never their
/// values (nor the address or proxy, which may embed credentials).
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    /// `spec.type`, e.g. `slack`, `generic-hmac`, `github`.
    pub provider_type: String,
    /// `spec.address`, or the Secret's `address` (which wins, as in Flux).
    pub address: String,
    /// `spec.channel`.
    pub channel: Option<String>,
    /// `spec.username`, or the Secret's `username`.
    pub username: Option<String>,
    /// The Secret's `token`.
    pub token: Option<String>,
    /// The Secret's `password`.
    pub password: Option<String>,
    /// The Secret's `headers` (a YAML map in Flux), already parsed.
    pub headers: BTreeMap<String, String>,
    /// `ca.crt` from `certSecretRef`.
    pub ca_pem: Option<Vec<u8>>,
    /// `tls.crt` from `certSecretRef`.
    pub client_cert_pem: Option<Vec<u8>>,
    /// `tls.key` from `certSecretRef`.
    pub client_key_pem: Option<Vec<u8>>,
    /// `spec.proxy` or the proxy Secret's address, with credentials when given.
    pub proxy: Option<String>,
    /// `spec.timeout`.
    pub timeout: Duration,
    /// `spec.commitStatusExpr` (CEL).
    pub commit_status_expr: Option<String>,
    /// The Provider's `metadata.uid`: commit statuses are keyed `<kind>/<name>/<first uid
    /// segment>` so that two clusters reporting on one commit do not overwrite each other.
    pub provider_uid: Option<String>,
    /// The whole `secretRef` Secret, for providers that read other keys.
    pub secret_data: BTreeMap<String, Vec<u8>>,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self {
            provider_type: String::new(),
            address: String::new(),
            channel: None,
            username: None,
            token: None,
            password: None,
            headers: BTreeMap::new(),
            ca_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
            proxy: None,
            timeout: DEFAULT_TIMEOUT,
            commit_status_expr: None,
            provider_uid: None,
            secret_data: BTreeMap::new(),
        }
    }
}

impl std::fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: bool| if v { "<set>" } else { "<unset>" };
        f.debug_struct("ProviderSettings")
            .field("provider_type", &self.provider_type)
            .field("address", &set(!self.address.is_empty()))
            .field("channel", &self.channel)
            .field("username", &self.username)
            .field("token", &set(self.token.is_some()))
            .field("password", &set(self.password.is_some()))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("ca_pem", &set(self.ca_pem.is_some()))
            .field("client_cert_pem", &set(self.client_cert_pem.is_some()))
            .field("client_key_pem", &set(self.client_key_pem.is_some()))
            .field("proxy", &set(self.proxy.is_some()))
            .field("timeout", &self.timeout)
            .field("commit_status_expr", &self.commit_status_expr)
            .field("provider_uid", &self.provider_uid)
            .field("secret_data", &self.secret_data.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ProviderSettings {
    /// Settings for `provider_type` at `address`, everything else default.
    pub fn new(provider_type: &str, address: &str) -> Self {
        Self {
            provider_type: provider_type.to_owned(),
            address: address.to_owned(),
            ..Self::default()
        }
    }

    /// Values that must never appear in an error message.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = [&self.token, &self.password]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect();
        secrets.extend(self.headers.values().filter(|v| v.len() >= 4).cloned());
        if let Some(proxy) = &self.proxy {
            secrets.push(proxy.clone());
        }
        if !self.address.is_empty() {
            secrets.push(self.address.clone());
        }
        secrets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_names_the_secrets_but_never_shows_them() {
        let mut settings =
            ProviderSettings::new("slack", "https://hooks.slack.com/services/SECRET1");
        settings.token = Some("SECRET2".into());
        settings.password = Some("SECRET3".into());
        settings.headers.insert("X-Key".into(), "SECRET4".into());
        settings.proxy = Some("http://user:SECRET5@proxy:8080".into());
        settings
            .secret_data
            .insert("token".into(), b"SECRET6".to_vec());
        settings.client_key_pem = Some(b"SECRET7".to_vec());
        let debug = format!("{settings:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("token: \"<set>\""), "{debug}");
        assert!(debug.contains("X-Key"), "{debug}");
    }
}
