//! `ResourceManager::apply_all_staged`, Flux's `ApplyAllStaged`: validate the whole set with a
//! server-side dry-run, then apply stage by stage (definitions, classes, custom kinds, the rest)
//! with force-ownership under the configured field manager, waiting for the first two stages.

use std::time::Duration;

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};

use crate::changeset::{Action, ChangeSet};
use crate::concurrency::{CONCURRENT_REQUESTS, ordered};
use crate::error::{ObjectFailure, SsaError, api_message};
use crate::options::ApplyOptions;
use crate::plan::{KnownObjects, Plan, Prepared};
use crate::resolve::{Resolved, Resolver};
use crate::stage::{Stage, sort_key, stage_of};
use crate::wait::Target;

/// Applies, prunes and health-checks sets of objects against one cluster.
pub struct ResourceManager {
    pub(crate) client: Client,
    pub(crate) resolver: Resolver,
    pub(crate) options: ApplyOptions,
}

impl ResourceManager {
    pub fn new(client: Client, options: ApplyOptions) -> Self {
        Self::with_resolver(client.clone(), options, Resolver::new(client))
    }

    /// A manager resolving kinds through `resolver`, whose cache outlives this manager: one per
    /// cluster lets every reconcile against that cluster share it.
    pub fn with_resolver(client: Client, options: ApplyOptions, resolver: Resolver) -> Self {
        Self {
            resolver,
            client,
            options,
        }
    }

    pub fn options(&self) -> &ApplyOptions {
        &self.options
    }

    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// The API for objects of `resolved` in `namespace` (empty: cluster-scoped).
    pub(crate) fn dynamic_api(&self, resolved: &Resolved, namespace: &str) -> Api<DynamicObject> {
        match namespace {
            "" => Api::all_with(self.client.clone(), &resolved.resource),
            ns => Api::namespaced_with(self.client.clone(), ns, &resolved.resource),
        }
    }

    /// Applies `objects` in Flux's stages. Every object is dry-run first; if any fails, nothing is
    /// applied and the error lists every failing object. Objects that need a CRD or Namespace
    /// from this same set cannot be dry-run before it exists: they are validated right after the
    /// definitions stage, before any later stage is applied.
    ///
    /// Every entry of the change set carries the object's health as the apply returned it, or
    /// as the dry-run read it when nothing was written ([`ChangeSet::observations`]).
    pub async fn apply_all_staged(
        &self,
        objects: Vec<DynamicObject>,
    ) -> Result<ChangeSet, SsaError> {
        self.apply_all_staged_known(objects, &KnownObjects::new())
            .await
    }

    /// [`Self::apply_all_staged`] with the live objects the caller has just read: the dry-run
    /// does not read those again.
    pub async fn apply_all_staged_known(
        &self,
        objects: Vec<DynamicObject>,
        known: &KnownObjects,
    ) -> Result<ChangeSet, SsaError> {
        let custom = &self.options.custom_stage_kinds;
        let mut prepared = self.prepare(objects).await?;
        prepared.sort_by_key(|p| (stage_of(&p.meta, custom), sort_key(&p.meta)));

        let mut plans: Vec<Option<Plan>> = vec![None; prepared.len()];
        let mut lives: Vec<Option<DynamicObject>> = vec![None; prepared.len()];
        let mut failures = Vec::new();
        let dry_runs: Vec<_> = prepared
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.deferred)
            .map(|(i, p)| async move { (i, self.dry_run(p, known).await) })
            .collect();
        let dry_runs = ordered(dry_runs, CONCURRENT_REQUESTS).await;
        for (i, result) in dry_runs {
            match result {
                Ok(dry) => {
                    plans[i] = Some(dry.plan);
                    lives[i] = dry.live;
                }
                Err(failure) => failures.push(failure),
            }
        }
        if !failures.is_empty() {
            return Err(SsaError::Validation { failures });
        }

        let mut change_set = ChangeSet::default();
        for stage in [
            Stage::Definitions,
            Stage::Classes,
            Stage::Custom,
            Stage::Rest,
        ] {
            if stage == Stage::Classes {
                self.validate_deferred(&mut prepared, &mut plans).await?;
            }
            let mut targets = Vec::new();
            let executions: Vec<_> = prepared
                .iter()
                .zip(&plans)
                .zip(&lives)
                .filter_map(|((p, plan), live)| {
                    let plan = plan
                        .as_ref()
                        .filter(|_| stage_of(&p.meta, custom) == stage)?;
                    Some(async move { (p, live, self.execute(p, plan).await) })
                })
                .collect();
            // In set order; the first failure (in that order) is the stage's error.
            let executed = ordered(executions, CONCURRENT_REQUESTS).await;
            for (p, live, result) in executed {
                let (action, written) = result?;
                tracing::debug!(stage = stage.describe(), "{} {action}", p.meta.subject());
                change_set.push(p.meta.clone(), &p.gvk.version, action);
                // What the server returned, else the object the dry-run compared (unchanged).
                if let Some(seen) = written.as_ref().or(live.as_ref()) {
                    change_set.observe(&p.meta, crate::wait::observed_health(&p.meta, seen));
                }
                if action != Action::Skipped {
                    targets.push(Target::new(p.meta.clone(), p.gvk.version.clone()));
                }
            }
            if matches!(stage, Stage::Definitions | Stage::Classes) && !targets.is_empty() {
                self.wait_for(&targets, self.options.stage_timeout)
                    .await
                    .map_err(|e| SsaError::StageNotReady {
                        stage: stage.describe().to_string(),
                        message: e.to_string(),
                    })?;
            }
        }
        Ok(change_set)
    }

    /// Resolves and dry-runs the objects whose CRD or Namespace the definitions stage created.
    async fn validate_deferred(
        &self,
        prepared: &mut [Prepared],
        plans: &mut [Option<Plan>],
    ) -> Result<(), SsaError> {
        let mut failures = Vec::new();
        for (p, plan) in prepared.iter_mut().zip(plans.iter_mut()) {
            if !p.deferred {
                continue;
            }
            match self
                .resolver
                .resolve_eventually(&p.gvk, self.options.stage_timeout)
                .await
            {
                Ok(resolved) => p.resolved = Some(resolved),
                Err(e) => {
                    failures.push(ObjectFailure {
                        subject: p.meta.subject(),
                        message: e.to_string(),
                    });
                    continue;
                }
            }
            match self.dry_run(p, &KnownObjects::new()).await {
                Ok(dry) => *plan = Some(dry.plan),
                Err(failure) => failures.push(failure),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(SsaError::DeferredValidation { failures })
        }
    }

    /// Carries out one plan and says what happened, with the object the API server returned
    /// when it wrote one.
    async fn execute(
        &self,
        p: &Prepared,
        plan: &Plan,
    ) -> Result<(Action, Option<DynamicObject>), SsaError> {
        let apply_failed = |e: kube::Error| SsaError::Apply {
            subject: p.meta.subject(),
            message: api_message(&e),
        };
        let api = self.api_for(p).ok_or_else(|| SsaError::Apply {
            subject: p.meta.subject(),
            message: "kind is not served by the API server".to_string(),
        })?;
        let params = PatchParams::apply(&self.options.field_manager).force();
        match plan {
            Plan::Skip => Ok((Action::Skipped, None)),
            Plan::Unchanged => Ok((Action::Unchanged, None)),
            Plan::Apply { create, cleanup } => {
                if let Some(cleanup) = cleanup {
                    api.patch(
                        &p.meta.name,
                        &PatchParams::default(),
                        &Patch::Merge(cleanup),
                    )
                    .await
                    .map_err(|e| SsaError::Apply {
                        subject: p.meta.subject(),
                        message: format!("metadata cleanup failed: {}", api_message(&e)),
                    })?;
                }
                let written = api
                    .patch(&p.meta.name, &params, &Patch::Apply(&p.object))
                    .await
                    .map_err(apply_failed)?;
                let action = if *create {
                    Action::Created
                } else {
                    Action::Configured
                };
                Ok((action, Some(written)))
            }
            Plan::Recreate => {
                let recreate_failed = |message: String| SsaError::Recreate {
                    subject: p.meta.subject(),
                    message,
                };
                api.delete(&p.meta.name, &DeleteParams::background())
                    .await
                    .map_err(|e| recreate_failed(api_message(&e)))?;
                // Flux re-applies at once; waiting until the old object is gone avoids applying
                // onto an object that is still terminating.
                let deadline = tokio::time::Instant::now() + self.options.stage_timeout;
                while api
                    .get_opt(&p.meta.name)
                    .await
                    .map_err(|e| recreate_failed(api_message(&e)))?
                    .is_some()
                {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(recreate_failed("old object was not deleted in time".into()));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                let written = api
                    .patch(&p.meta.name, &params, &Patch::Apply(&p.object))
                    .await
                    .map_err(apply_failed)?;
                Ok((Action::Created, Some(written)))
            }
        }
    }
}
