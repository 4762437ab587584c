//! `driftless completion bash|zsh|fish|powershell`: the shell completion script, as
//! `flux completion <shell>` prints it, generated from the same command definition the binary
//! parses with, so it never falls behind a new flag.

use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;

use super::CommandError;
use super::output::Printer;

/// The shells flux completes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

impl From<CompletionShell> for Shell {
    fn from(shell: CompletionShell) -> Self {
        match shell {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
            CompletionShell::Powershell => Shell::PowerShell,
        }
    }
}

/// Arguments of `driftless completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// The completion script for `shell`.
pub fn script(shell: CompletionShell) -> Result<String, CommandError> {
    let mut command = crate::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(Shell::from(shell), &mut command, "driftless", &mut out);
    String::from_utf8(out)
        .map_err(|e| CommandError::Output(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

/// Runs `driftless completion`.
pub fn run(args: &CompletionArgs) -> Result<(), CommandError> {
    Printer::stdio().print(&script(args.shell)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_the_user_commands() {
        for shell in [
            CompletionShell::Bash,
            CompletionShell::Zsh,
            CompletionShell::Fish,
            CompletionShell::Powershell,
        ] {
            let text = script(shell).expect("script");
            for command in ["bootstrap", "reconcile", "kustomization"] {
                assert!(text.contains(command), "{shell:?} lacks {command}");
            }
        }
        assert!(
            script(CompletionShell::Bash)
                .expect("bash")
                .contains("complete -F")
        );
    }
}
