//! The command line: one subcommand per controller or user command, each defined in
//! [`crate::commands`].

use clap::{Parser, Subcommand};

use crate::commands::{self, CommandError};

/// driftless: a Flux-compatible GitOps toolkit.
#[derive(Debug, Parser)]
#[command(name = "driftless", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand. Controller subcommands (`source-controller`, `kustomize-controller`…) and
/// user commands join this list as they are written.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the CustomResourceDefinition of every kind driftless serves, as YAML.
    Crds(commands::crds::CrdsArgs),
    /// Run source-controller: reconcile GitRepositories, HelmRepositories, HelmCharts,
    /// OCIRepositories and Buckets into artifacts and serve them.
    SourceController(Box<driftless_source_controller::Args>),
    /// Run kustomize-controller: build, decrypt, substitute, apply, prune and health-check
    /// Kustomizations.
    KustomizeController(Box<driftless_kustomize_controller::Args>),
    /// Run helm-controller: install, upgrade, test, remediate and uninstall HelmReleases.
    HelmController(Box<driftless_helm_controller::Args>),
    /// Run notification-controller: forward events to alert providers and serve webhook
    /// Receivers.
    NotificationController(Box<driftless_notification_controller::Args>),
    /// Run image-automation-controller: rewrite ImagePolicy setter markers in Git, commit and
    /// push.
    ImageAutomationController(Box<driftless_image_automation_controller::Args>),
    /// Run image-reflector-controller: scan image repositories' tags and resolve ImagePolicies.
    ImageReflectorController(Box<driftless_image_reflector_controller::Args>),
    /// Build a kustomization as `kustomize build` does (`driftless kustomize build DIR`).
    Kustomize(commands::kustomize::KustomizeArgs),
    /// Render a Helm chart as `helm template` does (`driftless helm template RELEASE CHART`).
    Helm(commands::helm::HelmArgs),
    /// Print the status of Flux objects (sources, Kustomizations, HelmReleases).
    Get(commands::get::GetArgs),
    /// Ask a controller to reconcile an object now, and wait for the result.
    Reconcile(commands::reconcile::ReconcileArgs),
    /// Suspend the reconciliation of objects.
    Suspend(commands::suspend::SuspendArgs),
    /// Resume suspended objects and wait for them to reconcile.
    Resume(commands::suspend::SuspendArgs),
    /// Delete a Flux object.
    Delete(commands::delete::DeleteArgs),
    /// Print Flux objects as YAML, without status or server fields.
    Export(commands::export::ExportArgs),
    /// Print the shell completion script (bash, zsh, fish, powershell).
    Completion(commands::completion::CompletionArgs),
    /// Make the cluster follow a Git repository: commit, install and sync Flux's manifests.
    Bootstrap(commands::bootstrap::BootstrapArgs),
    /// Build a Kustomization's manifests from a local directory, as the controller would.
    Build(commands::build::BuildArgs),
    /// Show what applying a local build would change in the cluster (exit code 1 on changes).
    Diff(commands::diff::DiffArgs),
    /// Print the Kubernetes events of Flux objects.
    Events(commands::events::EventsArgs),
    /// Print the objects a Kustomization applied, as a tree.
    Tree(commands::tree::TreeArgs),
    /// Print which Kustomization and source an object comes from.
    Trace(commands::trace::TraceArgs),
    /// Create or update sources, Kustomizations and Secrets (`--export` prints them).
    Create(commands::create::CreateArgs),
    /// Check the cluster and the installed controllers as `flux check` does.
    Check(commands::check::CheckArgs),
    /// Install the controllers, or print their manifests with --export.
    Install(commands::install::InstallArgs),
    /// Remove the controllers (and with --crds every Flux object).
    Uninstall(commands::uninstall::UninstallArgs),
}

/// Runs the chosen subcommand to completion.
pub fn run(cli: Cli) -> Result<(), CommandError> {
    match cli.command {
        Command::Crds(args) => commands::crds::run(&args, &mut std::io::stdout().lock()),
        Command::SourceController(args) => Ok(driftless_source_controller::run_blocking(*args)?),
        Command::KustomizeController(args) => {
            Ok(driftless_kustomize_controller::run_blocking(*args)?)
        }
        Command::HelmController(args) => Ok(driftless_helm_controller::run_blocking(*args)?),
        Command::NotificationController(args) => {
            Ok(driftless_notification_controller::run_blocking(*args)?)
        }
        Command::ImageAutomationController(args) => {
            Ok(driftless_image_automation_controller::run_blocking(*args)?)
        }
        Command::ImageReflectorController(args) => {
            Ok(driftless_image_reflector_controller::run_blocking(*args)?)
        }
        Command::Kustomize(args) => commands::kustomize::run(&args),
        Command::Helm(args) => commands::helm::run(&args),
        Command::Get(args) => commands::get::run(&args),
        Command::Reconcile(args) => commands::reconcile::run(&args),
        Command::Suspend(args) => commands::suspend::run(&args, false),
        Command::Resume(args) => commands::suspend::run(&args, true),
        Command::Delete(args) => commands::delete::run(&args),
        Command::Export(args) => commands::export::run(&args),
        Command::Bootstrap(args) => commands::bootstrap::run(&args),
        Command::Completion(args) => commands::completion::run(&args),
        Command::Build(args) => commands::build::run(&args),
        Command::Diff(args) => commands::diff::run(&args),
        Command::Events(args) => commands::events::run(&args),
        Command::Tree(args) => commands::tree::run(&args),
        Command::Trace(args) => commands::trace::run(&args),
        Command::Create(args) => commands::create::run(&args),
        Command::Check(args) => commands::check::run(&args),
        Command::Install(args) => commands::install::run(&args),
        Command::Uninstall(args) => commands::uninstall::run(&args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn crds_is_a_subcommand() {
        let cli = Cli::try_parse_from(["driftless", "crds"]).expect("parses");
        assert!(matches!(cli.command, Command::Crds(_)));
    }
}
