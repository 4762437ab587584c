//! `driftless delete <kind> <name> [--silent]`: delete one Flux object after a confirmation
//! (skipped with `--silent`), as flux does; the controller's finalizer does the rest.

use std::io::BufRead;

use clap::Args;
use kube::api::DeleteParams;

use super::CommandError;
use super::cluster::{ClusterError, KubeArgs, block_on};
use super::output::Printer;
use super::target::{Target, fetch};

/// Arguments of `driftless delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Delete without asking for confirmation.
    #[arg(short = 's', long, global = true)]
    pub silent: bool,
    #[command(subcommand)]
    pub target: Target,
}

/// Runs `driftless delete`, asking on stdin unless `--silent`.
pub fn run(args: &DeleteArgs) -> Result<(), CommandError> {
    block_on(async {
        let client = args.kube.client().await?;
        let stdin = std::io::stdin();
        delete(&client, args, &mut stdin.lock(), &mut Printer::stdio()).await
    })
}

/// Deletes the object; `answer` is read for the confirmation when not silent.
pub async fn delete(
    client: &kube::Client,
    args: &DeleteArgs,
    answer: &mut dyn BufRead,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    let (kind, name) = args.target.single()?;
    let namespace = args.kube.namespace.as_str();
    // Fails with "not found" (or "CRD missing") before asking anything.
    fetch(client, kind, namespace, name).await?;
    if !args.silent {
        printer.print_err(&format!(
            "? Are you sure you want to delete this {} [y/N] ",
            kind.human
        ))?;
        let mut line = String::new();
        answer.read_line(&mut line).map_err(CommandError::Output)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            return Err(ClusterError::Failed("aborting".into()).into());
        }
    }
    printer.action(&format!(
        "deleting {} {name} in {namespace} namespace",
        kind.human
    ))?;
    kind.api(client, Some(namespace))
        .delete(name, &DeleteParams::default())
        .await
        .map_err(|e| ClusterError::api(format!("deleting {} {name}", kind.kind), e))?;
    printer.success(&format!("{} deleted", kind.human))?;
    Ok(())
}
