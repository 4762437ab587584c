//! The `<kind> <name>…` part that `reconcile`, `suspend`, `resume`, `delete` and `export` share:
//! `source git NAME`, `kustomization NAME` (alias `ks`), `helmrelease NAME` (alias `hr`).

use clap::{Args, Subcommand};
use kube::api::{Patch, PatchParams};
use serde_json::Value;

use super::cluster::ClusterError;
use super::kinds::{self, FluxKind};

/// A kind and the names of its objects.
#[derive(Debug, Subcommand)]
pub enum Target {
    /// A source: git, oci, bucket, helm or chart.
    #[command(alias = "sources")]
    Source {
        #[command(subcommand)]
        kind: SourceTarget,
    },
    /// Kustomizations.
    #[command(aliases = ["ks", "kustomizations"])]
    Kustomization(Names),
    /// HelmReleases.
    #[command(aliases = ["hr", "helmreleases"])]
    Helmrelease(Names),
}

/// The source kinds.
#[derive(Debug, Subcommand)]
pub enum SourceTarget {
    Git(Names),
    Oci(Names),
    Bucket(Names),
    Helm(Names),
    Chart(Names),
}

/// Object names (commands that take one use the first).
#[derive(Debug, Clone, Args)]
pub struct Names {
    pub names: Vec<String>,
}

impl Target {
    /// The kind and the names given for it.
    pub fn resolve(&self) -> (FluxKind, &[String]) {
        let (kind, names) = match self {
            Target::Source { kind } => match kind {
                SourceTarget::Git(n) => (kinds::GIT_REPOSITORY, n),
                SourceTarget::Oci(n) => (kinds::OCI_REPOSITORY, n),
                SourceTarget::Bucket(n) => (kinds::BUCKET, n),
                SourceTarget::Helm(n) => (kinds::HELM_REPOSITORY, n),
                SourceTarget::Chart(n) => (kinds::HELM_CHART, n),
            },
            Target::Kustomization(n) => (kinds::KUSTOMIZATION, n),
            Target::Helmrelease(n) => (kinds::HELM_RELEASE, n),
        };
        (kind, names.names.as_slice())
    }

    /// The kind and exactly one name, or flux's "name is required".
    pub fn single(&self) -> Result<(FluxKind, &str), ClusterError> {
        let (kind, names) = self.resolve();
        match names {
            [name] => Ok((kind, name.as_str())),
            [] => Err(ClusterError::Invalid(format!(
                "{} name is required",
                kind.kind
            ))),
            _ => Err(ClusterError::Invalid(format!(
                "{} takes one name, got {}",
                kind.kind,
                names.len()
            ))),
        }
    }
}

/// Reads one object as JSON, with not-found and CRD-missing told apart.
pub async fn fetch(
    client: &kube::Client,
    kind: FluxKind,
    namespace: &str,
    name: &str,
) -> Result<Value, ClusterError> {
    match kind.api(client, Some(namespace)).get(name).await {
        Ok(object) => serde_json::to_value(object)
            .map_err(|e| ClusterError::Failed(format!("reading {} {name}: {e}", kind.kind))),
        Err(e) => Err(kind
            .explain(
                client,
                name,
                namespace,
                &format!("getting {} {name}", kind.kind),
                e,
            )
            .await),
    }
}

/// Merge-patches one object (the way flux patches annotations and `spec.suspend`).
pub async fn merge_patch(
    client: &kube::Client,
    kind: FluxKind,
    namespace: &str,
    name: &str,
    patch: Value,
) -> Result<Value, ClusterError> {
    let api = kind.api(client, Some(namespace));
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(object) => serde_json::to_value(object)
            .map_err(|e| ClusterError::Failed(format!("reading {} {name}: {e}", kind.kind))),
        Err(e) => Err(kind
            .explain(
                client,
                name,
                namespace,
                &format!("patching {} {name}", kind.kind),
                e,
            )
            .await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        target: Target,
    }

    fn parse(args: &[&str]) -> Target {
        Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .expect("parses")
            .target
    }

    #[test]
    fn ks_and_source_git_name_their_kinds() {
        let ks = parse(&["ks", "apps"]);
        assert_eq!(
            ks.single().expect("one name"),
            (kinds::KUSTOMIZATION, "apps")
        );
        let git = parse(&["source", "git", "a", "b"]);
        assert_eq!(git.resolve().1.len(), 2);
        assert_eq!(git.resolve().0, kinds::GIT_REPOSITORY);
    }

    #[test]
    fn a_missing_name_is_required_as_flux_says() {
        let err = parse(&["hr"]).single().expect_err("no name");
        assert_eq!(
            err.to_string(),
            "invalid argument: HelmRelease name is required"
        );
    }
}
