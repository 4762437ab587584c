//! `driftless install [--export]`: the install manifest `cargo xtask generate` writes to deploy/,
//! printed or server-side applied, then the controller Deployments waited for, as `flux install`
//! does.

use std::time::Duration;

use clap::Args;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{GroupVersionKind, TypeMeta};
use kube::discovery::Scope;
use serde_json::Value;

use super::CommandError;
use super::check::rolled_out;
use super::cluster::{ClusterError, KubeArgs, block_on};
use super::output::Printer;
use crate::manifests::{CONTROLLERS, Install, VERSION_OF_THIS_BUILD};

/// The field manager `flux install` applies with.
const FIELD_MANAGER: &str = "flux";

/// Arguments of `driftless install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Print the manifests instead of applying them.
    #[arg(long)]
    pub export: bool,
    /// The version to install (image tag and version labels).
    #[arg(short = 'v', long, default_value = VERSION_OF_THIS_BUILD)]
    pub version: String,
}

impl InstallArgs {
    /// The install manifest these arguments describe, as `--export` prints it.
    pub fn manifest(&self) -> Result<String, CommandError> {
        Ok(self.install().to_yaml()?)
    }

    fn install(&self) -> Install {
        Install {
            namespace: self.kube.namespace.clone(),
            version: self.version.clone(),
        }
    }
}

/// Runs `driftless install`.
pub fn run(args: &InstallArgs) -> Result<(), CommandError> {
    if args.export {
        return Printer::stdio().print(&args.install().to_yaml()?);
    }
    block_on(async {
        let client = args.kube.client().await?;
        install(&client, args, &mut Printer::stdio()).await
    })
}

/// Applies every install object (server-side, forced) and waits for the Deployments.
pub async fn install(
    client: &kube::Client,
    args: &InstallArgs,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    let install = args.install();
    printer.generate("generating manifests")?;
    let objects = install.objects()?;
    printer.success("manifests build completed")?;
    printer.action(&format!(
        "installing components in {} namespace",
        install.namespace
    ))?;
    for object in &objects {
        apply(client, object).await?;
    }
    printer.success("install completed")?;
    printer.waiting("verifying installation")?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &install.namespace);
    let deadline = tokio::time::Instant::now() + args.kube.timeout.get();
    let mut failed = false;
    for controller in CONTROLLERS {
        let name = controller.name;
        loop {
            let current = deployments
                .get(name)
                .await
                .map_err(|e| ClusterError::api(format!("reading Deployment {name}"), e))?;
            if rolled_out(&current) {
                printer.success(&format!("{name}: deployment ready"))?;
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                printer.failure(&format!("{name}: deployment not ready"))?;
                failed = true;
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    if failed {
        return Err(ClusterError::Failed("install failed".into()).into());
    }
    printer.success("install finished")?;
    Ok(())
}

/// Server-side applies one object.
async fn apply(client: &kube::Client, object: &Value) -> Result<(), ClusterError> {
    let (api, name, kind) = api_for(client, object).await?;
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
    .map_err(|e| ClusterError::api(format!("applying {kind}/{name}"), e))?;
    Ok(())
}

/// The API of an install object's kind (namespaced or not as the server serves it), with the
/// object's name and kind.
pub async fn api_for(
    client: &kube::Client,
    object: &Value,
) -> Result<(Api<DynamicObject>, String, String), ClusterError> {
    let types: TypeMeta = serde_json::from_value(object.clone()).map_err(|e| {
        ClusterError::Failed(format!("an install object without apiVersion/kind: {e}"))
    })?;
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let what = format!("discovering {}", types.kind);
    let gvk = GroupVersionKind::try_from(&types)
        .map_err(|e| ClusterError::Failed(format!("{what}: {e}")))?;
    let (resource, capabilities) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .map_err(|e| ClusterError::api(what, e))?;
    let api = match capabilities.scope {
        Scope::Namespaced => {
            let namespace = object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default();
            Api::namespaced_with(client.clone(), namespace, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    Ok((api, name, types.kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_export_is_the_generated_install_manifest() {
        let args = InstallArgs {
            kube: KubeArgs::new("flux-system"),
            export: true,
            version: VERSION_OF_THIS_BUILD.to_owned(),
        };
        let committed = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/install.yaml"),
        )
        .expect("deploy/install.yaml");
        assert_eq!(args.install().to_yaml().expect("renders"), committed);
    }

    #[test]
    fn another_namespace_moves_every_namespaced_object() {
        let mut kube = KubeArgs::new("gitops");
        kube.namespace = "gitops".into();
        let args = InstallArgs {
            kube,
            export: true,
            version: "9.9.9".into(),
        };
        let text = args.install().to_yaml().expect("renders");
        assert!(!text.contains("namespace: flux-system"), "{text}");
        assert!(text.contains("ghcr.io/driftless/driftless:9.9.9"));
    }
}
