//! Notification providers: turn a Flux event into the request each outside service expects
//! (chat webhooks, incident tools, commit statuses), as Flux's notification-controller sends them.
//!
//! A pure library: no Kubernetes. The controller resolves a `Provider` object and its Secrets
//! into [`ProviderSettings`], asks [`notifier`] for a [`Notifier`] and posts each [`Event`].
//!
//! What the caller owes each provider, as Flux's event server does before its notifiers run:
//! - metadata keys stripped of the reporting API group (`revision`, not
//!   `kustomize.toolkit.fluxcd.io/revision`), plus the Alert's `summary`/`eventMetadata`;
//! - `provider_uid` set to the Provider's UID, which keys commit statuses;
//! - with `commitStatusExpr`, the CEL result passed to [`Notifier::post_with_commit_status`]
//!   (plain [`Notifier::post`] then refuses, rather than posting under the wrong key).
//!
//! Every request honours `proxy`, `ca_pem`, the client certificate and `timeout`; transient
//! failures are retried within the timeout as Flux retries them. No error message carries a
//! token, password, header value, address or proxy.

mod error;
mod event;
mod http;
mod providers;
mod retry;
mod settings;

pub use error::NotifyError;
pub use event::{Event, ObjectRef};
pub use providers::commit::{commit_status_id, parse_revision};
pub use providers::{SUPPORTED_TYPES, notifier};
pub use settings::ProviderSettings;

/// Sends events to one provider.
pub trait Notifier: Send + Sync {
    /// Delivers `event`; an event the provider has no use for (a commit status without a
    /// revision, say) is skipped with `Ok(())`, as Flux skips it.
    fn post<'a>(
        &'a self,
        event: &'a Event,
    ) -> futures::future::BoxFuture<'a, Result<(), NotifyError>>;

    /// Delivers `event` with the commit status key the caller evaluated from the Provider's
    /// `commitStatusExpr` (CEL over the event, Provider and Alert). Providers that post no
    /// commit status ignore the key.
    fn post_with_commit_status<'a>(
        &'a self,
        event: &'a Event,
        commit_status: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<(), NotifyError>> {
        let _ = commit_status;
        self.post(event)
    }
}
