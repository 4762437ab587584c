//! `driftless suspend|resume <kind> <name>…`: flip `spec.suspend`; resume then waits for the
//! controller to reconcile the object again, as flux does.

use clap::Args;
use serde_json::json;

use super::CommandError;
use super::cluster::{ClusterError, KubeArgs, block_on};
use super::output::Printer;
use super::reconcile::wait;
use super::target::{Target, merge_patch};

/// Arguments of `driftless suspend` and `driftless resume`.
#[derive(Debug, Args)]
pub struct SuspendArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Resume: wait for the objects to become Ready (`--wait=false` returns at once).
    #[arg(long, global = true, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub wait: bool,
    #[command(subcommand)]
    pub target: Target,
}

/// Runs `driftless suspend` (`resume` false) or `driftless resume`.
pub fn run(args: &SuspendArgs, resume: bool) -> Result<(), CommandError> {
    block_on(async {
        let client = args.kube.client().await?;
        set_suspended(&client, args, !resume, &mut Printer::stdio()).await
    })
}

/// Suspends or resumes every named object; names that do not exist are reported and skipped,
/// and the command fails at the end if any did not work out.
pub async fn set_suspended(
    client: &kube::Client,
    args: &SuspendArgs,
    suspend: bool,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    let (kind, names) = args.target.resolve();
    if names.is_empty() {
        return Err(ClusterError::Invalid(format!("{} name is required", kind.human)).into());
    }
    let namespace = args.kube.namespace.as_str();
    let (doing, done) = if suspend {
        ("suspending", "suspended")
    } else {
        ("resuming", "resumed")
    };
    let mut patched = Vec::new();
    let mut failed = 0;
    for name in names {
        printer.action(&format!(
            "{doing} {} {name} in {namespace} namespace",
            kind.human
        ))?;
        match merge_patch(
            client,
            kind,
            namespace,
            name,
            json!({"spec": {"suspend": suspend}}),
        )
        .await
        {
            Ok(object) => {
                printer.success(&format!("{} {done}", kind.human))?;
                patched.push((name.clone(), object));
            }
            Err(ClusterError::NotFound { .. }) => {
                failed += 1;
                printer.failure(&format!(
                    "{} {name} not found in {namespace} namespace",
                    kind.kind
                ))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    if !suspend && args.wait {
        for (name, patched) in patched {
            printer.waiting(&format!("waiting for {} reconciliation", kind.kind))?;
            // The patch bumped the generation: Current means the controller observed it.
            let generation = patched.pointer("/metadata/generation").cloned();
            let result = wait(client, &args.kube, kind, namespace, &name, |o| {
                o.pointer("/status/observedGeneration") == generation.as_ref()
            })
            .await;
            match result {
                Ok(object) => {
                    printer.success(&format!("{} {name} reconciliation completed", kind.kind))?;
                    printer.success(&kind.success_message(&object))?;
                }
                Err(e) => {
                    failed += 1;
                    printer.failure(&format!("{} {name} reconciliation failed: {e}", kind.kind))?;
                }
            }
        }
    }
    if failed > 0 {
        let what = if suspend { "suspend" } else { "resume" };
        return Err(
            ClusterError::Failed(format!("{what} failed for {failed} {}(s)", kind.kind)).into(),
        );
    }
    Ok(())
}
