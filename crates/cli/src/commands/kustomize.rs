//! `driftless kustomize build <dir>`: what `kustomize build <dir>` prints, built by
//! driftless-kustomize instead of the Go binary.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CommandError, write_output};

/// Arguments of `driftless kustomize`.
#[derive(Debug, Args)]
pub struct KustomizeArgs {
    #[command(subcommand)]
    pub action: KustomizeAction,
}

/// What `driftless kustomize` does (only `build`, as Flux only builds).
#[derive(Debug, Subcommand)]
pub enum KustomizeAction {
    /// Print the resources the kustomization in DIR builds, as `kustomize build DIR` prints them.
    Build {
        /// The kustomization directory (the current directory when omitted, as with kustomize).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

/// The exit status kustomize uses for every failed build.
const FAILURE: i32 = 1;

/// Runs the action. A failed build prints `Error: <message>` on stderr and ends the process
/// with status 1, as kustomize does; the binary's generic `error:` report would print the
/// message in another shape, which scripts that compare the two tools' output would notice.
pub fn run(args: &KustomizeArgs) -> Result<(), CommandError> {
    let KustomizeAction::Build { dir } = &args.action;
    match build(dir) {
        Ok(text) => write_output(&mut std::io::stdout().lock(), &text),
        Err(message) => {
            let _ = writeln!(std::io::stderr().lock(), "{message}");
            std::process::exit(FAILURE)
        }
    }
}

/// The build's output, or the line kustomize would print on stderr.
pub fn build(dir: &std::path::Path) -> Result<String, String> {
    driftless_kustomize::build(dir).map_err(|e| format!("Error: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_fails_with_kustomizes_error_prefix() {
        let err = build(std::path::Path::new("/nonexistent/driftless/dir")).expect_err("fails");
        assert!(err.starts_with("Error: "), "{err}");
        assert!(err.contains("/nonexistent/driftless/dir"), "{err}");
    }
}
