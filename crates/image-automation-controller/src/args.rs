//! `driftless image-automation-controller` flags: the runtime flags every Flux controller
//! shares, with image-automation-controller's feature gates.

use clap::Args as ClapArgs;
use driftless_runtime::flags::RuntimeArgs;

/// image-automation-controller's default `--concurrent`.
pub const DEFAULT_CONCURRENT: usize = 4;

/// Flux's gate for depth-1 clones (on by default).
pub const GIT_SHALLOW_CLONE_GATE: &str = "GitShallowClone";
/// Flux's gate for overwriting a push branch that differs from the checkout (on by default).
pub const GIT_FORCE_PUSH_BRANCH_GATE: &str = "GitForcePushBranch";

/// Flags of `driftless image-automation-controller`.
#[derive(Clone, Debug, ClapArgs)]
pub struct Args {
    /// Flags shared by every controller (`--metrics-addr`, `--events-addr`, `--concurrent`…).
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

impl Args {
    /// Whether clones are shallow (`GitShallowClone`, default true).
    pub fn shallow_clone(&self) -> bool {
        self.gate(GIT_SHALLOW_CLONE_GATE)
    }

    /// Whether a separate push branch is overwritten (`GitForcePushBranch`, default true).
    pub fn force_push_branch(&self) -> bool {
        self.gate(GIT_FORCE_PUSH_BRANCH_GATE)
    }

    fn gate(&self, name: &str) -> bool {
        self.runtime
            .feature_gates()
            .get(name)
            .copied()
            .unwrap_or(true)
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

    #[test]
    fn the_flag_set_is_a_valid_clap_command() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_args_of_the_install_manifests_deployment_parse() {
        let args = Cli::try_parse_from([
            "image-automation-controller",
            "--events-addr=http://notification-controller.flux-system.svc.cluster.local./",
            "--watch-all-namespaces=true",
            "--log-level=info",
            "--log-encoding=json",
            "--enable-leader-election",
        ])
        .expect("manifest args parse")
        .args;
        assert_eq!(args.runtime.concurrency(DEFAULT_CONCURRENT), 4);
        assert_eq!(args.runtime.watch_namespace(), None);
    }

    #[test]
    fn git_gates_default_on_and_can_be_turned_off() {
        let args = Cli::try_parse_from(["iac"]).expect("defaults").args;
        assert!(args.shallow_clone() && args.force_push_branch());
        let args = Cli::try_parse_from([
            "iac",
            "--feature-gates=GitShallowClone=false,GitForcePushBranch=false",
        ])
        .expect("gates")
        .args;
        assert!(!args.shallow_clone() && !args.force_push_branch());
    }
}
