//! One module per provider type, and the factory that picks one from `spec.type`.

mod generic;

use crate::Notifier;
use crate::error::NotifyError;
use crate::settings::ProviderSettings;

/// Every `spec.type` [`notifier`] accepts.
pub const SUPPORTED_TYPES: &[&str] = &["generic", "generic-hmac"];

/// The notifier for `settings.provider_type`.
pub fn notifier(settings: ProviderSettings) -> Result<Box<dyn Notifier>, NotifyError> {
    match settings.provider_type.as_str() {
        "generic" => Ok(Box::new(generic::Generic::new(&settings, false)?)),
        "generic-hmac" => Ok(Box::new(generic::Generic::new(&settings, true)?)),
        other => Err(NotifyError::UnsupportedProvider {
            provider_type: other.to_owned(),
        }),
    }
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

/// The token, required and non-empty.
pub(crate) fn required_token<'a>(settings: &'a ProviderSettings) -> Result<&'a str, NotifyError> {
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
