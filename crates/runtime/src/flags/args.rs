//! The runtime flags every Flux controller binds (fluxcd/pkg/runtime options plus each
//! `main.go`), spelled and defaulted as Flux does so stock manifests and patches keep working.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;

use clap::{ArgAction, Args, ValueEnum};

use super::boolean::parse_go_bool;
use super::duration::GoDuration;

/// `--log-level`: the zap levels Flux exposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    /// Everything, including per-event traces.
    Trace,
    /// Debug and above.
    Debug,
    /// Info and above (zap's info also admits warnings).
    Info,
    /// Errors only.
    Error,
}

/// `--log-encoding`: zap's JSON or console encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogEncoding {
    /// One JSON object per line, zap's field names.
    Json,
    /// Human-readable lines.
    Console,
}

/// One `--feature-gates` value: `Name=true,Other=false`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeatureGates(pub BTreeMap<String, bool>);

impl FromStr for FeatureGates {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut gates = BTreeMap::new();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("feature gate {pair:?} is not of the form Name=bool"))?;
            gates.insert(name.trim().to_owned(), parse_go_bool(value.trim())?);
        }
        Ok(Self(gates))
    }
}

/// Flags shared by every controller; a controller's own `Args` flattens this.
#[derive(Clone, Debug, Args)]
pub struct RuntimeArgs {
    /// The address the metric endpoint binds to; `0` disables it.
    #[arg(long, default_value = ":8080")]
    pub metrics_addr: String,

    /// The address the probe endpoint binds to.
    #[arg(long, default_value = ":9440")]
    pub health_addr: String,

    /// The address of the events receiver (notification-controller); events are only
    /// recorded as Kubernetes Events when empty.
    #[arg(long, default_value = "")]
    pub events_addr: String,

    /// The number of concurrent reconciles per kind; each controller has its own default.
    #[arg(long)]
    pub concurrent: Option<usize>,

    /// The interval at which failing dependencies are reevaluated.
    #[arg(long, default_value = "30s")]
    pub requeue_dependency: GoDuration,

    /// The maximum queries per second to the Kubernetes API server.
    #[arg(long, default_value_t = 50.0)]
    pub kube_api_qps: f32,

    /// The maximum burst of queries to the Kubernetes API server.
    #[arg(long, default_value_t = 300)]
    pub kube_api_burst: i32,

    /// Enable leader election; only the leader reconciles.
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub enable_leader_election: bool,

    /// How long a non-leader waits before it may take over an unrenewed lease.
    #[arg(long, default_value = "35s")]
    pub leader_election_lease_duration: GoDuration,

    /// How long the leader keeps trying to renew before it gives up leading.
    #[arg(long, default_value = "30s")]
    pub leader_election_renew_deadline: GoDuration,

    /// How long electors wait between attempts.
    #[arg(long, default_value = "5s")]
    pub leader_election_retry_period: GoDuration,

    /// Release the lease when the process stops, so a successor need not wait it out.
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub leader_election_release_on_cancel: bool,

    /// Watch objects in all namespaces; when false only `RUNTIME_NAMESPACE`.
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub watch_all_namespaces: bool,

    /// Only reconcile objects matching this label selector (sharding).
    #[arg(long, default_value = "")]
    pub watch_label_selector: String,

    /// ConfigMaps and Secrets with these labels trigger the objects that reference them.
    #[arg(long, default_value = "reconcile.fluxcd.io/watch=Enabled")]
    pub watch_configs_label_selector: String,

    /// The lower bound of the per-object failure backoff.
    #[arg(long, default_value = "750ms")]
    pub min_retry_delay: GoDuration,

    /// The upper bound of the per-object failure backoff.
    #[arg(long, default_value = "15m")]
    pub max_retry_delay: GoDuration,

    /// Percentage of jitter applied to `spec.interval` requeues (+/-); below 100.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..100))]
    pub interval_jitter_percentage: u8,

    /// Log verbosity.
    #[arg(long, value_enum, default_value = "info")]
    pub log_level: LogLevel,

    /// Log format.
    #[arg(long, value_enum, default_value = "json")]
    pub log_encoding: LogEncoding,

    /// Refuse references to objects in other namespaces (multi-tenancy lockdown).
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub no_cross_namespace_refs: bool,

    /// Service account used when an object names none.
    #[arg(long, default_value = "")]
    pub default_service_account: String,

    /// Feature gates, `Name=true,Other=false`; may be repeated.
    #[arg(long, action = ArgAction::Append)]
    pub feature_gates: Vec<FeatureGates>,
}

/// Environment variable with the controller's own namespace (downward API).
pub const RUNTIME_NAMESPACE_ENV: &str = "RUNTIME_NAMESPACE";

impl RuntimeArgs {
    /// `--kube-api-qps` and `--kube-api-burst`, for [`crate::ratelimit::client`].
    pub fn api_limits(&self) -> crate::ratelimit::Limits {
        crate::ratelimit::Limits {
            qps: self.kube_api_qps,
            burst: self.kube_api_burst,
        }
    }

    /// `--concurrent`, or the controller's default when the flag is absent.
    pub fn concurrency(&self, default: usize) -> usize {
        self.concurrent.unwrap_or(default).max(1)
    }

    /// All `--feature-gates` values merged; later flags win, as with pflag maps.
    pub fn feature_gates(&self) -> BTreeMap<String, bool> {
        self.feature_gates
            .iter()
            .flat_map(|g| g.0.iter().map(|(k, v)| (k.clone(), *v)))
            .collect()
    }

    /// The namespace to watch: `None` for all, else `RUNTIME_NAMESPACE`.
    pub fn watch_namespace(&self) -> Option<String> {
        if self.watch_all_namespaces {
            return None;
        }
        std::env::var(RUNTIME_NAMESPACE_ENV).ok()
    }

    /// The label selector to watch with, `None` when unset.
    pub fn watch_selector(&self) -> Option<&str> {
        Some(self.watch_label_selector.trim()).filter(|s| !s.is_empty())
    }
}

/// Turns a Go listen address (`:8080`, `127.0.0.1:9440`, `[::1]:80`) into a socket address;
/// `0` and the empty string (controller-runtime's "disabled") give `None`.
pub fn listen_addr(addr: &str) -> Result<Option<SocketAddr>, String> {
    let addr = addr.trim();
    if addr.is_empty() || addr == "0" {
        return Ok(None);
    }
    if let Some(port) = addr.strip_prefix(':') {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("invalid port in address {addr:?}"))?;
        return Ok(Some(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))));
    }
    addr.parse()
        .map(Some)
        .map_err(|_| format!("invalid listen address {addr:?}"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        runtime: RuntimeArgs,
    }

    fn parse(args: &[&str]) -> Result<RuntimeArgs, clap::Error> {
        let argv = std::iter::once("controller").chain(args.iter().copied());
        Cli::try_parse_from(argv).map(|c| c.runtime)
    }

    #[test]
    fn the_flag_set_is_a_valid_clap_command() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_fluxs_defaults() {
        let a = parse(&[]).expect("no flags parse");
        assert_eq!(a.metrics_addr, ":8080");
        assert_eq!(a.health_addr, ":9440");
        assert_eq!(a.events_addr, "");
        assert_eq!(a.concurrent, None);
        assert_eq!(a.concurrency(4), 4);
        assert_eq!(a.requeue_dependency.get(), Duration::from_secs(30));
        assert_eq!(a.kube_api_qps, 50.0);
        assert_eq!(a.kube_api_burst, 300);
        assert!(!a.enable_leader_election);
        assert_eq!(a.leader_election_lease_duration.to_string(), "35s");
        assert_eq!(a.leader_election_renew_deadline.to_string(), "30s");
        assert_eq!(a.leader_election_retry_period.to_string(), "5s");
        assert!(a.leader_election_release_on_cancel);
        assert!(a.watch_all_namespaces);
        assert_eq!(a.watch_selector(), None);
        assert_eq!(
            a.watch_configs_label_selector,
            "reconcile.fluxcd.io/watch=Enabled"
        );
        assert_eq!(a.min_retry_delay.get(), Duration::from_millis(750));
        assert_eq!(a.max_retry_delay.to_string(), "15m0s");
        assert_eq!(a.interval_jitter_percentage, 5);
        assert_eq!(a.log_level, LogLevel::Info);
        assert_eq!(a.log_encoding, LogEncoding::Json);
        assert!(!a.no_cross_namespace_refs);
        assert!(a.feature_gates().is_empty());
    }

    #[test]
    fn the_args_of_fluxs_install_manifests_parse() {
        let a = parse(&[
            "--events-addr=http://notification-controller.flux-system.svc.cluster.local./",
            "--watch-all-namespaces=true",
            "--log-level=info",
            "--log-encoding=json",
            "--enable-leader-election",
            "--concurrent=10",
            "--requeue-dependency=5s",
            "--max-retry-delay=1h30m",
        ])
        .expect("manifest args parse");
        assert!(a.enable_leader_election);
        assert_eq!(
            a.events_addr,
            "http://notification-controller.flux-system.svc.cluster.local./"
        );
        assert_eq!(a.concurrency(2), 10);
        assert_eq!(a.requeue_dependency.get(), Duration::from_secs(5));
        assert_eq!(a.max_retry_delay.to_string(), "1h30m0s");
    }

    #[test]
    fn boolean_flags_take_go_spellings_after_an_equals_sign() {
        let a = parse(&[
            "--watch-all-namespaces=false",
            "--enable-leader-election=true",
        ])
        .expect("explicit booleans parse");
        assert!(!a.watch_all_namespaces);
        assert!(a.enable_leader_election);
        let a = parse(&[
            "--no-cross-namespace-refs=T",
            "--leader-election-release-on-cancel=0",
        ])
        .expect("Go spellings parse");
        assert!(a.no_cross_namespace_refs);
        assert!(!a.leader_election_release_on_cancel);
        assert!(parse(&["--enable-leader-election=yes"]).is_err());
    }

    #[test]
    fn a_bare_boolean_flag_does_not_swallow_the_next_argument() {
        let err = parse(&["--enable-leader-election", "false"]).expect_err("stray positional");
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn bad_durations_and_jitter_are_rejected() {
        assert!(parse(&["--min-retry-delay=5d"]).is_err());
        assert!(parse(&["--requeue-dependency=30"]).is_err());
        assert!(parse(&["--interval-jitter-percentage=100"]).is_err());
        assert!(parse(&["--log-level=verbose"]).is_err());
        assert!(parse(&["--log-encoding=text"]).is_err());
    }

    #[test]
    fn feature_gates_merge_with_later_values_winning() {
        let a = parse(&[
            "--feature-gates=OOMWatch=true,DetectDrift=false",
            "--feature-gates=DetectDrift=true",
        ])
        .expect("gates parse");
        let gates = a.feature_gates();
        assert_eq!(gates.get("OOMWatch"), Some(&true));
        assert_eq!(gates.get("DetectDrift"), Some(&true));
        assert!(parse(&["--feature-gates=Broken"]).is_err());
    }

    #[test]
    fn go_listen_addresses_bind_every_interface_or_nothing() {
        assert_eq!(
            listen_addr(":8080"),
            Ok(Some(SocketAddr::from(([0, 0, 0, 0], 8080))))
        );
        assert_eq!(
            listen_addr("127.0.0.1:9440"),
            Ok(Some(SocketAddr::from(([127, 0, 0, 1], 9440))))
        );
        assert_eq!(listen_addr("0"), Ok(None));
        assert_eq!(listen_addr(""), Ok(None));
        assert!(listen_addr(":http").is_err());
    }
}
