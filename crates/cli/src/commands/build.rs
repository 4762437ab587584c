//! `driftless build kustomization <name> --path <dir>`: the manifests a Kustomization would
//! apply, built from a local directory the way kustomize-controller builds its artifact — Flux's
//! generated kustomization for plain directories, the Kustomization's overlay fields,
//! `postBuild` substitutions (ConfigMaps and Secrets read from the cluster unless `--dry-run`),
//! `commonMetadata` and the owner labels — printed as flux prints them: one YAML document per
//! object, each followed by `---`. SOPS-encrypted Secret values are never decrypted here; they
//! print as `**SOPS**`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use driftless_api::kustomize::{Kustomization, SubstituteStrategy};
use driftless_kustomize::{FluxBuild, LoadRestrictions, Options, OutputOrder};
use driftless_kustomize_controller::apply;
use driftless_kustomize_controller::build::{overlay, postbuild};
use kube::ResourceExt;
use serde_json::Value;

use super::CommandError;
use super::cluster::{ClusterError, KubeArgs, block_on};
use super::output::Printer;
use crate::yaml;

pub mod recursive;
mod resolve;
mod sops;

pub use recursive::LocalSource;
pub use sops::SOPS_MASK;
use sops::mask_sops;

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
    Kustomization(BuildKustomization),
}

/// `build kustomization`: the shared local build plus dry-run mode.
#[derive(Debug, Clone, Args)]
pub struct BuildKustomization {
    #[command(flatten)]
    pub local: LocalBuild,
    /// Dry run mode: needs --kustomization-file; Secrets and ConfigMaps are not read.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub dry_run: bool,
}

/// The local build shared by `build kustomization` and `diff kustomization`.
#[derive(Debug, Clone, Default, Args)]
pub struct LocalBuild {
    /// The Kustomization's name.
    pub name: String,
    /// Path to the manifests location.
    #[arg(long, default_value = "")]
    pub path: PathBuf,
    /// Path to the Flux Kustomization YAML file (instead of the one in the cluster).
    #[arg(long)]
    pub kustomization_file: Option<PathBuf>,
    /// Paths to ignore in .gitignore format (comma-separated) when generating a kustomization.
    #[arg(long, value_delimiter = ',')]
    pub ignore_paths: Vec<String>,
    /// Fail when a variable without a default is missing from the substitutions.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub strict_substitute: bool,
    /// Recursively build the Kustomizations the build contains (needs --local-sources).
    #[arg(short = 'r', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub recursive: bool,
    /// Comma-separated list of repositories in format: Kind/namespace/name=path.
    #[arg(long, value_delimiter = ',')]
    pub local_sources: Vec<LocalSource>,
    /// Build in memory: files outside the current directory cannot be read (as flux's
    /// in-memory filesystem). Either way the local directory is never written to.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub in_memory_build: bool,
}

/// Runs `driftless build`.
pub fn run(args: &BuildArgs) -> Result<(), CommandError> {
    let BuildWhat::Kustomization(ks) = &args.what;
    if ks.dry_run && ks.local.kustomization_file.is_none() {
        return Err(
            ClusterError::Failed("dry-run mode requires a kustomization file".into()).into(),
        );
    }
    block_on(async {
        let client = if ks.dry_run {
            None
        } else {
            Some(args.kube.client().await?)
        };
        let built = build(client.as_ref(), &args.kube.namespace, &ks.local).await?;
        Printer::stdio().print(&manifests(&built.objects)?)
    })
}

/// A local build's result.
pub struct Built {
    /// The Kustomization it was built for (from the cluster or the file).
    pub kustomization: Kustomization,
    /// The objects, in flux's order: input order, then those of nested Kustomizations.
    pub objects: Vec<Value>,
}

/// How a build differs between `build` and `diff`.
#[derive(Debug, Clone, Default)]
pub struct BuildMode {
    /// Build only this Kustomization even with `--recursive` (`diff` recurses itself).
    pub single: bool,
    /// A Kustomization missing from the cluster is taken from the file (`diff --ignore-not-found`).
    pub ignore_not_found: bool,
}

/// Builds `local` for the Kustomization it names; `client` is None in dry-run mode.
pub async fn build(
    client: Option<&kube::Client>,
    namespace: &str,
    local: &LocalBuild,
) -> Result<Built, CommandError> {
    build_with(client, namespace, local, &BuildMode::default()).await
}

/// [`build`] in `mode`.
pub async fn build_with(
    client: Option<&kube::Client>,
    namespace: &str,
    local: &LocalBuild,
    mode: &BuildMode,
) -> Result<Built, CommandError> {
    let dir = resource_dir(local)?;
    check_kustomization_file(local)?;
    if mode.ignore_not_found && local.kustomization_file.is_none() {
        return Err(invalid(
            "kustomization file is required when assuming new kustomizations".into(),
        ));
    }
    let ks = resolve::resolve(
        client,
        &local.name,
        namespace,
        local.kustomization_file.as_deref(),
        None,
        mode.ignore_not_found,
    )
    .await?;
    let objects = build_for(client, &ks, &dir, local).await?;
    let objects = if local.recursive && !mode.single {
        recursive::append_nested(client, &ks, objects, local, 0).await?
    } else {
        objects
    };
    Ok(Built {
        kustomization: ks,
        objects,
    })
}

/// Flux's words for bad arguments, without our `invalid argument:` prefix: scripts compare them.
fn invalid(message: String) -> CommandError {
    CommandError::from(ClusterError::Failed(message))
}

/// `--path` made absolute, or flux's error when it is empty or not a directory (flux checks it
/// before anything else).
pub fn resource_dir(local: &LocalBuild) -> Result<PathBuf, CommandError> {
    if local.path.as_os_str().is_empty() {
        return Err(invalid(format!("invalid resource path {:?}", local.path)));
    }
    let dir = std::path::absolute(&local.path)
        .map_err(|_| invalid(format!("invalid resource path {:?}", local.path)))?;
    if !dir.is_dir() {
        return Err(invalid(format!("invalid resource path {dir:?}")));
    }
    Ok(dir)
}

/// Flux's error for a `--kustomization-file` that is not a file (checked after the path).
pub fn check_kustomization_file(local: &LocalBuild) -> Result<(), CommandError> {
    match &local.kustomization_file {
        Some(file) if !file.is_file() => {
            Err(invalid(format!("invalid kustomization file {file:?}")))
        }
        _ => Ok(()),
    }
}

/// The objects of `dir` built for `ks`.
async fn build_for(
    client: Option<&kube::Client>,
    ks: &Kustomization,
    dir: &Path,
    local: &LocalBuild,
) -> Result<Vec<Value>, CommandError> {
    let failed = |e: String| {
        CommandError::from(ClusterError::Failed(format!("kustomize build failed: {e}")))
    };
    let options = Options {
        fs_root: if local.in_memory_build {
            Some(std::env::current_dir().map_err(|e| failed(e.to_string()))?)
        } else {
            None
        },
        load_restrictions: LoadRestrictions::None,
    };
    let rules = ignore_rules(dir, &local.ignore_paths)?;
    let exclude = |rel: &Path| rules.as_ref().is_some_and(|r| r.is_excluded(rel, false));
    let flux = FluxBuild {
        order: OutputOrder::Input,
        exclude: Some(&exclude),
    };
    let documents = driftless_kustomize::build_flux_documents_with(
        dir,
        &options,
        &overlay::from_spec(&ks.spec),
        &flux,
    )
    .map_err(|e| failed(e.to_string()))?;
    let documents = substitute(client, ks, documents, local.strict_substitute).await?;
    let mut decoded = driftless_ssa::decode::decode_yaml(&documents.join("---\n"))
        .map_err(|e| failed(e.to_string()))?;
    apply::set_common_metadata(&mut decoded, ks);
    let mut objects = Vec::with_capacity(decoded.len());
    for object in decoded {
        let mut object = serde_json::to_value(object).map_err(|e| failed(e.to_string()))?;
        owner_labels(&mut object, ks);
        mask_sops(&mut object);
        objects.push(object);
    }
    Ok(objects)
}

/// `--ignore-paths` as flux applies it: with any pattern given, the `.sourceignore` files under
/// the directory count too; without, nothing is ignored.
fn ignore_rules(
    dir: &Path,
    patterns: &[String],
) -> Result<Option<driftless_artifact::sourceignore::IgnoreRules>, CommandError> {
    if patterns.iter().all(|p| p.trim().is_empty()) {
        return Ok(None);
    }
    driftless_artifact::sourceignore::IgnoreRules::for_source(dir, Some(&patterns.join("\n")))
        .map(Some)
        .map_err(|e| {
            ClusterError::Failed(format!("failed to generate kustomization.yaml: {e}")).into()
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
