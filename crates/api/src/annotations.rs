//! Annotation, label and finalizer keys that Flux objects and the objects Flux applies carry.

/// Any value different from `status.lastHandledReconcileAt` asks for an immediate reconcile.
pub const RECONCILE_REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
/// HelmRelease: force a one-off install or upgrade; honoured only when equal to `requestedAt`.
pub const RECONCILE_FORCE_AT: &str = "reconcile.fluxcd.io/forceAt";
/// HelmRelease: reset the failure counters; honoured only when equal to `requestedAt`.
pub const RECONCILE_RESET_AT: &str = "reconcile.fluxcd.io/resetAt";

/// Label on ConfigMaps and Secrets whose changes trigger the objects that reference them.
pub const RECONCILE_WATCH_LABEL: &str = "reconcile.fluxcd.io/watch";
/// The value of [`RECONCILE_WATCH_LABEL`] selected by default.
pub const RECONCILE_WATCH_ENABLED: &str = "Enabled";

/// Label or annotation on an applied object; `disabled` leaves the object alone.
pub const KUSTOMIZE_RECONCILE: &str = "kustomize.toolkit.fluxcd.io/reconcile";
/// Server-side apply policy of an applied object: `Override`, `Merge`, `IfNotPresent`, `Ignore`.
pub const KUSTOMIZE_SSA: &str = "kustomize.toolkit.fluxcd.io/ssa";
/// `disabled` keeps an applied object out of garbage collection.
pub const KUSTOMIZE_PRUNE: &str = "kustomize.toolkit.fluxcd.io/prune";
/// `enabled` recreates an applied object when an immutable field changes.
pub const KUSTOMIZE_FORCE: &str = "kustomize.toolkit.fluxcd.io/force";
/// `disabled` skips post-build variable substitution for one object.
pub const KUSTOMIZE_SUBSTITUTE: &str = "kustomize.toolkit.fluxcd.io/substitute";
/// `Disabled` (any case) skips SOPS decryption for one object.
pub const KUSTOMIZE_DECRYPT: &str = "kustomize.toolkit.fluxcd.io/decrypt";
/// Ownership label: name of the Kustomization that applied the object.
pub const KUSTOMIZE_NAME: &str = "kustomize.toolkit.fluxcd.io/name";
/// Ownership label: namespace of the Kustomization that applied the object.
pub const KUSTOMIZE_NAMESPACE: &str = "kustomize.toolkit.fluxcd.io/namespace";

/// Ownership label: name of the HelmRelease that rendered the object.
pub const HELM_NAME: &str = "helm.toolkit.fluxcd.io/name";
/// Ownership label: namespace of the HelmRelease that rendered the object.
pub const HELM_NAMESPACE: &str = "helm.toolkit.fluxcd.io/namespace";
/// `disabled` excludes a rendered object from drift detection.
pub const HELM_DRIFT_DETECTION: &str = "helm.toolkit.fluxcd.io/driftDetection";

/// Prefix of object annotations copied into the metadata of every event about the object.
pub const EVENT_METADATA_PREFIX: &str = "event.toolkit.fluxcd.io/";
/// Annotation the `flux` CLI puts on Receiver token Secrets.
pub const NOTIFICATION_WEBHOOK: &str = "notification.toolkit.fluxcd.io/webhook";

/// Label every Flux install object carries; the `flux` CLI discovers the install with it.
pub const PART_OF: &str = "app.kubernetes.io/part-of";
/// The value of [`PART_OF`].
pub const PART_OF_FLUX: &str = "flux";
/// Label naming the controller an install object belongs to.
pub const COMPONENT: &str = "app.kubernetes.io/component";
/// Label with the namespace Flux is installed in.
pub const INSTANCE: &str = "app.kubernetes.io/instance";
/// Label with the installed Flux version.
pub const VERSION: &str = "app.kubernetes.io/version";

/// Value that turns a feature annotation off (`reconcile`, `prune`, `substitute`…).
pub const DISABLED: &str = "disabled";
/// Value that turns a feature annotation on (`force`).
pub const ENABLED: &str = "enabled";

/// The finalizer every Flux controller puts on the objects it reconciles.
pub const FINALIZER: &str = "finalizers.fluxcd.io";
