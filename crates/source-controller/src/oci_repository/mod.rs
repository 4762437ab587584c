//! OCIRepository, as Flux's `OCIRepositoryReconciler`: storage check, then [`source`] (client
//! from the spec and its Secrets in [`client`], reference, revision, verified layer download),
//! then [`artifact`] (store, symlink, status), summarised by the shared [`crate::reconcile`]
//! with the conditions of Flux's `ociRepositoryReadyCondition`.

pub mod artifact;
pub mod client;
pub mod error;
pub mod source;

use std::time::Duration;

use driftless_api::conditions::{reasons, types};
use driftless_api::source::{OCIRepository, OCIRepositoryStatus};
use driftless_artifact::ObjectKey;
use driftless_artifact::layout::{KIND_OCI_REPOSITORY, LATEST_TAR_GZ};
use driftless_runtime::draft::StatusDraft;
use driftless_runtime::events::EventType;
use driftless_runtime::summary::SummaryRules;
use kube::api::Api;

use self::artifact::reconcile_artifact;
use self::error::OciRepositoryError;
use self::source::reconcile_source;
use crate::artifact::Stored;
use crate::reconcile::{Context, Notice, SourceKind, parse_duration};
use crate::storage::{key_for, reconcile_storage};

/// The metrics and workqueue name.
pub const METRICS_CONTROLLER: &str = "ocirepository";

/// Ready of an OCIRepository is summarised from these (Flux's `ociRepositoryReadyCondition`).
pub const READY_RULES: SummaryRules = SummaryRules {
    summarize: &[
        types::STORAGE_OPERATION_FAILED,
        types::FETCH_FAILED,
        types::ARTIFACT_OUTDATED,
        types::ARTIFACT_IN_STORAGE,
        types::SOURCE_VERIFIED,
        types::RECONCILING,
        types::STALLED,
    ],
    negative_polarity: &[
        types::STORAGE_OPERATION_FAILED,
        types::FETCH_FAILED,
        types::ARTIFACT_OUTDATED,
        types::RECONCILING,
        types::STALLED,
    ],
};

/// The storage key: `ocirepository/<namespace>/<name>`.
pub fn object_key(repo: &OCIRepository) -> Result<ObjectKey, OciRepositoryError> {
    Ok(key_for(KIND_OCI_REPOSITORY, repo)?)
}

impl SourceKind for OCIRepository {
    type Error = OciRepositoryError;
    const METRICS: &'static str = METRICS_CONTROLLER;
    const RULES: SummaryRules = READY_RULES;

    fn interval(&self) -> Result<Duration, OciRepositoryError> {
        Ok(parse_duration("spec.interval", &self.spec.interval)?)
    }

    fn artifact_revision(status: &OCIRepositoryStatus) -> Option<String> {
        status.artifact.as_ref().map(|a| a.revision.clone())
    }

    async fn run_steps(
        &self,
        ctx: &Context,
        status: &mut OCIRepositoryStatus,
        draft: &mut StatusDraft,
    ) -> Result<Notice, OciRepositoryError> {
        reconcile_storage(
            &ctx.storage,
            ctx.retention,
            object_key(self)?,
            &mut status.artifact,
            draft,
        )
        .await?;
        // Flux rewrites `status.url` with the current storage address too, or drops it with
        // the artifact.
        status.url = match (&status.artifact, &status.url) {
            (Some(artifact), Some(_)) => artifact
                .path
                .rsplit_once('/')
                .map(|(dir, _)| ctx.storage.url_for(&format!("{dir}/{LATEST_TAR_GZ}"))),
            _ => None,
        };
        let fetched = reconcile_source(&ctx.client, self, status, draft).await?;
        let stored =
            reconcile_artifact(&ctx.storage, ctx.retention, self, status, draft, fetched).await?;
        Ok(match stored {
            Stored::New {
                message,
                revision,
                digest,
            } => Notice {
                event_type: EventType::Normal,
                reason: reasons::NEW_ARTIFACT,
                message,
                metadata: vec![("revision", revision), ("digest", digest)],
            },
            Stored::UpToDate { revision } => Notice::up_to_date(&revision),
        })
    }

    async fn finalize(&self, ctx: &Context, api: &Api<Self>) -> Result<(), OciRepositoryError> {
        Ok(crate::finalize::finalize(ctx, api, self, object_key(self)?).await?)
    }
}

/// Flux's `NewArtifact` message, with the origin source and revision when the artifact was
/// pushed with them (`flux push artifact` annotations).
fn new_artifact_message(
    repo: &OCIRepository,
    status: &OCIRepositoryStatus,
    revision: &str,
) -> String {
    let message = format!(
        "stored artifact with revision '{revision}' from '{}'",
        repo.spec.url
    );
    let metadata = status.artifact.as_ref().and_then(|a| a.metadata.as_ref());
    let origin = metadata.and_then(|m| {
        Some((
            m.get("org.opencontainers.image.source")?,
            m.get("org.opencontainers.image.revision")?,
        ))
    });
    match origin {
        Some((source, origin_revision)) if !source.is_empty() && !origin_revision.is_empty() => {
            format!("{message}, origin source '{source}', origin revision '{origin_revision}'")
        }
        _ => message,
    }
}
