//! `driftless build kustomization <name> --path <dir>`: the manifests a Kustomization would
//! apply, built from a local directory the way kustomize-controller builds its artifact — Flux's
//! generated kustomization for plain directories, the Kustomization's overlay fields,
//! `postBuild` substitutions (ConfigMaps and Secrets read from the cluster unless `--dry-run`),
//! `commonMetadata` and the owner labels — printed as flux prints them: one YAML document per
//! object, each followed by `---`. SOPS-encrypted Secret values are never decrypted here; they
//! print as `**SOPS**`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use clap::{Args, Subcommand};
use driftless_api::kustomize::{Kustomization, SubstituteStrategy};
use driftless_kustomize::{LoadRestrictions, Options};
use driftless_kustomize_controller::apply;
use driftless_kustomize_controller::build::{overlay, postbuild};
use kube::ResourceExt;
use kube::api::Api;
use serde_json::Value;

use super::CommandError;
use super::cluster::{ClusterError, KubeArgs, block_on, is_not_found};
use super::output::Printer;
use crate::yaml;

/// What flux prints instead of a SOPS-encrypted value.
pub const SOPS_MASK: &str = "**SOPS**";

/// Arguments of `driftless build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(subcommand)]
    pub what: BuildWhat,
}

/// What `build` renders.
#[derive(Debug, Subcommand)]
pub enum BuildWhat {
    /// A Kustomization's manifests from a local directory.
    #[command(visible_alias = "ks")]
    Kustomization(LocalBuild),
}

/// The local build shared by `build kustomization` and `diff kustomization`.
#[derive(Debug, Clone, Args)]
pub struct LocalBuild {
    /// The Kustomization's name.
    pub name: String,
    /// Path to the manifests location.
    #[arg(long)]
    pub path: PathBuf,
    /// Path to the Flux Kustomization YAML file (instead of the one in the cluster).
    #[arg(long)]
    pub kustomization_file: Option<PathBuf>,
    /// Dry run mode: needs --kustomization-file; Secrets and ConfigMaps are not read.
    #[arg(long)]
    pub dry_run: bool,
    /// Fail when a variable without a default is missing from the substitutions.
    #[arg(long)]
    pub strict_substitute: bool,
}

/// Runs `driftless build`.
pub fn run(args: &BuildArgs) -> Result<(), CommandError> {
    let BuildWhat::Kustomization(local) = &args.what;
    block_on(async {
        let client = if local.dry_run {
            None
        } else {
            Some(args.kube.client().await?)
        };
        let built = build(client.as_ref(), &args.kube.namespace, local).await?;
        Printer::stdio().print(&manifests(&built.objects)?)
    })
}

/// A local build's result.
pub struct Built {
    /// The Kustomization it was built for (from the cluster or the file).
    pub kustomization: Kustomization,
    /// The objects, in kustomize's order.
    pub objects: Vec<Value>,
}

/// Builds `local` for the Kustomization it names; `client` is None in dry-run mode.
pub async fn build(
    client: Option<&kube::Client>,
    namespace: &str,
    local: &LocalBuild,
) -> Result<Built, CommandError> {
    // Flux's words for bad arguments, without our `invalid argument:` prefix: scripts compare them.
    let invalid = |message: String| CommandError::from(ClusterError::Failed(message));
    let dir = std::path::absolute(&local.path)
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| invalid(format!("invalid resource path {:?}", local.path)))?;
    if let Some(file) = &local.kustomization_file
        && !file.is_file()
    {
        return Err(invalid(format!("invalid kustomization file {file:?}")));
    }
    let ks = match (&local.kustomization_file, client) {
        (Some(file), _) => from_file(file, &local.name, namespace)?,
        (None, Some(client)) => from_cluster(client, &local.name, namespace).await?,
        (None, None) => return Err(invalid("kustomization file is required for dry-run".into())),
    };
    let options = Options {
        fs_root: None,
        load_restrictions: LoadRestrictions::None,
    };
    let documents =
        driftless_kustomize::build_flux_documents(&dir, &options, &overlay::from_spec(&ks.spec))
            .map_err(|e| ClusterError::Failed(format!("kustomize build failed: {e}")))?;
    let documents = substitute(client, &ks, documents, local.strict_substitute).await?;
    let mut decoded = driftless_ssa::decode::decode_yaml(&documents.join("---\n"))
        .map_err(|e| ClusterError::Failed(format!("kustomize build failed: {e}")))?;
    apply::set_common_metadata(&mut decoded, &ks);
    let mut objects = Vec::with_capacity(decoded.len());
    for object in decoded {
        let mut object = serde_json::to_value(object)
            .map_err(|e| ClusterError::Failed(format!("kustomize build failed: {e}")))?;
        owner_labels(&mut object, &ks);
        mask_sops(&mut object);
        objects.push(object);
    }
    Ok(Built {
        kustomization: ks,
        objects,
    })
}

/// `postBuild` as the controller runs it; in dry-run mode only `spec.postBuild.substitute`.
async fn substitute(
    client: Option<&kube::Client>,
    ks: &Kustomization,
    documents: Vec<String>,
    strict: bool,
) -> Result<Vec<String>, CommandError> {
    let Some(post_build) = &ks.spec.post_build else {
        return Ok(documents);
    };
    let failed = |e: driftless_kustomize_controller::ReconcileError| {
        CommandError::from(ClusterError::Failed(format!(
            "var substitution failed: {e}"
        )))
    };
    let vars = match client {
        Some(client) => postbuild::variables(client, ks)
            .await
            .map_err(failed)?
            .unwrap_or_default(),
        None => post_build
            .substitute
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
    };
    let strategy = post_build
        .substitute_strategy
        .unwrap_or(SubstituteStrategy::WithVariables);
    postbuild::substitute(documents, &vars, strategy, strict).map_err(failed)
}

/// The Kustomization named `name` in the multi-document `file`.
fn from_file(file: &Path, name: &str, namespace: &str) -> Result<Kustomization, CommandError> {
    let failed = |message: String| CommandError::from(ClusterError::Failed(message));
    let text = std::fs::read_to_string(file).map_err(|e| {
        failed(format!(
            "failed to read kustomization file {}: {e}",
            file.display()
        ))
    })?;
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text).map_err(|e| {
        failed(format!(
            "failed to unmarshall kustomization file {}: {e}",
            file.display()
        ))
    })?;
    for value in documents {
        let matches = value["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("kustomize.toolkit.fluxcd.io/"))
            && value["kind"] == "Kustomization"
            && value["metadata"]["name"] == name
            && value["metadata"]["namespace"]
                .as_str()
                .is_none_or(|ns| ns == namespace);
        if matches {
            let mut ks: Kustomization = serde_json::from_value(value).map_err(|e| {
                failed(format!(
                    "failed to unmarshall kustomization file {}: {e}",
                    file.display()
                ))
            })?;
            ks.metadata.namespace = Some(namespace.to_owned());
            return Ok(ks);
        }
    }
    Err(failed(format!(
        "failed find kustomization with name '{name}' and namespace '{namespace}' in file '{}'",
        file.display()
    )))
}

async fn from_cluster(
    client: &kube::Client,
    name: &str,
    namespace: &str,
) -> Result<Kustomization, CommandError> {
    let api: Api<Kustomization> = Api::namespaced(client.clone(), namespace);
    api.get(name).await.map_err(|e| {
        if is_not_found(&e) {
            ClusterError::NotFound {
                kind: "Kustomization".into(),
                name: name.into(),
                namespace: namespace.into(),
            }
            .into()
        } else {
            ClusterError::api("failed to get kustomization object", e).into()
        }
    })
}

/// kustomize-controller's owner labels.
fn owner_labels(object: &mut Value, ks: &Kustomization) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = metadata
        .entry("labels")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(
            "kustomize.toolkit.fluxcd.io/name".into(),
            Value::String(ks.name_any()),
        );
        labels.insert(
            "kustomize.toolkit.fluxcd.io/namespace".into(),
            Value::String(ks.namespace().unwrap_or_default()),
        );
    }
}

fn is_sops_text(text: &str) -> bool {
    text.contains("sops") && text.contains("ENC[")
}

/// Flux's masking of SOPS data in Secrets: a Secret that is itself a SOPS document has every
/// value replaced (and its `sops` block dropped); otherwise values that are encrypted files.
fn mask_sops(object: &mut Value) {
    if object["kind"] != "Secret" {
        return;
    }
    let whole = object.get("sops").is_some() && object.to_string().contains("ENC[");
    if whole && let Some(o) = object.as_object_mut() {
        o.remove("sops");
    }
    // A registry Secret must stay JSON: its mask is a JSON object.
    let plain_mask = if object["type"] == "kubernetes.io/dockerconfigjson" && whole {
        serde_json::json!({ "mask": SOPS_MASK }).to_string()
    } else {
        SOPS_MASK.to_owned()
    };
    let encoded_mask = base64::engine::general_purpose::STANDARD.encode(&plain_mask);
    // Flux masks encrypted stringData values of an otherwise plain Secret with the encoded
    // mask too; output is kept identical to `flux build`.
    let string_mask = if whole { &plain_mask } else { &encoded_mask };
    for (field, mask, encoded) in [
        ("data", encoded_mask.as_str(), true),
        ("stringData", string_mask.as_str(), false),
    ] {
        let Some(values) = object.get_mut(field).and_then(Value::as_object_mut) else {
            continue;
        };
        for value in values.values_mut() {
            let text = value.as_str().unwrap_or_default();
            let plain = if encoded {
                // Go's decoder skips line breaks, and kustomize cuts long generated values
                // into lines.
                let joined: String = text.chars().filter(|c| !matches!(c, '\n' | '\r')).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(joined)
                    .ok()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default()
            } else {
                text.to_owned()
            };
            if whole || is_sops_text(&plain) {
                *value = Value::String(mask.to_owned());
            }
        }
    }
}

/// Objects as flux's build prints them: each document followed by `---`.
pub fn manifests(objects: &[Value]) -> Result<String, CommandError> {
    let mut out = String::new();
    for object in objects {
        out.push_str(&yaml::go_document(object)?);
        out.push_str("---\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
