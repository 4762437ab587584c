//! Where artifacts live: Flux's storage layout and file names (source-controller `storage.go`).
//!
//! Every object owns one directory `<kind lowercased>/<namespace>/<name>/` under
//! `--storage-path`; the file names depend on the kind. Consumers must always use the advertised
//! `url`, never rebuild paths, but we keep Flux's names so that `flux` tooling and people
//! inspecting `/data` see what they expect.

use std::path::PathBuf;

/// GitRepository kind name.
pub const KIND_GIT_REPOSITORY: &str = "GitRepository";
/// OCIRepository kind name.
pub const KIND_OCI_REPOSITORY: &str = "OCIRepository";
/// Bucket kind name.
pub const KIND_BUCKET: &str = "Bucket";
/// HelmChart kind name.
pub const KIND_HELM_CHART: &str = "HelmChart";
/// HelmRepository kind name.
pub const KIND_HELM_REPOSITORY: &str = "HelmRepository";

/// Convenience symlink Flux keeps for HelmChart, OCIRepository and Bucket (`status.url`).
pub const LATEST_TAR_GZ: &str = "latest.tar.gz";
/// Convenience symlink Flux keeps for HelmRepository (`status.url`).
pub const INDEX_YAML: &str = "index.yaml";

/// A name that cannot be used as one segment of a storage path.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid {what} '{value}': must be a single non-empty path segment without '/', '\\', NUL or a leading '.'"
)]
pub struct ObjectKeyError {
    /// Which part was invalid: kind, namespace, name or file name.
    pub what: &'static str,
    /// The offending value.
    pub value: String,
}

/// Check that `value` is safe as one directory or file name under the storage root.
///
/// Kubernetes names never start with `.`, so hidden names are reserved for our temp and lock
/// files; refusing them also keeps `..` and `.` out.
pub fn validate_segment(what: &'static str, value: &str) -> Result<(), ObjectKeyError> {
    let bad = value.is_empty() || value.starts_with('.') || value.contains(['/', '\\', '\0']);
    if bad {
        return Err(ObjectKeyError {
            what,
            value: value.to_owned(),
        });
    }
    Ok(())
}

/// The identity of a source object that owns a storage directory.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    kind: String,
    namespace: String,
    name: String,
}

impl ObjectKey {
    /// Key for `kind` (any case; stored lowercased as Flux does), `namespace` and `name`.
    pub fn new(kind: &str, namespace: &str, name: &str) -> Result<Self, ObjectKeyError> {
        let kind = kind.to_ascii_lowercase();
        validate_segment("kind", &kind)?;
        validate_segment("namespace", namespace)?;
        validate_segment("name", name)?;
        Ok(ObjectKey {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }

    /// Lowercased kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Namespace of the object.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Name of the object.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The object's directory relative to the storage root, `/`-separated.
    pub fn dir(&self) -> String {
        format!("{}/{}/{}", self.kind, self.namespace, self.name)
    }

    /// The relative path of `file_name` inside the object's directory (Artifact `path`).
    pub fn artifact_path(&self, file_name: &str) -> Result<String, ObjectKeyError> {
        validate_segment("file name", file_name)?;
        Ok(format!("{}/{}", self.dir(), file_name))
    }

    pub(crate) fn dir_path(&self) -> PathBuf {
        [&self.kind, &self.namespace, &self.name].iter().collect()
    }

    /// The per-object lock file, a hidden sibling of the object directory so that removing the
    /// directory and garbage-collecting inside it never touch the lock being held.
    pub(crate) fn lock_path(&self) -> PathBuf {
        [&self.kind, &self.namespace, &format!(".{}.lock", self.name)]
            .iter()
            .collect()
    }
}

/// GitRepository artifact file: `<commit-hex>.tar.gz`.
pub fn git_repository_file(commit_hex: &str) -> String {
    format!("{commit_hex}.tar.gz")
}

/// Bucket artifact file: `<digest-hex>.tar.gz` (hex of the Bucket revision).
pub fn bucket_file(revision_digest_hex: &str) -> String {
    format!("{revision_digest_hex}.tar.gz")
}

/// OCIRepository artifact file: the text after `@` in the revision (the whole revision when it
/// is digest-only), plus `.tar.gz`. Flux keeps the `sha256:` prefix in the name.
pub fn oci_repository_file(revision: &str) -> String {
    let digest = revision
        .rsplit_once('@')
        .map_or(revision, |(_, digest)| digest);
    format!("{digest}.tar.gz")
}

/// HelmChart artifact file: the packaged chart `<chart-name>-<version>.tgz`.
pub fn helm_chart_file(chart_name: &str, version: &str) -> String {
    format!("{chart_name}-{version}.tgz")
}

/// HelmRepository artifact file: `index-<digest-hex>.yaml` (content is the index as JSON).
pub fn helm_repository_index_file(digest_hex: &str) -> String {
    format!("index-{digest_hex}.yaml")
}

/// The URL consumers fetch `path` from, as Flux's `SetArtifactURL` builds it: `http://<adv>/<path>`,
/// or `<adv>/<path>` when the advertised address already carries an http(s) scheme.
pub fn artifact_url(advertised_address: &str, path: &str) -> String {
    let path = path.trim_start_matches('/');
    if advertised_address.starts_with("http://") || advertised_address.starts_with("https://") {
        format!("{}/{path}", advertised_address.trim_end_matches('/'))
    } else {
        format!("http://{advertised_address}/{path}")
    }
}

/// The address to advertise when `--storage-adv-addr` is empty: `--storage-addr` with an empty
/// host replaced by the pod's hostname, as source-controller's `determineAdvStorageAddr` does.
pub fn default_advertised_address(storage_addr: &str, hostname: &str) -> String {
    match storage_addr.rsplit_once(':') {
        Some(("", port)) => format!("{hostname}:{port}"),
        Some(_) => storage_addr.to_owned(),
        None => format!("{hostname}:{storage_addr}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_directories_use_the_lowercased_kind_then_namespace_then_name() {
        let key = ObjectKey::new(KIND_GIT_REPOSITORY, "flux-system", "podinfo").expect("valid");
        assert_eq!(key.dir(), "gitrepository/flux-system/podinfo");
        assert_eq!(
            key.artifact_path(&git_repository_file("abc123"))
                .expect("valid"),
            "gitrepository/flux-system/podinfo/abc123.tar.gz"
        );
    }

    #[test]
    fn names_that_could_escape_the_storage_root_are_refused() {
        for bad in ["", ".", "..", "a/b", "a\\b", ".hidden", "a\0b"] {
            assert!(
                ObjectKey::new("Bucket", "ns", bad).is_err(),
                "{bad:?} accepted"
            );
        }
        let key = ObjectKey::new("Bucket", "ns", "ok").expect("valid");
        assert!(key.artifact_path("../x").is_err());
    }

    #[test]
    fn file_names_follow_flux_per_kind() {
        assert_eq!(
            oci_repository_file("6.1.6@sha256:abcd"),
            "sha256:abcd.tar.gz"
        );
        assert_eq!(oci_repository_file("sha256:abcd"), "sha256:abcd.tar.gz");
        assert_eq!(helm_chart_file("podinfo", "6.0.3"), "podinfo-6.0.3.tgz");
        assert_eq!(helm_repository_index_file("ff"), "index-ff.yaml");
        assert_eq!(bucket_file("ee"), "ee.tar.gz");
    }

    #[test]
    fn urls_get_an_http_scheme_unless_the_advertised_address_has_one() {
        let adv = "source-controller.flux-system.svc.cluster.local.";
        assert_eq!(
            artifact_url(adv, "gitrepository/ns/n/a.tar.gz"),
            "http://source-controller.flux-system.svc.cluster.local./gitrepository/ns/n/a.tar.gz"
        );
        assert_eq!(
            artifact_url("https://cdn.example/", "b/ns/n/f"),
            "https://cdn.example/b/ns/n/f"
        );
    }

    #[test]
    fn an_empty_storage_host_is_advertised_as_the_hostname() {
        assert_eq!(default_advertised_address(":9090", "pod-1"), "pod-1:9090");
        assert_eq!(
            default_advertised_address("127.0.0.1:9090", "pod-1"),
            "127.0.0.1:9090"
        );
    }
}
