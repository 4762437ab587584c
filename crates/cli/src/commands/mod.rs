//! One module per subcommand, each with its clap arguments and a `run` function.

pub mod crds;

use crate::yaml::YamlError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// Writing the command's output failed (closed pipe, full disk).
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
}
