//! `driftless tree kustomization <name> [--compact] [-o json|yaml]`: what a Kustomization
//! applied, read from `status.inventory`, with the Kustomizations it applied expanded beneath
//! them and the HelmReleases it applied expanded into the objects of their Helm release.

mod format;
mod helm;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::CommandError;
use super::cluster::{ClusterError, KubeArgs, block_on};
use super::kinds::{self, FluxKind};
use super::output::Printer;
use super::target::fetch;

/// Arguments of `driftless tree`.
#[derive(Debug, Args)]
pub struct TreeArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Show only Flux objects.
    #[arg(long, global = true)]
    pub compact: bool,
    /// The format in which the tree should be printed: 'json' or 'yaml' (anything else
    /// prints the tree, as flux does).
    #[arg(short, long, global = true, default_value = "")]
    pub output: String,
    #[command(subcommand)]
    pub what: TreeWhat,
}

/// What `tree` starts from.
#[derive(Debug, Subcommand)]
pub enum TreeWhat {
    /// A Kustomization.
    #[command(aliases = ["ks", "kustomizations"])]
    Kustomization { name: String },
}

/// One applied object, as its inventory id names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub namespace: String,
    pub name: String,
    pub group: String,
    pub kind: String,
}

impl Entry {
    /// Parses `<namespace>_<name>_<group>_<kind>` (a `:` in a name is written `__`).
    pub fn parse(id: &str) -> Option<Self> {
        let mut right = id.rsplitn(3, '_');
        let kind = right.next()?;
        let group = right.next()?;
        let (namespace, name) = right.next()?.split_once('_')?;
        Some(Self {
            namespace: namespace.to_owned(),
            name: name.replace("__", ":"),
            group: group.to_owned(),
            kind: kind.to_owned(),
        })
    }

    /// `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects.
    pub fn label(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }

    fn is_flux(&self) -> bool {
        self.group.ends_with(".toolkit.fluxcd.io")
    }
}

/// A node of the printed tree.
#[derive(Debug)]
pub struct Node {
    pub entry: Entry,
    pub children: Vec<Node>,
}

impl Node {
    fn leaf(entry: Entry) -> Self {
        Node {
            entry,
            children: Vec::new(),
        }
    }
}

/// Runs `driftless tree`.
pub fn run(args: &TreeArgs) -> Result<(), CommandError> {
    block_on(async {
        let client = args.kube.client().await?;
        tree(&client, args, &mut Printer::stdio()).await
    })
}

/// Prints the tree of the named Kustomization.
pub async fn tree(
    client: &kube::Client,
    args: &TreeArgs,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    let TreeWhat::Kustomization { name } = &args.what;
    let namespace = &args.kube.namespace;
    let root = fetch(client, kinds::KUSTOMIZATION, namespace, name).await?;
    let mut node = Node::leaf(Entry {
        namespace: namespace.clone(),
        name: name.clone(),
        group: kinds::KUSTOMIZATION.group.to_owned(),
        kind: kinds::KUSTOMIZATION.kind.to_owned(),
    });
    expand(client, &root, args.compact, &mut node, 0).await?;
    // flux prints each form with Println: one more line end after the text.
    let text = match args.output.as_str() {
        "json" => format::json(&node),
        "yaml" => format::yaml(&node).map_err(|e| ClusterError::Failed(e.to_string()))?,
        _ => format::render(&node),
    };
    printer.print(&format!("{text}\n"))
}

/// Nested Kustomizations are at most this deep, so Kustomizations that apply each other
/// cannot recurse forever (one that applies itself, as flux-system does, is skipped anyway).
const MAX_DEPTH: usize = 32;

async fn expand(
    client: &kube::Client,
    kustomization: &Value,
    compact: bool,
    node: &mut Node,
    depth: usize,
) -> Result<(), ClusterError> {
    let entries = kustomization
        .pointer("/status/inventory/entries")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let self_name = kustomization
        .pointer("/metadata/name")
        .and_then(Value::as_str);
    let self_ns = kustomization
        .pointer("/metadata/namespace")
        .and_then(Value::as_str);
    let remote = kustomization
        .pointer("/spec/kubeConfig")
        .is_some_and(|v| !v.is_null());
    for entry in entries
        .iter()
        .filter_map(|e| e.get("id").and_then(Value::as_str))
        .filter_map(Entry::parse)
    {
        if compact && !entry.is_flux() {
            continue;
        }
        let is_kustomization =
            entry.kind == kinds::KUSTOMIZATION.kind && entry.group == kinds::KUSTOMIZATION.group;
        // A Kustomization that applies itself (flux-system) is left out of its own tree.
        if is_kustomization
            && Some(entry.name.as_str()) == self_name
            && Some(entry.namespace.as_str()) == self_ns
        {
            continue;
        }
        let mut child = Node::leaf(entry.clone());
        if entry.kind == kinds::HELM_RELEASE.kind && entry.group == kinds::HELM_RELEASE.group {
            // A release that is gone (pruned since) is shown without children.
            if let Ok(release) =
                fetch(client, kinds::HELM_RELEASE, &entry.namespace, &entry.name).await
            {
                let objects = helm::inventory(client, &release).await?;
                child.children.extend(
                    objects
                        .into_iter()
                        .filter(|o| !compact || o.is_flux())
                        .map(Node::leaf),
                );
            }
        }
        // Objects of a Kustomization applied to a remote cluster are not on this one.
        if is_kustomization && !remote && depth < MAX_DEPTH {
            // A nested Kustomization that is gone (pruned since) is shown without children.
            if let Ok(nested) =
                fetch(client, kinds::KUSTOMIZATION, &entry.namespace, &entry.name).await
            {
                Box::pin(expand(client, &nested, compact, &mut child, depth + 1)).await?;
            }
        }
        node.children.push(child);
    }
    Ok(())
}

/// The kind of a Flux object named by an inventory entry, if it is one the commands know.
pub fn flux_kind(entry: &Entry) -> Option<FluxKind> {
    kinds::ALL
        .into_iter()
        .find(|k| k.kind == entry.kind && k.group == entry.group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_ids_parse_for_namespaced_cluster_scoped_and_core_objects() {
        let deployment = Entry::parse("apps_podinfo_apps_Deployment").expect("parses");
        assert_eq!(deployment.label(), "Deployment/apps/podinfo");
        let namespace = Entry::parse("_cert-manager__Namespace").expect("parses");
        assert_eq!(namespace.label(), "Namespace/cert-manager");
        assert_eq!(namespace.group, "");
        let role = Entry::parse("_system__controller_rbac.authorization.k8s.io_ClusterRole")
            .expect("parses");
        assert_eq!(role.name, "system:controller");
        assert!(Entry::parse("nonsense").is_none());
    }
}
