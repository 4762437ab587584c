//! `driftless notification-controller` flags: the runtime flags every Flux controller shares plus
//! notification-controller's own, spelled and defaulted as its `main.go` does. Two differ from the
//! other controllers: `--events-addr` is where this controller *listens* for events (`:9090`), and
//! the webhook address keeps Flux's camel-case spelling `--receiverAddr` (`--receiver-addr` is
//! accepted too).

use std::time::Duration;

use clap::{ArgAction, Args as ClapArgs};
use driftless_runtime::flags::{GoDuration, RuntimeArgs, parse_go_bool};

/// notification-controller's default `--concurrent`.
pub const DEFAULT_CONCURRENT: usize = 4;

/// Flux's default `--events-addr` for notification-controller.
pub const DEFAULT_EVENTS_ADDR: &str = ":9090";

/// Flags of `driftless notification-controller`.
#[derive(Clone, Debug, ClapArgs)]
#[command(mut_arg("events_addr", |a| a
    .default_value(DEFAULT_EVENTS_ADDR)
    .help("The address the event endpoint binds to.")))]
pub struct Args {
    /// Flags shared by every controller (`--metrics-addr`, `--events-addr`, `--concurrent`…).
    #[command(flatten)]
    pub runtime: RuntimeArgs,

    /// The address the webhook receiver endpoint binds to.
    #[arg(
        long = "receiverAddr",
        visible_alias = "receiver-addr",
        default_value = ":9292"
    )]
    pub receiver_addr: String,

    /// Interval in which rate limit has effect: one event per key per interval.
    #[arg(long, default_value = "5m")]
    pub rate_limit_interval: GoDuration,

    /// Include the request's full path in the HTTP server metrics (high cardinality).
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub export_http_path_metrics: bool,

    /// The issuer whose ID tokens `gcr` Receivers accept. Not a Flux flag: Google's issuer is
    /// the only right value in a cluster; tests point it at a loopback issuer.
    #[arg(long, hide = true, default_value = crate::receiver::identity::GOOGLE_ISSUER)]
    pub gcr_issuer_url: String,
}

impl Args {
    /// `--events-addr`, the event server's listen address.
    pub fn events_addr(&self) -> &str {
        &self.runtime.events_addr
    }

    /// `--rate-limit-interval`.
    pub fn rate_limit_interval(&self) -> Duration {
        self.rate_limit_interval.get()
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
        Cli::try_parse_from(std::iter::once("notification-controller").chain(argv.iter().copied()))
            .map(|c| c.args)
    }

    #[test]
    fn the_flag_set_is_a_valid_clap_command() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_fluxs() {
        let args = parse(&[]).expect("defaults parse");
        assert_eq!(args.events_addr(), ":9090");
        assert_eq!(args.receiver_addr, ":9292");
        assert_eq!(args.rate_limit_interval(), Duration::from_secs(300));
        assert_eq!(args.runtime.concurrency(DEFAULT_CONCURRENT), 4);
        assert!(!args.export_http_path_metrics);
    }

    #[test]
    fn the_args_of_fluxs_notification_controller_deployment_parse() {
        let args = parse(&[
            "--watch-all-namespaces",
            "--log-level=info",
            "--log-encoding=json",
            "--enable-leader-election",
            "--receiverAddr=:9393",
            "--events-addr=127.0.0.1:9191",
            "--rate-limit-interval=30s",
        ])
        .expect("manifest args parse");
        assert!(args.runtime.enable_leader_election);
        assert_eq!(args.receiver_addr, ":9393");
        assert_eq!(args.events_addr(), "127.0.0.1:9191");
        assert_eq!(args.rate_limit_interval(), Duration::from_secs(30));
    }

    #[test]
    fn the_receiver_address_also_parses_in_kebab_case() {
        let args = parse(&["--receiver-addr=:1234"]).expect("kebab-case alias parses");
        assert_eq!(args.receiver_addr, ":1234");
    }
}
