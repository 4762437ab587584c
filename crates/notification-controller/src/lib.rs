//! notification-controller with Flux's semantics (fluxcd/notification-controller): an event server
//! that takes the events every controller POSTs, de-duplicates them and forwards each one to the
//! Providers of the Alerts it matches; a webhook server whose Receivers verify calls from Git hosts
//! and registries and ask the listed Flux objects to reconcile at once; and the Receiver
//! reconciler that publishes each Receiver's secret webhook path.
//!
//! Alert and Provider (v1beta3) are static kinds: nothing reconciles them into a status; they are
//! read when an event arrives. [`legacy`] only strips the finalizer older Flux versions left on
//! them.
//!
//! Modules follow the two paths: [`event`] (ingest, rate limit, match, dispatch) with
//! [`provider`] (a Provider and its Secrets as notifier settings); [`receiver`] (server,
//! validation, resource triggers, CEL filters, status). Shared by both: [`cel`] (expressions for
//! Receiver filters and `commitStatusExpr`), [`kinds`] (Flux kinds and their API resources),
//! [`http_metrics`] (the servers' `gotk_event_*`/`gotk_receiver_*` metrics). [`controller`] runs
//! them all; [`args`] holds the flags.
//!
//! Providers themselves (Slack, Teams, commit statuses…) live in `driftless-notify`.

pub mod args;
pub mod cel;
pub mod controller;
pub mod event;
pub mod http_metrics;
pub mod kinds;
pub mod legacy;
pub mod provider;
pub mod receiver;
#[cfg(test)]
mod testutil;

pub use args::Args;
pub use controller::{RunError, run, run_blocking};

/// The controller name: field manager, event reporter, lease name prefix, as Flux spells it.
pub const CONTROLLER_NAME: &str = "notification-controller";
