//! `driftless diff kustomization <name> --path <dir>`: what applying a local build would change
//! in the cluster, found with a server-side apply dry-run under kustomize-controller's field
//! manager, as `flux diff kustomization` does. Objects are reported `created` or `drifted`
//! (with the changed fields: value changes, entries added or removed, list items matched by
//! name), and, when the Kustomization prunes, inventory entries the build no longer contains are
//! reported `deleted`. Secret values never print: both sides are masked, marking only which
//! keys changed. Any change ends the command with an error, so scripts and CI see exit code 1.

use std::collections::BTreeSet;

use base64::Engine as _;

use clap::{Args, Subcommand};
use driftless_kustomize_controller::apply;
use driftless_ssa::diff::ObjectDiff;
use driftless_ssa::{Action, ObjMetadata};
use serde_json::Value;

use super::CommandError;
use super::build::{BuildMode, Built, LocalBuild, SOPS_MASK, build_with};
use super::cluster::{ClusterError, KubeArgs, block_on};
use super::output::Printer;

mod ignore;
mod nested;
mod progress;
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
    Kustomization(DiffKustomization),
}

/// `diff kustomization`: the shared local build plus diff's own flags.
#[derive(Debug, Clone, Args)]
pub struct DiffKustomization {
    #[command(flatten)]
    pub local: LocalBuild,
    /// Show a spinner on the terminal while the dry-run runs (`--progress-bar=false` hides it).
    #[arg(long, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub progress_bar: bool,
    /// A Kustomization missing from the cluster is diffed from --kustomization-file as new.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub ignore_not_found: bool,
}

/// Runs `driftless diff`.
pub fn run(args: &DiffArgs) -> Result<(), CommandError> {
    block_on(async {
        let client = args.kube.client().await?;
        let DiffWhat::Kustomization(ks) = &args.what;
        let spinner = ks.progress_bar.then(progress::Spinner::start);
        let result = diff(&client, args, &mut Printer::stdio()).await;
        drop(spinner);
        result
    })
}

/// Prints the differences; `Err` with [`CHANGES_FOUND`] when there are any.
pub async fn diff(
    client: &kube::Client,
    args: &DiffArgs,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    let DiffWhat::Kustomization(ks) = &args.what;
    let mode = BuildMode {
        single: true,
        ignore_not_found: ks.ignore_not_found,
    };
    let built = build_with(Some(client), &args.kube.namespace, &ks.local, &mode).await?;
    let outcome = diff_built(client, built, &ks.local, 0).await?;
    printer.print(&outcome.out)?;
    if !outcome.errors.is_empty() {
        return Err(ClusterError::Failed(outcome.errors.join("\n")).into());
    }
    if outcome.changed {
        return Err(ClusterError::Failed(CHANGES_FOUND.into()).into());
    }
    Ok(())
}

/// One Kustomization's diff: its report, whether anything changed, the errors met.
struct Outcome {
    out: String,
    changed: bool,
    errors: Vec<String>,
}

/// Diffs a build with the cluster; with `--recursive`, nested Kustomizations that already
/// exist are diffed from their local sources, their reports under `📁 … changed`.
async fn diff_built(
    client: &kube::Client,
    built: Built,
    local: &LocalBuild,
    depth: usize,
) -> Result<Outcome, CommandError> {
    let ks = &built.kustomization;
    let objects = driftless_ssa::decode::decode_values(built.objects.clone())
        .map_err(|e| ClusterError::Failed(e.to_string()))?;
    let manager = apply::manager(
        client.clone(),
        driftless_ssa::resolve::Resolver::new(client.clone()),
        ks,
    );
    let (diffs, failures) = manager
        .diff_all(objects)
        .await
        .map_err(|e| ClusterError::Failed(e.to_string()))?;
    let mut outcome = Outcome {
        out: String::new(),
        changed: false,
        errors: Vec::new(),
    };
    if !failures.is_empty() {
        outcome
            .errors
            .push(driftless_ssa::error::join_failures(&failures));
    }
    let rules = ks.spec.ignore.clone().unwrap_or_default();
    for entry in diffs
        .iter()
        .map(|e| drift_ignored(&rules, sops_aware(&built.objects, e)))
    {
        let subject = entry.object.subject();
        match entry.action {
            Action::Skipped => outcome.out.push_str(&format!("► {subject} skipped\n")),
            Action::Created => {
                outcome.out.push_str(&format!("► {subject} created\n"));
                outcome.changed = true;
            }
            Action::Configured => {
                outcome.out.push_str(&format!("► {subject} drifted\n"));
                if let (Some(live), Some(merged)) = (&entry.live, &entry.merged) {
                    outcome.out.push_str(&report::report(live, merged));
                }
                outcome.changed = true;
            }
            _ => {}
        }
        if local.recursive && entry.action != Action::Created {
            nested::diff_nested(
                client,
                ks,
                &built.objects,
                &entry,
                local,
                depth,
                &mut outcome,
            )
            .await?;
        }
    }
    if ks.spec.prune && outcome.errors.is_empty() {
        for stale in stale_entries(ks, &diffs) {
            outcome
                .out
                .push_str(&format!("► {} deleted\n", stale.subject()));
            outcome.changed = true;
        }
    }
    Ok(outcome)
}

/// A drifted object equal to the cluster's once `spec.ignore`'s paths are left out is unchanged.
fn drift_ignored(rules: &[driftless_api::apply::IgnoreRule], mut entry: ObjectDiff) -> ObjectDiff {
    if rules.is_empty() || entry.action != Action::Configured {
        return entry;
    }
    if let (Some(live), Some(merged)) = (&mut entry.live, &mut entry.merged) {
        ignore::apply(rules, live, merged);
        if live == merged {
            entry.action = Action::Unchanged;
        }
    }
    entry
}

/// The built object `meta` names.
fn built_object<'a>(objects: &'a [Value], meta: &ObjMetadata) -> Option<&'a Value> {
    objects.iter().find(|o| {
        o["kind"] == meta.kind.as_str()
            && o["metadata"]["name"] == meta.name.as_str()
            && o["metadata"]["namespace"].as_str().unwrap_or_default() == meta.namespace
    })
}

/// What both sides' values of a SOPS Secret show: only its keys are compared.
const KEY_ONLY_MASK: &str = "*****";

/// A drifted Secret whose built `data` holds SOPS masks only counts when its keys changed:
/// encrypted values cannot be compared with the cluster's. As flux does, every `data` value of
/// both sides then shows as `*****`, so a report names only keys added or removed.
fn sops_aware(objects: &[Value], entry: &ObjectDiff) -> ObjectDiff {
    let mut entry = entry.clone();
    if entry.action != Action::Configured || entry.object.kind != "Secret" {
        return entry;
    }
    let masked = built_object(objects, &entry.object)
        .and_then(|o| o["data"].as_object())
        .is_some_and(|data| {
            data.values().any(|v| {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(v.as_str().unwrap_or_default())
                    .unwrap_or_default();
                String::from_utf8_lossy(&decoded).contains(SOPS_MASK)
            })
        });
    let (Some(live), Some(merged)) = (&mut entry.live, &mut entry.merged) else {
        return entry;
    };
    if !masked {
        return entry;
    }
    let keys = |v: &mut Value| -> BTreeSet<String> {
        let Some(data) = v.get_mut("data").and_then(Value::as_object_mut) else {
            return BTreeSet::new();
        };
        for value in data.values_mut() {
            *value = Value::String(KEY_ONLY_MASK.to_owned());
        }
        data.keys().cloned().collect()
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
