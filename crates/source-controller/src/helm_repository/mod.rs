//! HelmRepository, as Flux's `HelmRepositoryReconciler`: for the default (HTTP) type, fetch
//! `<url>/index.yaml` with the repository's credentials, load it (50 MiB limit), store it
//! re-serialised as JSON as `index-<sha256>.yaml` with the revision `sha256:<hex>` of those
//! bytes, link `index.yaml` to it for `status.url`, and record `NewArtifact` ("stored fetched
//! index of size … from '…'") or `ArtifactUpToDate`. An `oci` HelmRepository is only a pointer
//! for HelmCharts: it gets no finalizer, no artifact and no status, as in Flux.
//!
//! [`client`] is the repository's HTTP client (also used by HelmCharts), [`error`] the Helm
//! failures of both kinds.

pub mod client;
pub mod error;

use std::sync::Arc;
use std::time::Duration;

use driftless_api::conditions::{reasons, types};
use driftless_api::meta;
use driftless_api::source::{HelmRepository, HelmRepositoryStatus, HelmRepositoryType};
use driftless_artifact::layout::{INDEX_YAML, KIND_HELM_REPOSITORY, helm_repository_index_file};
use driftless_artifact::{ObjectKey, Storage};
use driftless_helm::repo::{Index, MAX_INDEX_SIZE};
use driftless_runtime::draft::StatusDraft;
use driftless_runtime::events::EventType;
use driftless_runtime::patch::{patch_status, remove_finalizer, status_field_manager};
use driftless_runtime::summary::SummaryRules;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use sha2::{Digest as _, Sha256};

use self::client::RepoClient;
use self::error::HelmError;
use crate::reconcile::{Context, Notice, SourceKind, parse_duration};
use crate::storage::{from_api, key_for, link_url, reconcile_storage, to_api};

/// Flux's default `spec.interval` for a HelmRepository (the field is optional).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Ready of a HelmRepository is summarised from these (Flux's `helmRepositoryReadyCondition`).
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

/// Reconciles one HelmRepository: `oci` ones are left static, the rest go through the
/// source reconcile.
pub async fn reconcile(repo: Arc<HelmRepository>, ctx: Arc<Context>) -> Result<Action, HelmError> {
    if repo.spec.type_ == Some(HelmRepositoryType::Oci) {
        leave_static(&repo, &ctx).await?;
        return Ok(Action::await_change());
    }
    crate::reconcile::reconcile(repo, ctx).await
}

/// An `oci` HelmRepository carries no finalizer and no status (one left by an earlier type
/// is removed).
async fn leave_static(repo: &HelmRepository, ctx: &Context) -> Result<(), HelmError> {
    let api: Api<HelmRepository> =
        Api::namespaced(ctx.client.clone(), &repo.namespace().unwrap_or_default());
    let manager = status_field_manager(crate::CONTROLLER_NAME);
    let patch_err = |source| {
        HelmError::Source(crate::error::ReconcileError::Patch {
            source: Box::new(source),
        })
    };
    if repo
        .status
        .as_ref()
        .is_some_and(|s| *s != HelmRepositoryStatus::default())
    {
        patch_status(&api, repo, &HelmRepositoryStatus::default(), &manager)
            .await
            .map_err(patch_err)?;
    }
    if repo
        .finalizers()
        .iter()
        .any(|f| f == driftless_api::annotations::FINALIZER)
    {
        remove_finalizer(&api, repo, &manager)
            .await
            .map_err(patch_err)?;
    }
    Ok(())
}

/// The storage key of a HelmRepository (`helmrepository/<ns>/<name>`).
pub fn object_key(repo: &HelmRepository) -> Result<ObjectKey, HelmError> {
    Ok(key_for(KIND_HELM_REPOSITORY, repo)?)
}

impl SourceKind for HelmRepository {
    type Error = HelmError;
    const METRICS: &'static str = "helmrepository";
    const RULES: SummaryRules = READY_RULES;

    fn interval(&self) -> Result<Duration, HelmError> {
        match self.spec.interval.as_deref() {
            Some(value) => Ok(parse_duration("spec.interval", value)?),
            None => Ok(DEFAULT_INTERVAL),
        }
    }

    fn artifact_revision(status: &HelmRepositoryStatus) -> Option<String> {
        status.artifact.as_ref().map(|a| a.revision.clone())
    }

    async fn run_steps(
        &self,
        ctx: &Context,
        status: &mut HelmRepositoryStatus,
        draft: &mut StatusDraft,
    ) -> Result<Notice, HelmError> {
        let key = object_key(self)?;
        reconcile_storage(
            &ctx.storage,
            ctx.retention,
            key.clone(),
            &mut status.artifact,
            draft,
        )
        .await?;
        let fetched = fetch_index(&ctx.client, self).await?;
        draft.delete(types::FETCH_FAILED);
        let current = status.artifact.as_ref().map(|a| a.revision.clone());
        if current.as_deref() != Some(fetched.revision.as_str()) {
            let message = format!("new index revision '{}'", fetched.revision);
            draft.mark_true(types::ARTIFACT_OUTDATED, reasons::NEW_REVISION, &message);
            draft.progressing(format!("building artifact: {message}"));
        }
        let notice = if current.as_deref() == Some(fetched.revision.as_str()) {
            Notice::up_to_date(&fetched.revision)
        } else {
            let (stored, _) = store_index(ctx, key.clone(), &fetched).await?;
            let notice = Notice {
                event_type: EventType::Normal,
                reason: reasons::NEW_ARTIFACT,
                message: format!(
                    "stored fetched index of size {} from '{}'",
                    human_size(
                        stored
                            .size
                            .unwrap_or_default()
                            .try_into()
                            .unwrap_or_default()
                    ),
                    driftless_helm::repo::url::redact(&self.spec.url)
                ),
                metadata: vec![
                    ("revision", stored.revision.clone()),
                    ("digest", stored.digest.clone()),
                ],
            };
            status.artifact = Some(to_api(&stored));
            notice
        };
        draft.delete(types::ARTIFACT_OUTDATED);
        draft.delete(types::STORAGE_OPERATION_FAILED);
        // Flux words this condition differently from GitRepository's ("for revision"); the
        // flux CLI shows it as the Ready message.
        draft.mark_true(
            types::ARTIFACT_IN_STORAGE,
            reasons::SUCCEEDED,
            format!("stored artifact: revision '{}'", fetched.revision),
        );
        status.url = Some(link_url(&ctx.storage, &key, INDEX_YAML)?);
        Ok(notice)
    }

    async fn finalize(&self, ctx: &Context, api: &Api<Self>) -> Result<(), HelmError> {
        Ok(crate::finalize::finalize(ctx, api, self, object_key(self)?).await?)
    }
}

/// A fetched, loaded index and its JSON form.
struct Fetched {
    json: Vec<u8>,
    revision: String,
    hex: String,
}

async fn fetch_index(client: &kube::Client, repo: &HelmRepository) -> Result<Fetched, HelmError> {
    let url =
        ::url::Url::parse(&repo.spec.url).map_err(|e| HelmError::InvalidUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(HelmError::InvalidUrl(format!(
            "scheme \"{}\" not supported",
            url.scheme()
        )));
    }
    let http = RepoClient::for_repository(client, repo).await?;
    let index_url = driftless_helm::repo::url::index_url(&repo.spec.url)
        .map_err(|e| HelmError::InvalidUrl(e.to_string()))?;
    let body = http
        .get(&index_url, "index", MAX_INDEX_SIZE)
        .await
        .map_err(|source| HelmError::FetchIndex { source })?;
    let json = tokio::task::spawn_blocking(move || {
        Index::load(&body, MAX_INDEX_SIZE).map(|i| i.to_json())
    })
    .await
    .map_err(|e| crate::error::ReconcileError::Task {
        operation: "loading the index",
        detail: e.to_string(),
    })?
    .map_err(|source| HelmError::LoadIndex { source })?;
    let hex = hex::encode(Sha256::digest(&json));
    Ok(Fetched {
        revision: format!("sha256:{hex}"),
        json,
        hex,
    })
}

async fn store_index(
    ctx: &Context,
    key: ObjectKey,
    fetched: &Fetched,
) -> Result<(driftless_artifact::Artifact, String), HelmError> {
    let file = helm_repository_index_file(&fetched.hex);
    let revision = fetched.revision.clone();
    let json = fetched.json.clone();
    Ok(
        crate::artifact::store_locked(&ctx.storage, ctx.retention, key, INDEX_YAML, move |lock| {
            lock.store_bytes(&file, &revision, &json).map_err(|source| {
                crate::error::ReconcileError::Storage {
                    operation: "failed to write artifact",
                    source,
                }
            })
        })
        .await?,
    )
}

/// The index a HelmRepository stored, read from local storage (the HelmChart reconciler runs
/// in the same process, as in Flux) and checked against the artifact's digest.
pub async fn load_stored_index(
    storage: &Storage,
    artifact: &meta::Artifact,
) -> Result<Index, HelmError> {
    let storage = storage.clone();
    let artifact = from_api(artifact);
    tokio::task::spawn_blocking(move || {
        let path = storage.local_path(&artifact).map_err(|source| {
            crate::error::ReconcileError::Storage {
                operation: "failed to locate the repository index",
                source,
            }
        })?;
        let data = std::fs::read(&path).map_err(|e| HelmError::GetSource {
            detail: format!("failed to read the repository index artifact: {e}"),
            not_found: false,
        })?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
        if digest != artifact.digest {
            return Err(HelmError::GetSource {
                detail: format!(
                    "the repository index artifact does not match its digest '{}'",
                    artifact.digest
                ),
                not_found: false,
            });
        }
        Index::load(&data, MAX_INDEX_SIZE).map_err(|source| HelmError::LoadIndex { source })
    })
    .await
    .map_err(|e| crate::error::ReconcileError::Task {
        operation: "loading the index",
        detail: e.to_string(),
    })?
}

/// Go's `units.HumanSize`: decimal units, four significant digits.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    let digits = if size < 1.0 {
        1
    } else {
        size.log10().floor() as i32 + 1
    };
    let decimals = usize::try_from((4 - digits).max(0)).unwrap_or(0);
    let mut text = format!("{size:.decimals$}");
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    format!("{text}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_go_units_prints_them() {
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(30_880), "30.88kB");
        assert_eq!(human_size(1_234_567), "1.235MB");
        assert_eq!(human_size(2_000), "2kB");
        assert_eq!(human_size(0), "0B");
    }
}
