//! `driftless diff kustomization <name> --path <dir>`: what applying a local build would change
//! in the cluster, found with a server-side apply dry-run under kustomize-controller's field
//! manager, as `flux diff kustomization` does. Objects are reported `created` or `drifted`
//! (with the changed fields: value changes, entries added or removed, list items matched by
//! name), and, when the Kustomization prunes, inventory entries the build no longer contains are
//! reported `deleted`. Secret values never print: both sides are masked, marking only which
//! keys changed. The exit status is flux's: 0 when nothing would change, 1 when something
//! would, 2 when the diff itself failed (bad path, unreachable cluster, failed build or
//! dry-run).

use std::collections::BTreeSet;

use clap::{Args, Subcommand};
use driftless_kustomize_controller::apply;
use driftless_ssa::diff::ObjectDiff;
use driftless_ssa::{Action, ObjMetadata};
use serde_json::Value;

use super::CommandError;
use super::build::{
    BuildMode, Built, LocalBuild, build_with, check_kustomization_file, resource_dir,
};
use super::cluster::{ClusterError, KubeArgs, block_on};
use super::output::Printer;

mod ignore;
mod namespace;
mod nested;
pub mod normalize;
mod progress;
mod report;
mod sops;

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

/// The exit status of a diff that found changes.
pub const CHANGED: u8 = 1;
/// The exit status of a diff that failed.
pub const FAILED: u8 = 2;

/// An error that ends the process with a status of its own: flux's diff tells "changes found"
/// (1) from "could not diff" (2), so CI can fail on errors and report drift separately.
#[derive(Debug)]
pub struct StatusError {
    /// The process's exit status.
    pub code: u8,
    /// What happened.
    pub error: Box<CommandError>,
}

impl std::fmt::Display for StatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for StatusError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// `error` with `code`, unless it already carries a status.
fn with_status(code: u8, error: CommandError) -> CommandError {
    match error {
        CommandError::Status(_) => error,
        other => CommandError::Status(StatusError {
            code,
            error: Box::new(other),
        }),
    }
}

/// Runs `driftless diff`.
pub fn run(args: &DiffArgs) -> Result<(), CommandError> {
    block_on(async {
        let DiffWhat::Kustomization(ks) = &args.what;
        // Bad arguments are told before the cluster is asked, as flux does.
        check_arguments(&ks.local)?;
        let client = args
            .kube
            .client()
            .await
            .map_err(|e| with_status(FAILED, e.into()))?;
        let spinner = ks.progress_bar.then(progress::Spinner::start);
        let result = diff(&client, args, &mut Printer::stdio()).await;
        drop(spinner);
        result
    })
}

/// Flux's argument checks, each with flux's exit status: a bad `--path` fails the diff (2); a
/// missing `--kustomization-file` is a plain error, status 1 in flux as in any other command.
fn check_arguments(local: &LocalBuild) -> Result<(), CommandError> {
    resource_dir(local).map_err(|e| with_status(FAILED, e))?;
    check_kustomization_file(local)
}

/// Prints the differences. `Err` with status [`CHANGED`] and [`CHANGES_FOUND`] when there are
/// any; with status [`FAILED`] when the build or a dry-run fails (after printing what could be
/// diffed).
pub async fn diff(
    client: &kube::Client,
    args: &DiffArgs,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    let DiffWhat::Kustomization(ks) = &args.what;
    check_arguments(&ks.local)?;
    let mode = BuildMode {
        single: true,
        ignore_not_found: ks.ignore_not_found,
    };
    let failed = |e: CommandError| with_status(FAILED, e);
    let built = build_with(Some(client), &args.kube.namespace, &ks.local, &mode)
        .await
        .map_err(failed)?;
    let outcome = diff_built(client, built, &ks.local, 0)
        .await
        .map_err(failed)?;
    printer.print(&outcome.out)?;
    if !outcome.errors.is_empty() {
        return Err(failed(
            ClusterError::Failed(outcome.errors.join("\n")).into(),
        ));
    }
    if outcome.changed {
        return Err(with_status(
            CHANGED,
            ClusterError::Failed(CHANGES_FOUND.into()).into(),
        ));
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
    let Built {
        kustomization,
        objects: mut built_objects,
    } = built;
    let ks = &kustomization;
    normalize::objects(&mut built_objects);
    let objects = driftless_ssa::decode::decode_values(built_objects.clone())
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
    let rules = ignore::Rules::compile(ks.spec.ignore.as_deref().unwrap_or_default());
    let (diffs, missing) = namespace::in_missing_namespaces(client, diffs).await?;
    outcome.errors.extend(missing);
    for entry in &diffs {
        let entry = match &rules {
            Ok(rules) => sops::sops_aware(&built_objects, &drift_ignored(rules, entry.clone())),
            // Flux compiles the rules for each object that exists, and fails its diff.
            Err(e) if matches!(entry.action, Action::Configured | Action::Unchanged) => {
                outcome.errors.push(e.clone());
                continue;
            }
            Err(_) => entry.clone(),
        };
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
                &built_objects,
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
fn drift_ignored(rules: &ignore::Rules, mut entry: ObjectDiff) -> ObjectDiff {
    if rules.is_empty() || entry.action != Action::Configured {
        return entry;
    }
    if let (Some(live), Some(merged)) = (&mut entry.live, &mut entry.merged) {
        rules.apply(live, merged);
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
