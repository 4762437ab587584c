//! Bucket, as Flux's `BucketReconciler` with the generic (S3-compatible) provider: storage
//! check, then [`source`] (client from the spec and its Secrets in [`client`], the etag index
//! and its revision in [`index`], downloads), then [`artifact`] (archive, symlink, status),
//! summarised by the shared [`crate::reconcile`] with the conditions of Flux's
//! `bucketReadyCondition`. The S3 protocol itself is the `driftless-s3` crate.

pub mod artifact;
pub mod client;
pub mod error;
pub mod index;
pub mod source;

use std::time::Duration;

use driftless_api::conditions::{reasons, types};
use driftless_api::source::{Bucket, BucketStatus};
use driftless_artifact::ObjectKey;
use driftless_artifact::layout::{KIND_BUCKET, LATEST_TAR_GZ};
use driftless_runtime::draft::StatusDraft;
use driftless_runtime::events::EventType;
use driftless_runtime::summary::SummaryRules;
use kube::api::Api;

use self::artifact::reconcile_artifact;
use self::error::BucketError;
use self::source::reconcile_source;
use crate::artifact::Stored;
use crate::reconcile::{Context, Notice, SourceKind, parse_duration};
use crate::storage::{key_for, reconcile_storage};

/// The metrics and workqueue name.
pub const METRICS_CONTROLLER: &str = "bucket";

/// Ready of a Bucket is summarised from these (Flux's `bucketReadyCondition`).
pub const READY_RULES: SummaryRules = SummaryRules {
    summarize: &[
        types::STORAGE_OPERATION_FAILED,
        types::FETCH_FAILED,
        types::ARTIFACT_OUTDATED,
        types::ARTIFACT_IN_STORAGE,
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

/// The storage key: `bucket/<namespace>/<name>`.
pub fn object_key(bucket: &Bucket) -> Result<ObjectKey, BucketError> {
    Ok(key_for(KIND_BUCKET, bucket)?)
}

impl SourceKind for Bucket {
    type Error = BucketError;
    const METRICS: &'static str = METRICS_CONTROLLER;
    const RULES: SummaryRules = READY_RULES;

    fn interval(&self) -> Result<Duration, BucketError> {
        Ok(parse_duration("spec.interval", &self.spec.interval)?)
    }

    fn artifact_revision(status: &BucketStatus) -> Option<String> {
        status.artifact.as_ref().map(|a| a.revision.clone())
    }

    async fn run_steps(
        &self,
        ctx: &Context,
        status: &mut BucketStatus,
        draft: &mut StatusDraft,
    ) -> Result<Notice, BucketError> {
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

    async fn finalize(&self, ctx: &Context, api: &Api<Self>) -> Result<(), BucketError> {
        Ok(crate::finalize::finalize(ctx, api, self, object_key(self)?).await?)
    }
}
