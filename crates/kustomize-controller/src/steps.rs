//! The steps of a reconcile, each editing the status and the draft: source artifact,
//! dependencies, build (fetch, overlay, kustomize, decrypt, substitute), apply, prune, health.
//! `lastAttemptedRevision` is recorded as soon as the revision is known; `lastAppliedRevision`
//! and the Ready message only once everything succeeded.

use driftless_api::conditions::{reasons, types};
use driftless_api::kustomize::{Kustomization, KustomizationStatus};
use driftless_runtime::draft::StatusDraft;
use driftless_ssa::ChangeSet;
use kube::ResourceExt;

use crate::apply;
use crate::build::{self, decrypt, postbuild};
use crate::dependencies;
use crate::error::{ReconcileError, go_duration};
use crate::reconcile::{Context, duration};
use crate::source::{self, SourceKey};

/// What a successful reconcile reports.
#[derive(Debug, Default)]
pub struct Done {
    /// The change set lines (applied and pruned objects that changed), when any did.
    pub changes: Option<String>,
}

/// Flux's progressive status: before it builds, kustomize-controller writes Ready=Unknown
/// "Reconciliation in progress" and Reconciling=True with the revision it fetches, so `kubectl
/// get`, `flux get` and `kubectl wait` see a reconcile under way; the final patch replaces both.
async fn show_progress(
    ctx: &Context,
    ks: &Kustomization,
    status: &KustomizationStatus,
    draft: &mut StatusDraft,
    revision: &str,
    timeout: std::time::Duration,
) -> Result<(), ReconcileError> {
    draft.mark_reconciling(
        reasons::PROGRESSING,
        format!(
            "Fetching manifests for revision {revision} with a timeout of {}",
            go_duration(timeout)
        ),
    );
    let mut snapshot = status.clone();
    snapshot.conditions = Some(draft.in_progress_conditions());
    let api: kube::Api<Kustomization> = kube::Api::namespaced(
        ctx.clients.own().clone(),
        &ks.namespace().unwrap_or_default(),
    );
    let manager = driftless_runtime::patch::status_field_manager(crate::CONTROLLER_NAME);
    driftless_runtime::patch::patch_status(&api, ks, &snapshot, &manager)
        .await
        .map_err(|source| ReconcileError::Patch {
            source: Box::new(source),
        })?;
    Ok(())
}

/// Runs the steps in Flux's order.
pub async fn run_steps(
    ctx: &Context,
    ks: &Kustomization,
    status: &mut KustomizationStatus,
    draft: &mut StatusDraft,
) -> Result<Done, ReconcileError> {
    let interval = duration(&ks.spec.interval, "spec.interval")?;
    let timeout = match ks.spec.timeout.as_deref() {
        Some(value) => duration(value, "spec.timeout")?,
        None => interval,
    };
    if let Some(value) = ks.spec.retry_interval.as_deref() {
        duration(value, "spec.retryInterval")?;
    }
    let health_rules = apply::health_rules(ks)?;

    let key = SourceKey::of(ks);
    source::check_namespace(
        ks,
        &key.kind,
        &key.namespace,
        &key.name,
        ctx.no_cross_namespace_refs,
    )?;
    let own = ctx.clients.own();
    let artifact = source::artifact(own, &key, ctx.requeue_dependency).await?;
    let revision = artifact.revision.clone();
    dependencies::check_with(
        own,
        ks,
        &revision,
        ctx.no_cross_namespace_refs,
        ctx.additive_cel_dependency_check,
    )
    .await?;

    status.last_attempted_revision = Some(revision.clone());
    show_progress(ctx, ks, status, draft, &revision, timeout).await?;
    draft.progressing(format!(
        "Building manifests for revision {revision} with digest {}",
        artifact.digest
    ));
    let workspace = build::fetch(&ctx.fetcher, &artifact).await?;
    let dir = build::resolve_path(workspace.root(), ks.spec.path.as_deref())?;
    // Flux decrypts the files secretGenerators read before the build, and the built objects
    // after it.
    let keys = decrypt::keyring(own, ks).await?.map(std::sync::Arc::new);
    let documents = {
        let (ks, root, keys) = (ks.clone(), workspace.root().to_path_buf(), keys.clone());
        tokio::task::spawn_blocking(move || {
            if let Some(keys) = &keys {
                decrypt::generator_sources(&dir, &root, keys)?;
            }
            build::kustomize(&ks, &root, &dir)
        })
        .await
        .map_err(|e| ReconcileError::Client {
            message: format!("the build task failed: {e}"),
        })??
    };
    let documents = match &keys {
        Some(keys) => decrypt::decrypt(documents, keys)?,
        None => documents,
    };
    let documents = match postbuild::variables(own, ks).await? {
        Some(vars) => postbuild::substitute(
            documents,
            &vars,
            ks.spec
                .post_build
                .as_ref()
                .and_then(|p| p.substitute_strategy)
                .unwrap_or_default(),
            ctx.strict_substitutions,
        )?,
        None => documents,
    };
    drop(workspace);

    draft.progressing(format!("Applying revision {revision}"));
    let client = ctx.clients.for_kustomization(ks).await?;
    let manager = apply::manager(client.clone(), ctx.clients.resolver(ks, &client), ks);
    let applied = apply::apply(&manager, ks, &documents).await?;
    let old_inventory = status.inventory.clone().unwrap_or_default();
    status.inventory = Some(applied.inventory.clone());
    let mut changes = applied.change_set.changes();
    if ks.spec.prune {
        let pruned = apply::prune(&manager, &old_inventory, &applied.inventory).await?;
        changes.extend(pruned);
    }

    let targets = apply::health_targets(ks, &applied.inventory)?;
    if targets.is_empty() {
        draft.delete(types::HEALTHY);
    } else if needs_health_check(status, draft, &revision, &changes) {
        draft.progressing(format!("Checking health of revision {revision}"));
        let took = apply::check_health(
            &manager,
            &health_rules,
            &targets,
            &applied.change_set,
            timeout,
        )
        .await?;
        draft.mark_true(
            types::HEALTHY,
            reasons::SUCCEEDED,
            format!(
                "Health check passed in {}",
                go_duration(std::time::Duration::from_millis(took.as_millis() as u64))
            ),
        );
    }

    status.last_applied_revision = Some(revision.clone());
    status.last_applied_origin_revision = source::origin_revision(&artifact);
    draft.succeeded_with(
        reasons::RECONCILIATION_SUCCEEDED,
        format!("Applied revision: {revision}"),
    );
    tracing::info!(name = %ks.name_any(), namespace = ?ks.namespace(), %revision,
        "server-side apply completed");
    Ok(Done {
        changes: (!changes.entries.is_empty()).then(|| changes.to_string()),
    })
}

/// Flux skips the health check when nothing changed, the revision was applied before and the
/// objects were healthy then.
fn needs_health_check(
    status: &KustomizationStatus,
    draft: &StatusDraft,
    revision: &str,
    changes: &ChangeSet,
) -> bool {
    let healthy = draft
        .get(types::HEALTHY)
        .is_some_and(|c| c.status == driftless_api::conditions::status::TRUE);
    let same_revision = status.last_applied_revision.as_deref() == Some(revision);
    !(healthy && same_revision && changes.entries.is_empty())
}
