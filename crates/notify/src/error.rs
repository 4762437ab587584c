//! Errors. No message carries a token, a password, a header value or the provider address
//! (webhook URLs are themselves credentials: Slack, Discord, Teams, Telegram…).

/// Why a provider could not be built or an event could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// `spec.type` names no provider this library knows.
    #[error("unsupported provider type '{provider_type}'")]
    UnsupportedProvider {
        /// The type as written.
        provider_type: String,
    },
    /// The provider cannot do what its settings ask (e.g. `commitStatusExpr`).
    #[error("{provider}: {feature} is not supported")]
    UnsupportedFeature {
        /// Provider type.
        provider: String,
        /// What was asked for.
        feature: String,
    },
    /// The address is not a usable URL for this provider (the address itself is withheld).
    #[error("{provider}: invalid address: {reason}")]
    InvalidAddress {
        /// Provider type.
        provider: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting the provider needs is missing or empty.
    #[error("{provider}: {field} is required")]
    MissingSetting {
        /// Provider type.
        provider: String,
        /// Which setting (`token`, `channel`…).
        field: String,
    },
    /// A setting has an unusable value.
    #[error("{provider}: invalid {field}: {reason}")]
    InvalidSetting {
        /// Provider type.
        provider: String,
        /// Which setting.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS material from `certSecretRef` could not be used.
    #[error("invalid TLS configuration: {reason}")]
    Tls {
        /// What is wrong with it.
        reason: String,
    },
    /// The event (or the payload built from it) could not be encoded.
    #[error("{provider}: encoding the payload failed: {reason}")]
    Encode {
        /// Provider type.
        provider: String,
        /// Encoder's message.
        reason: String,
    },
    /// The request did not complete (connect, TLS, timeout…).
    #[error("{provider}: request failed: {reason}")]
    Request {
        /// Provider type.
        provider: String,
        /// Client's message, URL removed and secrets redacted.
        reason: String,
    },
    /// The service answered with a non-success status.
    #[error("{provider}: request failed with status {status}: {body}")]
    Status {
        /// Provider type.
        provider: String,
        /// HTTP status code.
        status: u16,
        /// Start of the response body, secrets redacted.
        body: String,
    },
    /// The event cannot be expressed for this provider (e.g. a revision that is not a commit).
    #[error("{provider}: {reason}")]
    InvalidEvent {
        /// Provider type.
        provider: String,
        /// Why.
        reason: String,
    },
}

/// Replaces every secret in `text` with `*****`.
pub(crate) fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret.as_str(), "*****");
    }
    out
}
