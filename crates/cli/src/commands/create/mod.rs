//! `driftless create source git|helm|oci|bucket`, `create kustomization`, `create helmrelease`,
//! `create secret git|helm|oci`: build the object from flux's flags, then print it
//! (`--export`) or apply it and, for Flux kinds, wait for it to be Ready.

mod release;
mod secrets;
mod sources;

use clap::{Args, Subcommand};
use driftless_runtime::flags::GoDuration;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Map, Value, json};

pub use release::{HelmReleaseFlags, KustomizationFlags};
pub use secrets::{SecretGitFlags, SecretHelmFlags, SecretOciFlags};
pub use sources::{BucketFlags, GitFlags, HelmFlags, OciFlags};

use super::CommandError;
use super::cluster::{ClusterError, KubeArgs, block_on};
use super::kinds::{self, FluxKind};
use super::output::Printer;
use super::reconcile::wait;
use crate::yaml;

/// The field manager flux's CLI applies with.
const FIELD_MANAGER: &str = "flux-client-side-apply";

/// Arguments of `driftless create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Print the object as YAML instead of applying it.
    #[arg(long, global = true)]
    pub export: bool,
    /// Labels to set, `key=value` (repeatable).
    #[arg(long = "label", global = true, value_delimiter = ',')]
    pub labels: Vec<String>,
    /// How often the object is reconciled.
    #[arg(long, global = true, default_value = "1m0s")]
    pub interval: GoDuration,
    #[command(subcommand)]
    pub what: CreateWhat,
}

/// What `driftless create` creates.
#[derive(Debug, Subcommand)]
pub enum CreateWhat {
    /// A source.
    Source {
        #[command(subcommand)]
        kind: CreateSource,
    },
    /// A Kustomization.
    #[command(aliases = ["ks"])]
    Kustomization(KustomizationFlags),
    /// A HelmRelease.
    #[command(aliases = ["hr"])]
    Helmrelease(HelmReleaseFlags),
    /// A Secret.
    Secret {
        #[command(subcommand)]
        kind: CreateSecret,
    },
}

/// `create source …`.
#[derive(Debug, Subcommand)]
pub enum CreateSource {
    /// A GitRepository.
    Git(GitFlags),
    /// A HelmRepository (HTTP(S) index or OCI registry).
    Helm(HelmFlags),
    /// An OCIRepository.
    Oci(OciFlags),
    /// A Bucket (S3-compatible).
    Bucket(BucketFlags),
}

/// `create secret …`.
#[derive(Debug, Subcommand)]
pub enum CreateSecret {
    /// A Secret with git credentials (basic auth or bearer token).
    Git(SecretGitFlags),
    /// A Secret with Helm repository credentials.
    Helm(SecretHelmFlags),
    /// A `kubernetes.io/dockerconfigjson` Secret for an OCI registry.
    Oci(SecretOciFlags),
}

/// Runs `driftless create`.
pub fn run(args: &CreateArgs) -> Result<(), CommandError> {
    if args.export {
        let mut printer = Printer::stdio();
        return printer.print(&yaml::go_stream(&[object(args)?])?);
    }
    block_on(async {
        let client = args.kube.client().await?;
        create(&client, args, &mut Printer::stdio()).await
    })
}

/// The Flux kind the subcommand creates (`None`: a Secret) and how flux names it in messages.
fn kind_of(what: &CreateWhat) -> Option<(FluxKind, &'static str)> {
    match what {
        CreateWhat::Source { kind } => Some(match kind {
            CreateSource::Git(_) => (kinds::GIT_REPOSITORY, "GitRepository source"),
            CreateSource::Helm(_) => (kinds::HELM_REPOSITORY, "HelmRepository source"),
            CreateSource::Oci(_) => (kinds::OCI_REPOSITORY, "OCIRepository source"),
            CreateSource::Bucket(_) => (kinds::BUCKET, "Bucket source"),
        }),
        CreateWhat::Kustomization(_) => Some((kinds::KUSTOMIZATION, "Kustomization")),
        CreateWhat::Helmrelease(_) => Some((kinds::HELM_RELEASE, "HelmRelease")),
        CreateWhat::Secret { .. } => None,
    }
}

/// The object the flags describe.
pub fn object(args: &CreateArgs) -> Result<Value, ClusterError> {
    let mut metadata = json!({"name": "", "namespace": args.kube.namespace});
    let mut labels = Map::new();
    for label in &args.labels {
        let (k, v) = label.split_once('=').ok_or_else(|| {
            ClusterError::Invalid(format!("invalid label format '{label}', must be key=value"))
        })?;
        labels.insert(k.to_owned(), json!(v));
    }
    if !labels.is_empty() {
        metadata["labels"] = Value::Object(labels);
    }
    let interval = args.interval.to_string();
    let (name, body) = match &args.what {
        CreateWhat::Source { kind } => match kind {
            CreateSource::Git(git) => (&git.name, sources::git(git, &interval)?),
            CreateSource::Helm(helm) => (&helm.name, sources::helm(helm, &interval)?),
            CreateSource::Oci(oci) => (&oci.name, sources::oci(oci, &interval)?),
            CreateSource::Bucket(bucket) => (&bucket.name, sources::bucket(bucket, &interval)?),
        },
        CreateWhat::Kustomization(ks) => (&ks.name, release::kustomization(ks, &interval)?),
        CreateWhat::Helmrelease(hr) => (&hr.name, release::helm_release(hr, &interval)?),
        CreateWhat::Secret { kind } => match kind {
            CreateSecret::Git(secret) => (&secret.name, secrets::git(secret)?),
            CreateSecret::Helm(secret) => (&secret.name, secrets::helm(secret)?),
            CreateSecret::Oci(secret) => (&secret.name, secrets::oci(secret)?),
        },
    };
    metadata["name"] = json!(name);
    let mut object = json!({"metadata": metadata});
    match kind_of(&args.what) {
        Some((kind, _)) => {
            object["apiVersion"] = json!(kind.api_version());
            object["kind"] = json!(kind.kind);
        }
        None => {
            object["apiVersion"] = json!("v1");
            object["kind"] = json!("Secret");
        }
    }
    if let (Some(target), Some(extra)) = (object.as_object_mut(), body.as_object()) {
        target.extend(extra.clone());
    }
    Ok(object)
}

/// How flux names a Secret kind in its messages.
fn secret_label(what: &CreateWhat) -> &'static str {
    match what {
        CreateWhat::Secret {
            kind: CreateSecret::Helm(_),
        } => "helm",
        CreateWhat::Secret {
            kind: CreateSecret::Oci(_),
        } => "oci",
        _ => "git",
    }
}

/// Applies the object and, for Flux kinds, waits for it to be Ready as flux create does.
pub async fn create(
    client: &kube::Client,
    args: &CreateArgs,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    let object = object(args)?;
    let namespace = args.kube.namespace.as_str();
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let Some((kind, label)) = kind_of(&args.what) else {
        let secret_kind = secret_label(&args.what);
        printer.action(&format!("{secret_kind} secret"))?;
        let secrets: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(client.clone(), namespace);
        secrets
            .patch(&name, &params, &Patch::Apply(&object))
            .await
            .map_err(|e| ClusterError::api(format!("applying Secret {name}"), e))?;
        printer.success(&format!(
            "{secret_kind} secret '{name}' created in '{namespace}' namespace"
        ))?;
        return Ok(());
    };
    printer.generate(&format!("generating {label}"))?;
    printer.action(&format!("applying {label}"))?;
    let api: Api<DynamicObject> = kind.api(client, Some(namespace));
    let applied = match api.patch(&name, &params, &Patch::Apply(&object)).await {
        Ok(applied) => applied,
        Err(e) => {
            return Err(kind
                .explain(
                    client,
                    &name,
                    namespace,
                    &format!("applying {} {name}", kind.kind),
                    e,
                )
                .await
                .into());
        }
    };
    printer.success(&format!("{label} created"))?;
    printer.waiting(&format!("waiting for {label} reconciliation"))?;
    let generation = applied.metadata.generation.map(Value::from);
    let ready = wait(client, &args.kube, kind, namespace, &name, |o| {
        o.pointer("/status/observedGeneration") == generation.as_ref()
    })
    .await?;
    if kind == kinds::KUSTOMIZATION || kind == kinds::HELM_RELEASE {
        printer.success(&format!("{} {name} is ready", kind.kind))?;
        printer.success(&kind.success_message(&ready))?;
    } else {
        printer.success(&format!("{label} reconciliation completed"))?;
        printer.success(&format!("fetched revision: {}", kind.revision(&ready)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
