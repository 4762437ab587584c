//! Leader election on a coordination.k8s.io Lease, so replicas never reconcile at once. The
//! Lease is named as Flux names it (`<controller>-leader-election`, with the first 8 hex digits
//! of the SHA-256 of `--watch-label-selector` appended when sharding), lives in the runtime
//! namespace, and is held by `<hostname>_<random>` like controller-runtime's identities.
//!
//! Timing follows Flux's flags: the lease lasts `--leader-election-lease-duration` (35s) and the
//! leader renews `--leader-election-renew-deadline` (30s) into it, i.e. 5s before expiry.
//! kube-lease-manager polls on its own schedule, so `--leader-election-retry-period` is accepted
//! but not used. With `--leader-election-release-on-cancel` (Flux's default) stopping releases
//! the lease so a successor takes over without waiting for it to expire.

use std::time::Duration;

use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::flags::RuntimeArgs;
use crate::metrics::Metrics;

/// Leader election could not start.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The renew deadline must be shorter than the lease duration (and both whole seconds > 0).
    #[error(
        "--leader-election-renew-deadline ({renew_deadline:?}) must be shorter than --leader-election-lease-duration ({lease_duration:?})"
    )]
    Timing {
        /// `--leader-election-lease-duration`.
        lease_duration: Duration,
        /// `--leader-election-renew-deadline`.
        renew_deadline: Duration,
    },
    /// The Lease could not be read or created.
    #[error("setting up the leader election lease {lease} failed")]
    Lease {
        /// The Lease name.
        lease: String,
        /// The cause.
        #[source]
        source: LeaseManagerError,
    },
}

/// Flux's lease name for `controller`, sharded by the watch label selector when set.
pub fn lease_name(controller: &str, watch_label_selector: Option<&str>) -> String {
    match watch_label_selector
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => format!("{controller}-leader-election"),
        Some(selector) => {
            let digest = hex::encode(Sha256::digest(selector.as_bytes()));
            format!("{controller}-leader-election-{}", &digest[..8])
        }
    }
}

/// Where and how to elect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderConfig {
    /// The Lease name.
    pub lease_name: String,
    /// The namespace of the Lease (the runtime namespace).
    pub namespace: String,
    /// This replica's holder identity.
    pub identity: String,
    /// How long a lease lasts without renewal.
    pub lease_duration: Duration,
    /// How long into the lease the leader renews it.
    pub renew_deadline: Duration,
    /// Release the lease on stop.
    pub release_on_cancel: bool,
}

impl LeaderConfig {
    /// The configuration Flux's flags describe for `controller` in `namespace`.
    pub fn from_args(args: &RuntimeArgs, controller: &str, namespace: &str) -> Self {
        Self {
            lease_name: lease_name(controller, args.watch_selector()),
            namespace: namespace.to_owned(),
            identity: identity(),
            lease_duration: args.leader_election_lease_duration.get(),
            renew_deadline: args.leader_election_renew_deadline.get(),
            release_on_cancel: args.leader_election_release_on_cancel,
        }
    }

    /// Lease duration and renewal grace in whole seconds, as the Lease API counts them.
    fn seconds(&self) -> Result<(u64, u64), LeaderError> {
        let duration = self.lease_duration.as_secs();
        let grace = self
            .lease_duration
            .saturating_sub(self.renew_deadline)
            .as_secs();
        if duration == 0 || grace == 0 || grace >= duration {
            return Err(LeaderError::Timing {
                lease_duration: self.lease_duration,
                renew_deadline: self.renew_deadline,
            });
        }
        Ok((duration, grace))
    }
}

/// `<hostname>_<32 random hex digits>`.
pub fn identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "driftless".to_owned());
    let random: String = (0..32)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
        .collect();
    format!("{host}_{random}")
}

/// A running election.
pub struct Leadership {
    lease_name: String,
    state: watch::Receiver<bool>,
    task: JoinHandle<Result<LeaseManager, LeaseManagerError>>,
    release_on_cancel: bool,
    metrics: Option<Metrics>,
}

/// Joins the election for `config.lease_name`; `metrics` gets `leader_election_master_status`.
pub async fn elect(
    client: kube::Client,
    config: &LeaderConfig,
    metrics: Option<Metrics>,
) -> Result<Leadership, LeaderError> {
    let (duration, grace) = config.seconds()?;
    let manager = LeaseManagerBuilder::new(client, &config.lease_name)
        .with_namespace(&config.namespace)
        .with_identity(&config.identity)
        .with_duration(duration)
        .with_grace(grace)
        .build()
        .await
        .map_err(|source| LeaderError::Lease {
            lease: config.lease_name.clone(),
            source,
        })?;
    let (state, task) = manager.watch().await;
    if let Some(metrics) = &metrics {
        metrics.set_leader(&config.lease_name, false);
    }
    Ok(Leadership {
        lease_name: config.lease_name.clone(),
        state,
        task,
        release_on_cancel: config.release_on_cancel,
        metrics,
    })
}

impl Leadership {
    /// Whether this replica leads now.
    pub fn is_leader(&self) -> bool {
        *self.state.borrow()
    }

    /// Waits until this replica leads (returns at once if it does). `false` when the election
    /// task ended without leadership.
    pub async fn acquired(&mut self) -> bool {
        let leading = self.state.wait_for(|v| *v).await.is_ok();
        self.report(leading);
        leading
    }

    /// Waits until this replica no longer leads, or the election task ended.
    pub async fn lost(&mut self) {
        let _ = self.state.wait_for(|v| !*v).await;
        self.report(false);
    }

    fn report(&self, leading: bool) {
        if let Some(metrics) = &self.metrics {
            metrics.set_leader(&self.lease_name, leading);
        }
    }

    /// Leaves the election: releases the lease when `release_on_cancel`, else abandons it to
    /// expire.
    pub async fn stop(self) {
        self.report(false);
        if self.release_on_cancel {
            // Closing the channel makes the watcher release the lease and return.
            drop(self.state);
            match self.task.await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::warn!(%error, "releasing the leader lease failed"),
                Err(error) => tracing::warn!(%error, "leader election task failed"),
            }
        } else {
            self.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn lease_names_are_fluxs_and_sharding_appends_the_selector_hash() {
        assert_eq!(
            lease_name("source-controller", None),
            "source-controller-leader-election"
        );
        assert_eq!(
            lease_name("source-controller", Some("")),
            "source-controller-leader-election"
        );
        let digest = hex::encode(Sha256::digest(b"sharding.fluxcd.io/shard=shard1"));
        assert_eq!(
            lease_name(
                "kustomize-controller",
                Some("sharding.fluxcd.io/shard=shard1")
            ),
            format!("kustomize-controller-leader-election-{}", &digest[..8])
        );
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        runtime: RuntimeArgs,
    }

    #[test]
    fn fluxs_default_timing_is_a_35s_lease_renewed_5s_before_expiry() {
        let cli = Cli::parse_from(["c"]);
        let config = LeaderConfig::from_args(&cli.runtime, "helm-controller", "flux-system");
        assert_eq!(config.lease_name, "helm-controller-leader-election");
        assert_eq!(config.seconds().expect("valid"), (35, 5));
        assert!(config.release_on_cancel);
        assert!(config.identity.contains('_'));
    }

    #[test]
    fn a_renew_deadline_not_below_the_lease_duration_is_refused() {
        let cli = Cli::parse_from([
            "c",
            "--leader-election-lease-duration=10s",
            "--leader-election-renew-deadline=10s",
        ]);
        let config = LeaderConfig::from_args(&cli.runtime, "x", "ns");
        assert!(matches!(config.seconds(), Err(LeaderError::Timing { .. })));
    }

    #[test]
    fn identities_are_unique() {
        assert_ne!(identity(), identity());
    }
}
