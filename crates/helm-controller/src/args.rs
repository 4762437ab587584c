//! `driftless helm-controller` flags: the runtime flags every Flux controller shares
//! (`--concurrent`, `--requeue-dependency`, `--default-service-account`,
//! `--no-cross-namespace-refs`, `--watch-*`, `--feature-gates`…) plus helm-controller's own,
//! spelled and defaulted as its `main.go` does, so Flux's stock Deployment args parse unchanged.

use std::time::Duration;

use clap::{ArgAction, Args as ClapArgs};
use driftless_runtime::flags::{GoDuration, RuntimeArgs, parse_go_bool};

/// helm-controller's default `--concurrent`.
pub const DEFAULT_CONCURRENT: usize = 4;

/// Flags of `driftless helm-controller`.
#[derive(Clone, Debug, ClapArgs)]
pub struct Args {
    /// Flags shared by every controller (`--metrics-addr`, `--events-addr`, `--concurrent`…).
    #[command(flatten)]
    pub runtime: RuntimeArgs,

    /// Retries of a chart artifact download.
    #[arg(long, default_value_t = 9)]
    pub http_retry: u32,

    /// Timeout of one chart artifact download.
    #[arg(long, default_value = "5m")]
    pub http_timeout: GoDuration,

    /// Allow `insecure-skip-tls-verify` in `spec.kubeConfig` kubeconfigs (stripped otherwise).
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub insecure_kubeconfig_tls: bool,

    /// Allow exec credential plugins and auth providers in `spec.kubeConfig` kubeconfigs
    /// (stripped otherwise).
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub insecure_kubeconfig_exec: bool,

    /// Flux's OOM watch threshold in percent (accepted for Deployment compatibility; driftless
    /// stays far below its memory limit and never needs to cancel releases for it).
    #[arg(long, default_value_t = 95)]
    pub oom_watch_memory_threshold: u8,

    /// Flux's OOM watch polling interval (accepted, as above).
    #[arg(long, default_value = "500ms")]
    pub oom_watch_interval: GoDuration,

    /// Flux's OOM watch cgroup file of the memory limit (accepted, as above).
    #[arg(long, default_value = "")]
    pub oom_watch_max_memory_path: String,

    /// Flux's OOM watch cgroup file of the memory usage (accepted, as above).
    #[arg(long, default_value = "")]
    pub oom_watch_current_memory_path: String,
}

impl Args {
    /// `--requeue-dependency`.
    pub fn requeue_dependency(&self) -> Duration {
        self.runtime.requeue_dependency.get()
    }

    /// `--default-service-account`, when set.
    pub fn default_service_account(&self) -> Option<String> {
        Some(self.runtime.default_service_account.trim().to_owned()).filter(|s| !s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        Cli::try_parse_from(std::iter::once("helm-controller").chain(argv.iter().copied()))
            .map(|c| c.args)
    }

    #[test]
    fn the_flag_set_is_a_valid_clap_command() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_args_of_fluxs_helm_controller_deployment_parse() {
        let args = parse(&[
            "--events-addr=http://notification-controller.flux-system.svc.cluster.local./",
            "--watch-all-namespaces",
            "--log-level=info",
            "--log-encoding=json",
            "--enable-leader-election",
            "--default-service-account=helm",
            "--no-cross-namespace-refs=true",
            "--http-retry=3",
            "--feature-gates=OOMWatch=true",
            "--oom-watch-memory-threshold=90",
        ])
        .expect("manifest args parse");
        assert_eq!(args.runtime.concurrency(DEFAULT_CONCURRENT), 4);
        assert_eq!(args.default_service_account().as_deref(), Some("helm"));
        assert!(args.runtime.no_cross_namespace_refs);
        assert_eq!(args.http_retry, 3);
    }

    #[test]
    fn defaults_are_fluxs() {
        let args = parse(&[]).expect("defaults parse");
        assert_eq!(args.http_retry, 9);
        assert_eq!(args.requeue_dependency(), Duration::from_secs(30));
        assert_eq!(args.default_service_account(), None);
        assert!(!args.insecure_kubeconfig_tls);
    }
}
