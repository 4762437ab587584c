//! Charts from an OCI registry, as Flux's OCI chart repository: the chart `<name>` of an `oci`
//! HelmRepository with URL `oci://<host>/<path>` lives at `<host>/<path>/<name>`, tagged with
//! its version (`+` written `_`, as `helm push` tags it). A `spec.version` that is itself a
//! version is pulled as that tag without listing; otherwise the tags that are strict semver
//! are matched against the constraint (an exact tag first, the highest match otherwise).
//! The chart is the manifest's Helm chart layer, downloaded within the chart size limit and
//! checked against its digest.
//!
//! Credentials: `spec.secretRef` holds either a `.dockerconfigjson` or `username`/`password`;
//! `spec.certSecretRef` gives `ca.crt`; `spec.insecure` means plain HTTP. Credential helpers
//! are never run.

use driftless_api::conditions::reasons;
use driftless_api::meta::CloudProvider;
use driftless_api::source::HelmRepository;
use driftless_helm::repo::MAX_CHART_SIZE;
use driftless_oci::{Client, ClientOptions, Credential, DockerConfig, ManifestKind, Reference};
use kube::ResourceExt;

use crate::error::ReconcileError;
use crate::helm_repository::client::{DEFAULT_TIMEOUT, basic_auth};
use crate::helm_repository::error::HelmError;
use crate::reconcile::parse_duration;

/// The config media type of a chart pushed by `helm push`.
pub const HELM_CONFIG: &str = driftless_oci::media_types::HELM_CONFIG;
/// The chart layer media type.
pub const HELM_CHART_LAYER: &str = driftless_oci::media_types::HELM_CHART_CONTENT;
/// The layer media type of charts pushed by Helm before 3.7.
pub const LEGACY_CHART_LAYER: &str = "application/tar+gzip";
/// The scheme of OCI repository URLs.
pub const OCI_SCHEME: &str = "oci://";

/// Why a chart could not be resolved or pulled; the caller words the context.
#[derive(Debug, thiserror::Error)]
pub enum OciChartError {
    /// The version cannot be resolved from the registry's tags.
    #[error("{0}")]
    Resolve(String),
    /// The registry could not be asked (transport, authentication).
    #[error("could not get tags for \"{name}\": {detail}")]
    Tags {
        /// The chart name.
        name: String,
        /// What failed.
        detail: String,
    },
    /// The chart could not be downloaded or is not a Helm chart.
    #[error("{0}")]
    Pull(String),
}

/// A resolved chart version in a registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciVersion {
    /// The chart name.
    pub name: String,
    /// The version as resolved (a tag with `_` read as `+`).
    pub version: String,
    /// `oci://<host>/<path>/<name>:<tag>`, as Flux writes the chart URL.
    pub url: String,
    reference: Reference,
}

/// The charts of one OCI repository URL, with that repository's client.
#[derive(Debug)]
pub struct OciCharts {
    client: Client,
    /// `<host>/<path>` without scheme or trailing slash.
    base: String,
}

/// Flux's normalised OCI URL: the path without trailing slashes.
pub fn normalise(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

impl OciCharts {
    /// Anonymous access to `url` (a dependency with no HelmRepository of its URL).
    pub fn anonymous(url: &str) -> Result<OciCharts, HelmError> {
        OciCharts::new(url, ClientOptions::default(), DockerConfig::default())
    }

    fn new(
        url: &str,
        options: ClientOptions,
        config: DockerConfig,
    ) -> Result<OciCharts, HelmError> {
        let base = url
            .strip_prefix(OCI_SCHEME)
            .ok_or_else(|| HelmError::InvalidUrl(format!("'{url}' is not an oci:// URL")))?
            .trim_end_matches('/')
            .to_owned();
        // The base must itself be a valid repository name.
        Reference::parse(&base).map_err(|e| HelmError::InvalidUrl(e.to_string()))?;
        let client = Client::new(options, config).map_err(|e| HelmError::Client(e.to_string()))?;
        Ok(OciCharts { client, base })
    }

    /// The client for an `oci` HelmRepository, reading its Secrets.
    pub async fn for_repository(
        kube: &kube::Client,
        repo: &HelmRepository,
    ) -> Result<OciCharts, HelmError> {
        if !matches!(repo.spec.provider, None | Some(CloudProvider::Generic)) {
            return Err(HelmError::Source(ReconcileError::Unsupported {
                feature: "spec.provider",
                detail: "only the generic provider (spec.secretRef) is implemented for OCI Helm repositories",
                reason: reasons::AUTHENTICATION_FAILED,
            }));
        }
        let namespace = repo.namespace().unwrap_or_default();
        let host = repo
            .spec
            .url
            .strip_prefix(OCI_SCHEME)
            .and_then(|rest| Reference::parse(rest.trim_end_matches('/')).ok())
            .map(|r| r.registry().to_owned())
            .ok_or_else(|| {
                HelmError::InvalidUrl(format!(
                    "invalid OCI registry URL: {}",
                    driftless_helm::repo::url::redact(&repo.spec.url)
                ))
            })?;
        let mut config = DockerConfig::default();
        let mut ca_pem = None;
        if let Some(secret_ref) = &repo.spec.secret_ref {
            let data = crate::credentials::secret_data(kube, &namespace, &secret_ref.name).await?;
            let invalid = |problem: String| {
                HelmError::Source(ReconcileError::InvalidSecret {
                    namespace: namespace.clone(),
                    name: secret_ref.name.clone(),
                    problem,
                })
            };
            if data.contains_key(".dockerconfigjson") {
                config = crate::oci_repository::client::docker_config(&data).map_err(invalid)?;
                for note in config.notes() {
                    tracing::warn!(secret = %format!("{namespace}/{}", secret_ref.name), "{note}");
                }
            } else if let Some((username, password)) = basic_auth(&data).map_err(invalid)? {
                config = DockerConfig::single(&host, Credential::Basic { username, password });
            }
            ca_pem = data.get("ca.crt").map(|v| v.0.clone());
        }
        if let Some(cert_ref) = &repo.spec.cert_secret_ref {
            let data = crate::credentials::secret_data(kube, &namespace, &cert_ref.name).await?;
            if data.contains_key("tls.crt") || data.contains_key("tls.key") {
                return Err(HelmError::Source(ReconcileError::Unsupported {
                    feature: "spec.certSecretRef",
                    detail: "TLS client certificates (tls.crt/tls.key) are not implemented for OCI Helm repositories; only ca.crt is read",
                    reason: reasons::AUTHENTICATION_FAILED,
                }));
            }
            ca_pem = data.get("ca.crt").map(|v| v.0.clone());
        }
        let options = ClientOptions {
            insecure: repo.spec.insecure.unwrap_or(false),
            ca_pem,
            timeout: match repo.spec.timeout.as_deref() {
                Some(value) => parse_duration("spec.timeout", value)?,
                None => DEFAULT_TIMEOUT,
            },
            ..ClientOptions::default()
        };
        OciCharts::new(&repo.spec.url, options, config)
    }

    /// Resolves `name` at `constraint` (empty or `*`: the highest stable version).
    pub async fn resolve(&self, name: &str, constraint: &str) -> Result<OciVersion, OciChartError> {
        let repository = format!("{}/{name}", self.base);
        let unnamed =
            Reference::parse(&repository).map_err(|e| OciChartError::Resolve(e.to_string()))?;
        // A version is pulled as its tag: listing every tag would be wasted work.
        if !constraint.is_empty() && driftless_semver::parse_version(constraint).is_some() {
            return Ok(self.version(name, constraint, &unnamed));
        }
        let tags = self
            .client
            .list_tags(&unnamed)
            .await
            .map_err(|e| OciChartError::Tags {
                name: name.to_owned(),
                detail: e.to_string(),
            })?;
        let versions = chart_tags(&tags);
        if versions.is_empty() {
            return Err(OciChartError::Resolve(format!(
                "unable to locate any tags in provided repository: {name}"
            )));
        }
        let tag = highest_match(&versions, constraint)?;
        Ok(self.version(name, &tag, &unnamed))
    }

    fn version(&self, name: &str, version: &str, unnamed: &Reference) -> OciVersion {
        OciVersion {
            name: name.to_owned(),
            version: version.to_owned(),
            url: format!("{OCI_SCHEME}{}/{name}:{version}", self.base),
            reference: unnamed.with_tag(&version.replace('+', "_")),
        }
    }

    /// Downloads the chart layer of `version`, at most the chart size limit.
    pub async fn pull(&self, version: &OciVersion) -> Result<Vec<u8>, OciChartError> {
        let pull = |e: driftless_oci::OciError| OciChartError::Pull(e.to_string());
        let manifest = self
            .client
            .get_manifest(&version.reference)
            .await
            .map_err(pull)?;
        let ManifestKind::Image(image) = manifest.kind else {
            return Err(OciChartError::Pull(format!(
                "'{}' is an image index, not a Helm chart",
                version.url
            )));
        };
        if image.config.media_type != HELM_CONFIG {
            return Err(OciChartError::Pull(format!(
                "could not load config with mediatype {HELM_CONFIG}"
            )));
        }
        let layer = image
            .layers
            .iter()
            .find(|l| l.media_type == HELM_CHART_LAYER || l.media_type == LEGACY_CHART_LAYER)
            .ok_or_else(|| {
                OciChartError::Pull(format!(
                    "manifest does not contain a layer with mediatype {HELM_CHART_LAYER}"
                ))
            })?;
        if u64::try_from(layer.size).unwrap_or(u64::MAX) > MAX_CHART_SIZE {
            return Err(OciChartError::Pull(format!(
                "chart layer of {} bytes exceeds the maximum chart size of {MAX_CHART_SIZE} bytes",
                layer.size
            )));
        }
        self.client
            .pull_blob_bytes(&version.reference, &layer.digest, MAX_CHART_SIZE)
            .await
            .map_err(pull)
    }
}

/// The tags that are chart versions (strict semver once `_` is read as `+`, as Helm lists
/// them), highest first.
pub fn chart_tags(tags: &[String]) -> Vec<semver::Version> {
    let mut versions: Vec<semver::Version> = tags
        .iter()
        .filter_map(|t| semver::Version::parse(&t.replace('_', "+")).ok())
        .collect();
    versions.sort_by(|a, b| b.cmp(a));
    versions
}

/// An exact tag first, then the highest version matching `constraint` (empty or `*`: any
/// stable version).
pub fn highest_match(
    versions: &[semver::Version],
    constraint: &str,
) -> Result<String, OciChartError> {
    if !constraint.is_empty()
        && let Some(exact) = versions.iter().find(|v| v.to_string() == constraint)
    {
        return Ok(exact.to_string());
    }
    let wanted = if constraint.is_empty() {
        "*"
    } else {
        constraint
    };
    let parsed = driftless_semver::Constraint::parse(wanted)
        .map_err(|e| OciChartError::Resolve(e.to_string()))?;
    versions
        .iter()
        .find(|v| parsed.matches(v))
        .map(ToString::to_string)
        .ok_or_else(|| {
            OciChartError::Resolve(format!(
                "could not locate a version matching provided version string {constraint}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<semver::Version> {
        chart_tags(&list.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn only_strict_semver_tags_are_versions_and_underscores_read_as_plus() {
        let versions = tags(&[
            "latest",
            "v1.0.0",
            "1.2",
            "0.1.0",
            "0.2.0_abc",
            "0.3.0-rc.1",
        ]);
        let names: Vec<String> = versions.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["0.3.0-rc.1", "0.2.0+abc", "0.1.0"]);
    }

    #[test]
    fn the_highest_stable_match_wins_unless_a_tag_is_the_exact_constraint() {
        let versions = tags(&["0.1.0", "0.2.0", "1.0.0", "1.1.0-rc.1"]);
        assert_eq!(highest_match(&versions, "").expect("any"), "1.0.0");
        assert_eq!(highest_match(&versions, "*").expect("any"), "1.0.0");
        assert_eq!(highest_match(&versions, "<1.0.0").expect("lt"), "0.2.0");
        assert_eq!(
            highest_match(&versions, "1.1.0-rc.1").expect("exact"),
            "1.1.0-rc.1"
        );
        let err = highest_match(&versions, ">=2.0.0").expect_err("none");
        assert_eq!(
            err.to_string(),
            "could not locate a version matching provided version string >=2.0.0"
        );
    }

    #[test]
    fn a_repository_url_must_be_oci_and_a_valid_name() {
        assert!(OciCharts::anonymous("oci://127.0.0.1:5000/charts/").is_ok());
        assert!(matches!(
            OciCharts::anonymous("https://example.com/charts"),
            Err(HelmError::InvalidUrl(_))
        ));
    }

    #[tokio::test]
    async fn a_version_constraint_that_is_a_version_is_pulled_without_listing_tags() {
        let charts = OciCharts::anonymous("oci://127.0.0.1:1/charts").expect("client");
        let version = charts
            .resolve("demo", "1.2.3+build")
            .await
            .expect("shortcut");
        assert_eq!(version.url, "oci://127.0.0.1:1/charts/demo:1.2.3+build");
        assert_eq!(version.reference.tag(), Some("1.2.3_build"));
    }
}
