//! `driftless kustomize-controller` flags: the runtime flags every Flux controller shares plus
//! kustomize-controller's own, spelled and defaulted as its `main.go` does, so Flux's stock
//! Deployment args parse unchanged.

use std::time::Duration;

use clap::{ArgAction, Args as ClapArgs};
use driftless_runtime::flags::{RuntimeArgs, parse_go_bool};

/// kustomize-controller's default `--concurrent`.
pub const DEFAULT_CONCURRENT: usize = 4;

/// Flux's feature gate that makes an unset variable without default a build error.
pub const STRICT_SUBSTITUTIONS_GATE: &str = "StrictPostBuildSubstitutions";

/// Flux's feature gate that makes `dependsOn[].readyExpr` an extra condition on top of the
/// built-in readiness check instead of a replacement for it.
pub const ADDITIVE_CEL_DEPENDENCY_CHECK_GATE: &str = "AdditiveCELDependencyCheck";

/// Flags of `driftless kustomize-controller`.
#[derive(Clone, Debug, ClapArgs)]
pub struct Args {
    /// Flags shared by every controller (`--metrics-addr`, `--events-addr`, `--concurrent`…).
    #[command(flatten)]
    pub runtime: RuntimeArgs,

    /// Disallow remote bases in kustomizations; only files inside the artifact are read.
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub no_remote_bases: bool,

    /// Timeout of one artifact download.
    #[arg(long, default_value = "5m")]
    pub http_timeout: driftless_runtime::flags::GoDuration,

    /// Retries of an artifact download.
    #[arg(long, default_value_t = 9)]
    pub http_retry: u32,
}

impl Args {
    /// `--requeue-dependency`.
    pub fn requeue_dependency(&self) -> Duration {
        self.runtime.requeue_dependency.get()
    }

    /// Whether `StrictPostBuildSubstitutions` is on.
    pub fn strict_substitutions(&self) -> bool {
        self.gate(STRICT_SUBSTITUTIONS_GATE)
    }

    /// Whether `AdditiveCELDependencyCheck` is on.
    pub fn additive_cel_dependency_check(&self) -> bool {
        self.gate(ADDITIVE_CEL_DEPENDENCY_CHECK_GATE)
    }

    fn gate(&self, name: &str) -> bool {
        self.runtime
            .feature_gates()
            .get(name)
            .copied()
            .unwrap_or(false)
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
        Cli::try_parse_from(std::iter::once("kustomize-controller").chain(argv.iter().copied()))
            .map(|c| c.args)
    }

    #[test]
    fn the_flag_set_is_a_valid_clap_command() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_args_of_fluxs_kustomize_controller_deployment_parse() {
        let args = parse(&[
            "--events-addr=http://notification-controller.flux-system.svc.cluster.local./",
            "--watch-all-namespaces=true",
            "--log-level=info",
            "--log-encoding=json",
            "--enable-leader-election",
            "--no-remote-bases=true",
            "--feature-gates=StrictPostBuildSubstitutions=true",
            "--feature-gates=AdditiveCELDependencyCheck=true",
        ])
        .expect("manifest args parse");
        assert!(args.no_remote_bases);
        assert!(args.strict_substitutions());
        assert!(args.additive_cel_dependency_check());
        assert_eq!(args.runtime.concurrency(DEFAULT_CONCURRENT), 4);
        assert_eq!(args.default_service_account(), None);
    }

    #[test]
    fn defaults_are_fluxs() {
        let args = parse(&[]).expect("defaults parse");
        assert!(!args.no_remote_bases);
        assert!(!args.strict_substitutions());
        assert!(!args.additive_cel_dependency_check());
        assert_eq!(args.requeue_dependency(), Duration::from_secs(30));
    }
}
