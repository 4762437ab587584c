//! `driftless diff kustomization <name> --path <dir>`: what applying a local build would change
//! in the cluster, found with a server-side apply dry-run under kustomize-controller's field
//! manager, as `flux diff kustomization` does. Objects are reported `created` or `drifted`
//! (with the changed fields: value changes, entries added or removed, list items matched by
//! name), and, when the Kustomization prunes, inventory entries the build no longer contains are
//! reported `deleted`. Secret values never print: both sides are masked, marking only which
//! keys changed. Any change ends the command with an error, so scripts and CI see exit code 1.

use std::collections::BTreeSet;

use clap::{Args, Subcommand};
use driftless_kustomize_controller::apply;
use driftless_ssa::diff::ObjectDiff;
use driftless_ssa::{Action, ObjMetadata};
use serde_json::Value;

use super::CommandError;
use super::build::{LocalBuild, SOPS_MASK, build};
use super::cluster::{ClusterError, KubeArgs, block_on};
use super::output::Printer;

mod report;

/// The error a diff with changes ends with, as flux words it.
pub const CHANGES_FOUND: &str = "identified at least one change, exiting with non-zero exit code";

/// Arguments of `driftless diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(subcommand)]
    pub what: DiffWhat,
}

/// What `diff` compares.
#[derive(Debug, Subcommand)]
pub enum DiffWhat {
    /// A Kustomization's local build against the cluster.
    #[command(visible_alias = "ks")]
    Kustomization(LocalBuild),
}

/// Runs `driftless diff`.
pub fn run(args: &DiffArgs) -> Result<(), CommandError> {
    block_on(async {
        let client = args.kube.client().await?;
        diff(&client, args, &mut Printer::stdio()).await
    })
}

/// Prints the differences; `Err` with [`CHANGES_FOUND`] when there are any.
pub async fn diff(
    client: &kube::Client,
    args: &DiffArgs,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    let DiffWhat::Kustomization(local) = &args.what;
    if local.dry_run {
        return Err(ClusterError::Invalid(
            "diff compares with the cluster; --dry-run is for build".into(),
        )
        .into());
    }
    let built = build(Some(client), &args.kube.namespace, local).await?;
    let objects = driftless_ssa::decode::decode_values(built.objects)
        .map_err(|e| ClusterError::Failed(e.to_string()))?;
    let ks = &built.kustomization;
    let manager = apply::manager(
        client.clone(),
        driftless_ssa::resolve::Resolver::new(client.clone()),
        ks,
    );
    let (diffs, failures) = manager
        .diff_all(objects)
        .await
        .map_err(|e| ClusterError::Failed(e.to_string()))?;
    let mut out = String::new();
    let mut changed = false;
    for entry in diffs.iter().map(sops_aware) {
        match entry.action {
            Action::Created => {
                out.push_str(&format!("► {} created\n", entry.object.subject()));
                changed = true;
            }
            Action::Configured => {
                out.push_str(&format!("► {} drifted\n", entry.object.subject()));
                if let (Some(live), Some(merged)) = (&entry.live, &entry.merged) {
                    out.push_str(&report::report(live, merged));
                }
                changed = true;
            }
            _ => {}
        }
    }
    if ks.spec.prune && failures.is_empty() {
        for stale in stale_entries(ks, &diffs) {
            out.push_str(&format!("► {} deleted\n", stale.subject()));
            changed = true;
        }
    }
    printer.print(&out)?;
    if !failures.is_empty() {
        return Err(ClusterError::Failed(driftless_ssa::error::join_failures(&failures)).into());
    }
    if changed {
        return Err(ClusterError::Failed(CHANGES_FOUND.into()).into());
    }
    Ok(())
}

/// A drifted Secret whose built values are SOPS masks only counts when its keys changed:
/// encrypted values cannot be compared with the cluster's.
fn sops_aware(entry: &ObjectDiff) -> ObjectDiff {
    let mut entry = entry.clone();
    let (Some(live), Some(merged)) = (&entry.live, &entry.merged) else {
        return entry;
    };
    if merged["kind"] != "Secret" || !merged.to_string().contains(SOPS_MASK) {
        return entry;
    }
    let keys = |v: &Value| -> BTreeSet<String> {
        ["data", "stringData"]
            .iter()
            .filter_map(|f| v.get(*f).and_then(Value::as_object))
            .flat_map(|m| m.keys().cloned())
            .collect()
    };
    if keys(live) == keys(merged) {
        entry.action = Action::Unchanged;
    }
    entry
}

/// Inventory entries of `ks` that the new build does not contain.
fn stale_entries(
    ks: &driftless_api::kustomize::Kustomization,
    diffs: &[ObjectDiff],
) -> Vec<ObjMetadata> {
    let built: BTreeSet<&ObjMetadata> = diffs.iter().map(|d| &d.object).collect();
    let mut stale: Vec<ObjMetadata> = ks
        .status
        .as_ref()
        .and_then(|s| s.inventory.as_ref())
        .map(|inventory| inventory.entries.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| driftless_ssa::inventory::parse_entry_id(&e.id).ok())
        .filter(|meta| !built.contains(meta))
        .collect();
    stale.sort_by_key(driftless_ssa::stage::sort_key);
    stale
}
