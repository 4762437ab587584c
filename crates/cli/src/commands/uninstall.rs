//! `driftless uninstall`: remove the controllers. By default the CRDs, the namespace and so every
//! user object (sources, Kustomizations…) stay; `--crds` also removes the Flux finalizers and
//! CRDs (and with them every Flux object), and the namespace unless `--keep-namespace`, as
//! `flux uninstall` does.

use clap::Args;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use super::CommandError;
use super::cluster::{ClusterError, KubeArgs, block_on, is_not_found};
use super::install::api_for;
use super::kinds;
use super::output::Printer;
use crate::manifests::{Install, VERSION_OF_THIS_BUILD};

/// Arguments of `driftless uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Also delete the Flux CRDs, and so every Flux object in the cluster.
    #[arg(long)]
    pub crds: bool,
    /// With --crds: keep the namespace.
    #[arg(long)]
    pub keep_namespace: bool,
    /// Do not ask for confirmation.
    #[arg(short = 's', long)]
    pub silent: bool,
}

/// Runs `driftless uninstall`.
pub fn run(args: &UninstallArgs) -> Result<(), CommandError> {
    if !args.silent {
        let what = if args.crds {
            "Flux and its custom resource definitions (every Flux object goes with them)"
        } else {
            "the Flux components"
        };
        let mut printer = Printer::stdio();
        printer.print_err(&format!("? Are you sure you want to delete {what} [y/N] "))?;
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(CommandError::Output)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            return Err(ClusterError::Failed("aborting".into()).into());
        }
    }
    block_on(async {
        let client = args.kube.client().await?;
        uninstall(&client, args, &mut Printer::stdio()).await
    })
}

/// Deletes what `args` asks for, in reverse install order.
pub async fn uninstall(
    client: &kube::Client,
    args: &UninstallArgs,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    let install = Install {
        namespace: args.kube.namespace.clone(),
        version: VERSION_OF_THIS_BUILD.to_owned(),
    };
    let objects = install.objects()?;
    printer.action(&format!(
        "deleting components in {} namespace",
        install.namespace
    ))?;
    for object in objects.iter().rev() {
        let kind = object["kind"].as_str().unwrap_or_default();
        if kind == "CustomResourceDefinition" || kind == "Namespace" {
            continue;
        }
        delete(client, object).await?;
    }
    if args.crds {
        printer.action("deleting toolkit.fluxcd.io finalizers in all namespaces")?;
        for kind in kinds::ALL {
            let api = kind.api(client, None);
            let list = match api.list(&ListParams::default()).await {
                Ok(list) => list,
                Err(e) if is_not_found(&e) => continue,
                Err(e) => {
                    return Err(ClusterError::api(format!("listing {}", kind.plural), e).into());
                }
            };
            for object in list.items {
                let (Some(name), Some(namespace)) =
                    (object.metadata.name, object.metadata.namespace)
                else {
                    continue;
                };
                kind.api(client, Some(&namespace))
                    .patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
                    )
                    .await
                    .map_err(|e| {
                        ClusterError::api(
                            format!(
                                "removing the finalizers of {} {namespace}/{name}",
                                kind.kind
                            ),
                            e,
                        )
                    })?;
            }
        }
        printer.action("deleting toolkit.fluxcd.io custom resource definitions")?;
        for object in objects
            .iter()
            .filter(|o| o["kind"] == "CustomResourceDefinition")
        {
            delete(client, object).await?;
        }
        if !args.keep_namespace {
            for object in objects.iter().filter(|o| o["kind"] == "Namespace") {
                delete(client, object).await?;
            }
        }
    }
    printer.success("uninstall finished")?;
    Ok(())
}

/// Deletes one install object; one that is already gone, or whose kind the server does not
/// serve (NetworkPolicy off, CRD gone), is fine.
async fn delete(client: &kube::Client, object: &Value) -> Result<(), ClusterError> {
    let Ok((api, name, kind)) = api_for(client, object).await else {
        return Ok(());
    };
    match api.delete(&name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(ClusterError::api(format!("deleting {kind}/{name}"), e)),
    }
}
