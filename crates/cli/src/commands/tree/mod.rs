//! `driftless tree kustomization <name> [--compact]`: what a Kustomization applied, read from
//! `status.inventory`, with the Kustomizations it applied expanded beneath them.

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
#[derive(Debug, Default)]
pub struct Node {
    pub label: String,
    pub children: Vec<Node>,
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
    let mut node = Node {
        label: format!("Kustomization/{namespace}/{name}"),
        children: Vec::new(),
    };
    expand(client, &root, args.compact, &mut node, 0).await?;
    // flux ends the tree with an empty line.
    printer.print(&format!("{}\n", render(&node)))
}

/// Nested Kustomizations are at most this deep, so a Kustomization that applies itself
/// (as flux-system does) cannot recurse forever.
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
    for entry in entries
        .iter()
        .filter_map(|e| e.get("id").and_then(Value::as_str))
        .filter_map(Entry::parse)
    {
        if compact && !entry.is_flux() {
            continue;
        }
        let mut child = Node {
            label: entry.label(),
            children: Vec::new(),
        };
        let is_self =
            Some(entry.name.as_str()) == self_name && Some(entry.namespace.as_str()) == self_ns;
        if entry.kind == kinds::KUSTOMIZATION.kind
            && entry.group == kinds::KUSTOMIZATION.group
            && !is_self
            && depth < MAX_DEPTH
        {
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

/// The tree in flux's box-drawing layout.
pub fn render(root: &Node) -> String {
    let mut out = format!("{}\n", root.label);
    render_children(&root.children, "", &mut out);
    out
}

fn render_children(children: &[Node], prefix: &str, out: &mut String) {
    for (i, child) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let (branch, indent) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        out.push_str(&format!("{prefix}{branch}{}\n", child.label));
        render_children(&child.children, &format!("{prefix}{indent}"), out);
    }
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

    #[test]
    fn the_tree_is_drawn_like_flux_tree() {
        let leaf = |l: &str| Node {
            label: l.to_owned(),
            children: Vec::new(),
        };
        let root = Node {
            label: "Kustomization/flux-system/flux-system".into(),
            children: vec![
                leaf("Namespace/flux-system"),
                Node {
                    label: "Kustomization/flux-system/infrastructure".into(),
                    children: vec![
                        leaf("Namespace/cert-manager"),
                        leaf("HelmRepository/cert-manager/cert-manager"),
                    ],
                },
                leaf("GitRepository/flux-system/flux-system"),
            ],
        };
        assert_eq!(
            render(&root),
            "Kustomization/flux-system/flux-system\n\
             ├── Namespace/flux-system\n\
             ├── Kustomization/flux-system/infrastructure\n\
             │   ├── Namespace/cert-manager\n\
             │   └── HelmRepository/cert-manager/cert-manager\n\
             └── GitRepository/flux-system/flux-system\n"
        );
    }
}
