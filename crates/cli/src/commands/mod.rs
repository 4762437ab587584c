//! One module per subcommand, each with its clap arguments and a `run` function.

pub mod bootstrap;
pub mod build;
pub mod check;
pub mod cluster;
pub mod completion;
pub mod crds;
pub mod create;
pub mod delete;
pub mod diff;
pub mod events;
pub mod export;
pub mod get;
pub mod helm;
pub mod install;
pub mod kinds;
pub mod kustomize;
pub mod output;
pub mod reconcile;
pub mod status;
pub mod suspend;
pub mod target;
pub mod trace;
pub mod tree;
pub mod uninstall;

use crate::yaml::YamlError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// `driftless source-controller` stopped with an error.
    #[error(transparent)]
    SourceController(#[from] driftless_source_controller::RunError),
    /// `driftless kustomize-controller` stopped with an error.
    #[error(transparent)]
    KustomizeController(#[from] driftless_kustomize_controller::RunError),
    /// `driftless helm-controller` stopped with an error.
    #[error(transparent)]
    HelmController(#[from] driftless_helm_controller::RunError),
    /// `driftless notification-controller` stopped with an error.
    #[error(transparent)]
    NotificationController(#[from] driftless_notification_controller::RunError),
    /// `driftless image-reflector-controller` stopped with an error.
    #[error(transparent)]
    ImageReflectorController(#[from] driftless_image_reflector_controller::RunError),
    /// `driftless image-automation-controller` stopped with an error.
    #[error(transparent)]
    ImageAutomationController(#[from] driftless_image_automation_controller::RunError),
    /// A user command's request to the cluster failed (with a hint at the fix).
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
    /// Writing the command's output failed (full disk, closed terminal).
    #[error("writing output")]
    Output(#[source] std::io::Error),
    /// A command that ends with an exit status of its own (`diff`: 1 on changes, 2 on failure).
    #[error(transparent)]
    Status(diff::StatusError),
}

impl CommandError {
    /// The exit status the process ends with: the command's own, else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Status(status) => status.code,
            _ => 1,
        }
    }
}

/// Writes a command's whole output. A reader that stops early (`driftless crds | head`) is not
/// an error, as with any Unix filter.
pub fn write_output(out: &mut impl std::io::Write, text: &str) -> Result<(), CommandError> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CommandError::Output(e)),
        _ => Ok(()),
    }
}
