//! Notification providers: turn a Flux event into the request each outside service expects
//! (chat webhooks, incident tools, commit statuses), as Flux's notification-controller sends them.
//!
//! A pure library: no Kubernetes. The controller resolves a `Provider` object and its Secrets
//! into [`ProviderSettings`], asks [`notifier`] for a [`Notifier`] and posts each [`Event`].

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
