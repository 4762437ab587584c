//! Condition types, reasons and helpers, spelled as Flux spells them.
//!
//! Every Flux kind with a status carries standard `metav1.Condition`s. The type and reason strings
//! are part of the wire contract: `kubectl wait --for=condition=Ready`, the `flux` CLI, kstatus and
//! Flux's dashboards read them, so they are constants here and nowhere else.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Condition types.
pub mod types {
    /// The summary condition every reconciled kind reports.
    pub const READY: &str = "Ready";
    /// Abnormal-true: present (and True) only while a reconciliation is in progress.
    pub const RECONCILING: &str = "Reconciling";
    /// Abnormal-true: the object cannot make progress until its spec changes.
    pub const STALLED: &str = "Stalled";
    /// Kustomization health-check result.
    pub const HEALTHY: &str = "Healthy";

    /// Source: an artifact for the current revision is stored and served.
    pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
    /// Source, abnormal-true: the stored artifact is behind the upstream revision.
    pub const ARTIFACT_OUTDATED: &str = "ArtifactOutdated";
    /// Source: result of signature verification, present only when verification is enabled.
    pub const SOURCE_VERIFIED: &str = "SourceVerified";
    /// Source, abnormal-true: the upstream could not be fetched.
    pub const FETCH_FAILED: &str = "FetchFailed";
    /// Source, abnormal-true: the artifact could not be built (HelmChart packaging and the like).
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// Source, abnormal-true: a filesystem operation on the artifact storage failed.
    pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
    /// GitRepository, abnormal-true: an `include` could not be resolved.
    pub const INCLUDE_UNAVAILABLE: &str = "IncludeUnavailable";

    /// HelmRelease: result of the last install or upgrade.
    pub const RELEASED: &str = "Released";
    /// HelmRelease: result of the last Helm test run.
    pub const TEST_SUCCESS: &str = "TestSuccess";
    /// HelmRelease: result of the last rollback or uninstall remediation.
    pub const REMEDIATED: &str = "Remediated";
    /// HelmRelease: the cluster state differs from the release manifest.
    pub const DRIFTED: &str = "Drifted";
}

/// Condition reasons.
pub mod reasons {
    // Shared by every controller (fluxcd/pkg/apis/meta).
    /// The reconciliation reached the desired state.
    pub const SUCCEEDED: &str = "Succeeded";
    /// The reconciliation failed.
    pub const FAILED: &str = "Failed";
    /// A reconciliation is under way.
    pub const PROGRESSING: &str = "Progressing";
    /// A reconciliation failed and will be retried.
    pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
    /// `spec.suspend` is set.
    pub const SUSPENDED: &str = "Suspended";
    /// A `dependsOn` entry is not Ready yet.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// A path in the spec is invalid or escapes its root.
    pub const INVALID_PATH: &str = "InvalidPath";
    /// A URL in the spec is invalid.
    pub const INVALID_URL: &str = "InvalidURL";
    /// An insecure connection was requested but is not allowed.
    pub const INSECURE_CONNECTIONS_DISALLOWED: &str = "InsecureConnectionsDisallowed";
    /// The URL scheme is not supported.
    pub const UNSUPPORTED_CONNECTION_TYPE: &str = "UnsupportedConnectionType";
    /// Garbage collection of stale objects failed.
    pub const PRUNE_FAILED: &str = "PruneFailed";
    /// The source artifact could not be fetched.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// Building the manifests failed.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// A health check failed or timed out.
    pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
    /// A running health check was cancelled by a newer source revision.
    pub const HEALTH_CHECK_CANCELED: &str = "HealthCheckCanceled";
    /// The reconciliation succeeded (appliers).
    pub const RECONCILIATION_SUCCEEDED: &str = "ReconciliationSucceeded";
    /// The reconciliation failed (appliers).
    pub const RECONCILIATION_FAILED: &str = "ReconciliationFailed";
    /// A CEL expression in the spec does not compile.
    pub const INVALID_CEL_EXPRESSION: &str = "InvalidCELExpression";
    /// The spec uses a feature whose gate is off.
    pub const FEATURE_GATE_DISABLED: &str = "FeatureGateDisabled";
    /// A cross-namespace reference is not allowed.
    pub const ACCESS_DENIED: &str = "AccessDenied";

    // source-controller.
    /// The source URL is invalid.
    pub const URL_INVALID: &str = "URLInvalid";
    /// Credentials are missing or were rejected.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// Signature verification failed.
    pub const VERIFICATION_ERROR: &str = "VerificationError";
    /// Creating a storage directory failed.
    pub const DIRECTORY_CREATION_FAILED: &str = "DirectoryCreationFailed";
    /// A stat on a storage path failed.
    pub const STAT_OPERATION_FAILED: &str = "StatOperationFailed";
    /// A read operation failed.
    pub const READ_OPERATION_FAILED: &str = "ReadOperationFailed";
    /// The storage lock could not be taken.
    pub const ACQUIRE_LOCK_FAILED: &str = "AcquireLockFailed";
    /// Writing the archive failed.
    pub const ARCHIVE_OPERATION_FAILED: &str = "ArchiveOperationFailed";
    /// Updating the `latest` symlink failed.
    pub const SYMLINK_UPDATE_FAILED: &str = "SymlinkUpdateFailed";
    /// The stored artifact already matches the upstream (trace event).
    pub const ARTIFACT_UP_TO_DATE: &str = "ArtifactUpToDate";
    /// A cache operation failed.
    pub const CACHE_OPERATION_FAILED: &str = "CacheOperationFailed";
    /// Patching the object failed.
    pub const PATCH_OPERATION_FAILED: &str = "PatchOperationFailed";
    /// The Bucket STS settings are invalid.
    pub const INVALID_STS_CONFIGURATION: &str = "InvalidSTSConfiguration";
    /// The provider settings are invalid.
    pub const INVALID_PROVIDER_CONFIGURATION: &str = "InvalidProviderConfiguration";
    /// A Git operation succeeded.
    pub const GIT_OPERATION_SUCCEEDED: &str = "GitOperationSucceeded";
    /// A Git operation failed (also image-automation-controller).
    pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
    /// Pulling an OCI artifact failed.
    pub const OCI_ARTIFACT_PULL_FAILED: &str = "OCIArtifactPullFailed";
    /// Extracting or copying an OCI layer failed.
    pub const OCI_ARTIFACT_LAYER_OPERATION_FAILED: &str = "OCIArtifactLayerOperationFailed";
    /// A chart was pulled from a Helm repository.
    pub const CHART_PULL_SUCCEEDED: &str = "ChartPullSucceeded";
    /// A chart was packaged from a Git or Bucket source.
    pub const CHART_PACKAGE_SUCCEEDED: &str = "ChartPackageSucceeded";
    /// Fetching or parsing a Helm repository index failed.
    pub const INDEXATION_FAILED: &str = "IndexationFailed";
    /// A Bucket listing or download succeeded.
    pub const BUCKET_OPERATION_SUCCEEDED: &str = "BucketOperationSucceeded";
    /// A Bucket listing or download failed.
    pub const BUCKET_OPERATION_FAILED: &str = "BucketOperationFailed";
    /// `ArtifactOutdated` reason: the upstream has a new revision.
    pub const NEW_REVISION: &str = "NewRevision";
    /// Event reason when a new artifact is written.
    pub const NEW_ARTIFACT: &str = "NewArtifact";
    /// ExternalArtifact: fetching the artifact failed.
    pub const FETCH_FAILED: &str = "FetchFailed";
    /// ExternalArtifact: a storage operation failed.
    pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
    /// ExternalArtifact: the artifact failed verification.
    pub const VERIFICATION_FAILED: &str = "VerificationFailed";

    // helm-controller.
    /// Helm install succeeded.
    pub const INSTALL_SUCCEEDED: &str = "InstallSucceeded";
    /// Helm install failed.
    pub const INSTALL_FAILED: &str = "InstallFailed";
    /// Helm upgrade succeeded.
    pub const UPGRADE_SUCCEEDED: &str = "UpgradeSucceeded";
    /// Helm upgrade failed.
    pub const UPGRADE_FAILED: &str = "UpgradeFailed";
    /// Helm tests passed.
    pub const TEST_SUCCEEDED: &str = "TestSucceeded";
    /// Helm tests failed.
    pub const TEST_FAILED: &str = "TestFailed";
    /// Helm rollback succeeded.
    pub const ROLLBACK_SUCCEEDED: &str = "RollbackSucceeded";
    /// Helm rollback failed.
    pub const ROLLBACK_FAILED: &str = "RollbackFailed";
    /// Helm uninstall succeeded.
    pub const UNINSTALL_SUCCEEDED: &str = "UninstallSucceeded";
    /// Helm uninstall failed.
    pub const UNINSTALL_FAILED: &str = "UninstallFailed";
    /// The Helm configuration could not be initialised.
    pub const INIT_FAILED: &str = "InitFailed";
    /// The last release could not be read from storage.
    pub const GET_LAST_RELEASE_FAILED: &str = "GetLastReleaseFailed";
    /// The cluster differs from the release manifest.
    pub const DRIFT_DETECTED: &str = "DriftDetected";
    /// The cluster matches the release manifest.
    pub const NO_DRIFT_DETECTED: &str = "NoDriftDetected";
    /// Install or upgrade retries are exhausted (Stalled).
    pub const RETRIES_EXCEEDED: &str = "RetriesExceeded";

    // notification-controller.
    /// Receiver: the token Secret is missing or lacks the `token` key.
    pub const TOKEN_NOT_FOUND: &str = "TokenNotFound";
    /// Receiver: the spec failed validation.
    pub const VALIDATION_FAILED: &str = "ValidationFailed";
    /// Receiver: the webhook path is published.
    pub const INITIALIZED: &str = "Initialized";

    // image-reflector-controller and image-automation-controller.
    /// ImageRepository: the image reference is invalid.
    pub const IMAGE_URL_INVALID: &str = "ImageURLInvalid";
    /// ImagePolicy: no tag could be selected.
    pub const FAILURE: &str = "Failure";
    /// ImagePolicy: digest reflection `Always` needs `spec.interval`.
    pub const INTERVAL_NOT_CONFIGURED: &str = "IntervalNotConfigured";
    /// ImageUpdateAutomation: rewriting the files failed.
    pub const UPDATE_FAILED: &str = "UpdateFailed";
    /// ImageUpdateAutomation: the GitRepository cannot be used.
    pub const INVALID_SOURCE_CONFIGURATION: &str = "InvalidSourceConfiguration";
    /// ImageUpdateAutomation: `policySelector` is invalid.
    pub const INVALID_POLICY_SELECTOR: &str = "InvalidPolicySelector";
    /// ImageUpdateAutomation: the update strategy is not supported.
    pub const INVALID_UPDATE_STRATEGY: &str = "InvalidUpdateStrategy";
    /// ImageUpdateAutomation: the Git source manager could not be set up.
    pub const SOURCE_MANAGER_FAILED: &str = "SourceManagerFailed";
    /// ImageUpdateAutomation: the commit template uses the removed `.Updated` field.
    pub const REMOVED_TEMPLATE_FIELD: &str = "RemovedTemplateField";
}

/// Condition status values.
pub mod status {
    /// The condition holds.
    pub const TRUE: &str = "True";
    /// The condition does not hold.
    pub const FALSE: &str = "False";
    /// The controller cannot tell (yet).
    pub const UNKNOWN: &str = "Unknown";
}

/// Status types that carry `status.conditions`.
pub trait HasConditions {
    /// The current conditions, empty when none are set.
    fn conditions(&self) -> &[Condition];
    /// The conditions for editing; creates the list when it is absent.
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
}

/// Implements [`HasConditions`] for status structs with `conditions: Option<Vec<Condition>>`.
macro_rules! impl_has_conditions {
    ($($status:ty),+ $(,)?) => {$(
        impl $crate::conditions::HasConditions for $status {
            fn conditions(&self) -> &[::k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
                self.conditions.as_deref().unwrap_or_default()
            }
            fn conditions_mut(
                &mut self,
            ) -> &mut Vec<::k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
                self.conditions.get_or_insert_with(Vec::new)
            }
        }
    )+};
}
pub(crate) use impl_has_conditions;

/// Builds a condition; `now` becomes its `lastTransitionTime`.
pub fn new(
    type_: &str,
    status: &str,
    reason: &str,
    message: impl Into<String>,
    observed_generation: Option<i64>,
    now: Time,
) -> Condition {
    Condition {
        last_transition_time: now,
        message: message.into(),
        observed_generation,
        reason: reason.to_owned(),
        status: status.to_owned(),
        type_: type_.to_owned(),
    }
}

/// The condition of the given type, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of the given type is present with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == status::TRUE)
}

/// Whether the object is Ready (`Ready=True`).
pub fn is_ready(conditions: &[Condition]) -> bool {
    is_true(conditions, types::READY)
}

/// Adds or updates a condition the way Kubernetes' `meta.SetStatusCondition` does: the
/// `lastTransitionTime` of an existing condition only moves when its status changes.
/// Returns whether anything changed.
pub fn set(conditions: &mut Vec<Condition>, condition: Condition) -> bool {
    let Some(existing) = conditions.iter_mut().find(|c| c.type_ == condition.type_) else {
        conditions.push(condition);
        return true;
    };
    if existing.status != condition.status {
        *existing = condition;
        return true;
    }
    let changed = existing.reason != condition.reason
        || existing.message != condition.message
        || existing.observed_generation != condition.observed_generation;
    existing.reason = condition.reason;
    existing.message = condition.message;
    existing.observed_generation = condition.observed_generation;
    changed
}

/// Removes the condition of the given type; returns whether it was present.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    conditions.len() != before
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).expect("small timestamps are in range"))
    }

    fn ready(status_: &str, reason: &str, message: &str, seconds: i64) -> Condition {
        new(types::READY, status_, reason, message, Some(1), at(seconds))
    }

    #[test]
    fn setting_a_new_condition_appends_it() {
        let mut conditions = Vec::new();
        assert!(set(
            &mut conditions,
            ready(status::TRUE, reasons::SUCCEEDED, "ok", 10)
        ));
        assert_eq!(conditions.len(), 1);
        assert!(is_ready(&conditions));
    }

    #[test]
    fn same_status_keeps_the_transition_time_but_takes_the_new_message() {
        let mut conditions = vec![ready(status::FALSE, reasons::FAILED, "first", 10)];
        assert!(set(
            &mut conditions,
            ready(status::FALSE, reasons::BUILD_FAILED, "second", 20)
        ));
        let c = find(&conditions, types::READY).expect("Ready is set");
        assert_eq!(c.last_transition_time, at(10));
        assert_eq!(c.reason, reasons::BUILD_FAILED);
        assert_eq!(c.message, "second");
    }

    #[test]
    fn a_status_change_moves_the_transition_time() {
        let mut conditions = vec![ready(status::FALSE, reasons::FAILED, "no", 10)];
        assert!(set(
            &mut conditions,
            ready(status::TRUE, reasons::SUCCEEDED, "yes", 20)
        ));
        let c = find(&conditions, types::READY).expect("Ready is set");
        assert_eq!(c.last_transition_time, at(20));
        assert!(is_ready(&conditions));
    }

    #[test]
    fn setting_an_identical_condition_reports_no_change() {
        let mut conditions = vec![ready(status::TRUE, reasons::SUCCEEDED, "ok", 10)];
        assert!(!set(
            &mut conditions,
            ready(status::TRUE, reasons::SUCCEEDED, "ok", 30)
        ));
        assert_eq!(conditions[0].last_transition_time, at(10));
    }

    #[test]
    fn remove_drops_only_the_named_type() {
        let mut conditions = vec![
            ready(status::TRUE, reasons::SUCCEEDED, "ok", 10),
            new(
                types::RECONCILING,
                status::TRUE,
                reasons::PROGRESSING,
                "",
                None,
                at(10),
            ),
        ];
        assert!(remove(&mut conditions, types::RECONCILING));
        assert!(!remove(&mut conditions, types::RECONCILING));
        assert_eq!(conditions.len(), 1);
        assert!(!is_true(&conditions, types::RECONCILING));
    }

    #[test]
    fn unknown_ready_is_not_ready() {
        let conditions = vec![ready(status::UNKNOWN, reasons::PROGRESSING, "", 10)];
        assert!(!is_ready(&conditions));
        assert!(!is_ready(&[]));
    }
}
