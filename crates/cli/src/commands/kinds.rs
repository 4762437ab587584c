//! The Flux kinds the user commands know: where each is served, what flux calls it in messages,
//! and where its revision is read.

use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use serde_json::Value;

use super::cluster::{ClusterError, is_not_found};

/// One Flux kind at the version the flux CLI reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FluxKind {
    pub kind: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    /// How flux names the kind in `suspend`/`resume`/`delete` lines ("source git").
    pub human: &'static str,
}

const SOURCE: &str = "source.toolkit.fluxcd.io";

pub const GIT_REPOSITORY: FluxKind = kind(SOURCE, "v1", "GitRepository", "source git");
pub const OCI_REPOSITORY: FluxKind = kind(SOURCE, "v1", "OCIRepository", "source oci");
pub const BUCKET: FluxKind = kind(SOURCE, "v1", "Bucket", "source bucket");
pub const HELM_REPOSITORY: FluxKind = kind(SOURCE, "v1", "HelmRepository", "source helm");
pub const HELM_CHART: FluxKind = kind(SOURCE, "v1", "HelmChart", "source chart");
pub const EXTERNAL_ARTIFACT: FluxKind =
    kind(SOURCE, "v1", "ExternalArtifact", "source external-artifact");
pub const KUSTOMIZATION: FluxKind = kind(
    "kustomize.toolkit.fluxcd.io",
    "v1",
    "Kustomization",
    "kustomization",
);
pub const HELM_RELEASE: FluxKind =
    kind("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmrelease");

const NOTIFICATION: &str = "notification.toolkit.fluxcd.io";
pub const RECEIVER: FluxKind = kind(NOTIFICATION, "v1", "Receiver", "receiver");
pub const PROVIDER: FluxKind = kind(NOTIFICATION, "v1beta3", "Provider", "alert provider");
pub const ALERT: FluxKind = kind(NOTIFICATION, "v1beta3", "Alert", "alert");

/// Sources in the order `flux get sources all` lists them.
pub const SOURCES: [FluxKind; 6] = [
    OCI_REPOSITORY,
    BUCKET,
    GIT_REPOSITORY,
    HELM_REPOSITORY,
    HELM_CHART,
    EXTERNAL_ARTIFACT,
];

/// Every kind the commands handle.
pub const ALL: [FluxKind; 11] = [
    GIT_REPOSITORY,
    OCI_REPOSITORY,
    BUCKET,
    HELM_REPOSITORY,
    HELM_CHART,
    EXTERNAL_ARTIFACT,
    KUSTOMIZATION,
    HELM_RELEASE,
    RECEIVER,
    PROVIDER,
    ALERT,
];

const fn kind(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    human: &'static str,
) -> FluxKind {
    FluxKind {
        kind,
        group,
        version,
        plural: plural(kind),
        human,
    }
}

const fn plural(kind: &str) -> &'static str {
    // A const table: the plurals are Flux's CRD names, not derived by rule.
    match kind.as_bytes() {
        b"GitRepository" => "gitrepositories",
        b"OCIRepository" => "ocirepositories",
        b"Bucket" => "buckets",
        b"HelmRepository" => "helmrepositories",
        b"HelmChart" => "helmcharts",
        b"ExternalArtifact" => "externalartifacts",
        b"Kustomization" => "kustomizations",
        b"HelmRelease" => "helmreleases",
        b"Receiver" => "receivers",
        b"Provider" => "providers",
        b"Alert" => "alerts",
        _ => "",
    }
}

impl FluxKind {
    /// The kind by its name (`Kustomization`), any case.
    pub fn by_name(name: &str) -> Option<Self> {
        ALL.into_iter().find(|k| k.kind.eq_ignore_ascii_case(name))
    }

    /// `kustomizations.kustomize.toolkit.fluxcd.io`.
    pub fn crd_name(&self) -> String {
        format!("{}.{}", self.plural, self.group)
    }

    /// `group/version`.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    /// The dynamic resource for kube's `Api`.
    pub fn resource(&self) -> ApiResource {
        let mut resource =
            ApiResource::from_gvk(&GroupVersionKind::gvk(self.group, self.version, self.kind));
        resource.plural = self.plural.to_owned();
        resource
    }

    /// The kind's objects in `namespace`, or in every namespace.
    pub fn api(&self, client: &kube::Client, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &self.resource()),
            None => Api::all_with(client.clone(), &self.resource()),
        }
    }

    /// The revision flux shows for an object of this kind: a source's artifact revision, a
    /// Kustomization's last applied revision, a HelmRelease's chart version (or its last
    /// attempted revision before any release).
    pub fn revision(&self, object: &Value) -> String {
        let pointer = |p: &str| {
            object
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        match self.kind {
            "Kustomization" => pointer("/status/lastAppliedRevision"),
            "HelmRelease" => {
                let chart = pointer("/status/history/0/chartVersion");
                if chart.is_empty() {
                    pointer("/status/lastAttemptedRevision")
                } else {
                    chart
                }
            }
            _ => pointer("/status/artifact/revision"),
        }
    }

    /// What flux prints when a reconcile of this kind succeeded.
    pub fn success_message(&self, object: &Value) -> String {
        let revision = self.revision(object);
        match self.kind {
            "Kustomization" => format!("applied revision {revision}"),
            "HelmRelease" => format!("applied revision {revision}"),
            _ => format!("fetched revision {revision}"),
        }
    }

    /// Turns the 404 of a request on this kind into "CRD missing" or "object not found",
    /// whichever it is, by asking for the CRD.
    pub async fn not_found(
        &self,
        client: &kube::Client,
        name: &str,
        namespace: &str,
    ) -> ClusterError {
        if !self.is_served(client).await {
            return self.crd_missing();
        }
        ClusterError::NotFound {
            kind: self.kind.to_owned(),
            name: name.to_owned(),
            namespace: namespace.to_owned(),
        }
    }

    /// Whether the API server knows this kind (its CRD is installed and established).
    pub async fn is_served(&self, client: &kube::Client) -> bool {
        let api = self.api(client, None);
        match api.list(&kube::api::ListParams::default().limit(1)).await {
            Ok(_) => true,
            Err(e) => !is_not_found(&e),
        }
    }

    /// The "CRD missing" error of this kind.
    pub fn crd_missing(&self) -> ClusterError {
        ClusterError::CrdMissing {
            kind: self.kind.to_owned(),
            crd: self.crd_name(),
        }
    }

    /// Maps an error of a request about `name` to the error the user should see.
    pub async fn explain(
        &self,
        client: &kube::Client,
        name: &str,
        namespace: &str,
        what: &str,
        error: kube::Error,
    ) -> ClusterError {
        if is_not_found(&error) {
            self.not_found(client, name, namespace).await
        } else {
            ClusterError::api(what, error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_names_its_crd_as_flux_does() {
        for kind in ALL {
            assert!(!kind.plural.is_empty(), "{}", kind.kind);
        }
        assert_eq!(
            KUSTOMIZATION.crd_name(),
            "kustomizations.kustomize.toolkit.fluxcd.io"
        );
        assert_eq!(HELM_RELEASE.api_version(), "helm.toolkit.fluxcd.io/v2");
    }

    #[test]
    fn a_helm_release_shows_its_chart_version_before_its_attempted_revision() {
        let released = json!({"status": {"history": [{"chartVersion": "6.3.5"}], "lastAttemptedRevision": "6.3.4"}});
        assert_eq!(HELM_RELEASE.revision(&released), "6.3.5");
        let attempted = json!({"status": {"lastAttemptedRevision": "6.3.4"}});
        assert_eq!(HELM_RELEASE.revision(&attempted), "6.3.4");
    }

    #[test]
    fn kinds_are_found_by_name_in_any_case() {
        assert_eq!(FluxKind::by_name("gitrepository"), Some(GIT_REPOSITORY));
        assert_eq!(FluxKind::by_name("Deployment"), None);
    }
}
