//! Helm HTTP chart repositories, without Kubernetes: the `index.yaml` a repository serves
//! ([`index`]: parse within Flux's size limit, drop invalid versions, sort, re-serialise),
//! picking a chart version by a semver constraint as Flux's source-controller does
//! ([`select`]), the URLs involved ([`url`]: index location, relative chart URLs, which hosts
//! get the credentials), the downloaded chart's digest ([`select::verify_digest`]), and
//! rebuilding a packaged chart with `valuesFiles` merged into its `values.yaml` ([`package`]).

pub mod index;
pub mod package;
pub mod select;
pub mod url;

pub use index::{ChartVersion, Index};
pub use package::{Packaged, merge_values, merge_values_files, repackage};
pub use select::verify_digest;

/// Flux's `--helm-index-max-size` default: 50 MiB.
pub const MAX_INDEX_SIZE: u64 = 50 << 20;
/// Flux's `--helm-chart-max-size` default: 10 MiB (the packaged chart).
pub const MAX_CHART_SIZE: u64 = crate::archive::MAX_CHART_SIZE;

/// Why a repository index, a chart lookup or a chart rebuild failed. Messages follow Helm's
/// and Flux's wording where users compare them.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The index is larger than the limit.
    #[error("index exceeds the maximum allowed size of {limit} bytes")]
    IndexTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The index does not parse as YAML/JSON of the index shape.
    #[error("failed to load index: {0}")]
    IndexParse(String),
    /// The index has no `apiVersion` (Helm's `ErrNoAPIVersion`).
    #[error("no API version specified")]
    NoApiVersion,
    /// The chart is not in the index (Helm's `ErrNoChartName`).
    #[error("no chart name found")]
    NoChartName,
    /// The chart has no versions (Helm's `ErrNoChartVersion`).
    #[error("no chart version found")]
    NoChartVersion,
    /// `spec.version` is not a semver constraint.
    #[error("{0}")]
    InvalidConstraint(#[from] driftless_semver::InvalidConstraint),
    /// No version satisfies the constraint.
    #[error("no '{name}' chart with version matching '{constraint}' found")]
    NoMatch {
        /// The chart name.
        name: String,
        /// The constraint as written.
        constraint: String,
    },
    /// The chart version has no download URL.
    #[error("chart '{name}' version '{version}' has no downloadable URLs")]
    NoUrls {
        /// The chart name.
        name: String,
        /// The version.
        version: String,
    },
    /// A URL does not parse.
    #[error("invalid URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL (without credentials).
        url: String,
        /// The parse error.
        reason: String,
    },
    /// The downloaded chart's digest is not the one the index gives.
    #[error(
        "chart digest mismatch: the index gives sha256:{expected}, the download is sha256:{actual}"
    )]
    DigestMismatch {
        /// Hex digest from the index.
        expected: String,
        /// Hex digest of the download.
        actual: String,
    },
    /// The index's digest is not a sha256 hex string.
    #[error("invalid chart digest '{0}' in index")]
    InvalidDigest(String),
    /// A values file listed in `valuesFiles` is not in the chart.
    #[error("no values file found at path '{0}'")]
    MissingValuesFile(String),
    /// A values file does not parse.
    #[error("unmarshaling values from '{file}' failed: {message}")]
    ValuesParse {
        /// The file path.
        file: String,
        /// The parse error.
        message: String,
    },
    /// The packaged chart could not be read or written.
    #[error(transparent)]
    Chart(#[from] crate::Error),
    /// Writing the rebuilt archive failed.
    #[error("failed to package chart: {0}")]
    Package(String),
}
