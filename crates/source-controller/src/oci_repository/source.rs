//! Flux's `reconcileSource` for an OCIRepository: validate `spec.url`, pick the reference
//! (`ref.digest` over `ref.semver` (with `semverFilter`) over `ref.tag`, else `latest`), read its
//! manifest digest as the revision (`<tag>@sha256:<hex>`, or the bare digest for `ref.digest`),
//! and unless the stored artifact already has that revision, download the selected layer,
//! verified against its digest, then extract it or keep it as is (`layerSelector.operation`).

use std::collections::BTreeMap;

use driftless_api::conditions::{reasons, types};
use driftless_api::source::{OCILayerOperation, OCIRepository, OCIRepositoryStatus};
use driftless_artifact::extract::DEFAULT_MAX_UNTAR_SIZE;
use driftless_artifact::{ExtractLimits, extract_tar_gz};
use driftless_oci::{Client, Descriptor, ImageManifest, ManifestKind, Reference};
use driftless_runtime::draft::StatusDraft;
use driftless_semver::{Constraint, Version, parse_version};

use super::client::{check_supported, client_for};
use super::error::OciRepositoryError;

/// The scheme `spec.url` must carry.
pub const OCI_PREFIX: &str = "oci://";

/// What the source step produced.
#[derive(Debug)]
pub enum Fetched {
    /// The stored artifact already has the upstream revision and was built with this spec.
    Unchanged {
        /// That revision.
        revision: String,
    },
    /// The layer's content is in `dir`, to be archived.
    Extracted {
        /// `<tag>@<digest>` or `<digest>`.
        revision: String,
        /// The manifest annotations, for `status.artifact.metadata`.
        annotations: BTreeMap<String, String>,
        /// The extracted tree; removed when dropped.
        dir: tempfile::TempDir,
    },
    /// The layer as downloaded, to be stored as is.
    Copied {
        /// `<tag>@<digest>` or `<digest>`.
        revision: String,
        /// The manifest annotations.
        annotations: BTreeMap<String, String>,
        /// The verified layer bytes, positioned at the start.
        file: std::fs::File,
    },
}

impl Fetched {
    /// The revision.
    pub fn revision(&self) -> &str {
        match self {
            Fetched::Unchanged { revision }
            | Fetched::Extracted { revision, .. }
            | Fetched::Copied { revision, .. } => revision,
        }
    }
}

/// Whether the spec fields that shape the artifact differ from those that built the current one
/// (Flux's `ociContentConfigChanged`).
pub fn content_config_changed(repo: &OCIRepository, status: &OCIRepositoryStatus) -> bool {
    repo.spec.ignore != status.observed_ignore
        || repo.spec.layer_selector != status.observed_layer_selector
}

/// `spec.url` as a repository reference: `oci://` required, no tag, no digest.
pub fn repository(url: &str) -> Result<Reference, String> {
    let Some(rest) = url.strip_prefix(OCI_PREFIX) else {
        return Err("URL must be in format 'oci://<domain>/<org>/<repo>'".to_owned());
    };
    let reference = Reference::parse(rest).map_err(|e| e.to_string())?;
    if let Some(tag) = reference.tag() {
        return Err(format!("URL must not contain a tag; remove ':{tag}'"));
    }
    if let Some(digest) = reference.digest() {
        return Err(format!("URL must not contain a digest; remove '@{digest}'"));
    }
    Ok(reference)
}

/// Flux's `reconcileSource`. `status.artifact` is the stored artifact, if any.
pub async fn reconcile_source(
    kube: &kube::Client,
    repo: &OCIRepository,
    status: &OCIRepositoryStatus,
    draft: &mut StatusDraft,
) -> Result<Fetched, OciRepositoryError> {
    if repo.spec.verify.is_none() {
        draft.delete(types::SOURCE_VERIFIED);
    }
    check_supported(repo)?;
    let client = client_for(kube, repo).await?;
    let url = &repo.spec.url;
    let repository = repository(url).map_err(|detail| OciRepositoryError::InvalidUrl {
        url: url.clone(),
        detail,
    })?;
    // spec.timeout bounds the registry work as a whole (tags, digest, manifest, layer), as
    // Flux's context deadline does, not only each request.
    let timeout = client.options().timeout;
    match tokio::time::timeout(timeout, fetch(&client, repo, &repository, status, draft)).await {
        Ok(result) => result,
        Err(_) => Err(OciRepositoryError::Timeout {
            url: url.clone(),
            after: timeout,
        }),
    }
}

/// Everything `reconcile_source` asks of the registry, once the client and URL are known.
async fn fetch(
    client: &Client,
    repo: &OCIRepository,
    repository: &Reference,
    status: &OCIRepositoryStatus,
    draft: &mut StatusDraft,
) -> Result<Fetched, OciRepositoryError> {
    let url = &repo.spec.url;
    let reference = artifact_reference(client, repo, repository).await?;
    let digest = client
        .resolve_digest(&reference)
        .await
        .map_err(|source| OciRepositoryError::Digest { source })?;
    let revision = match (reference.digest(), reference.tag()) {
        (Some(pinned), _) => pinned.to_owned(),
        (None, Some(tag)) => format!("{tag}@{digest}"),
        (None, None) => format!("latest@{digest}"),
    };
    let stored = status.artifact.as_ref().map(|a| a.revision.as_str());
    if stored != Some(revision.as_str()) {
        let message = format!("new revision '{revision}' for '{reference}'");
        if stored.is_some() {
            draft.mark_true(types::ARTIFACT_OUTDATED, reasons::NEW_REVISION, &message);
        }
        draft.progressing(format!("building artifact: {message}"));
    } else if !content_config_changed(repo, status) {
        draft.delete(types::FETCH_FAILED);
        return Ok(Fetched::Unchanged { revision });
    }

    let pinned = reference.with_digest(&digest);
    let pull = |source| OciRepositoryError::Pull {
        url: url.clone(),
        source,
    };
    let manifest = image_manifest(client, &pinned).await.map_err(pull)?;
    let layer = select_layer(repo, &manifest)?;
    let file = download(client, &pinned, layer).await?;
    let annotations = manifest.annotations;
    let operation = repo
        .spec
        .layer_selector
        .as_ref()
        .and_then(|s| s.operation)
        .unwrap_or_default();
    let fetched = match operation {
        OCILayerOperation::Copy => Fetched::Copied {
            revision,
            annotations,
            file,
        },
        OCILayerOperation::Extract => Fetched::Extracted {
            revision,
            annotations,
            dir: extract(file).await?,
        },
    };
    draft.delete(types::FETCH_FAILED);
    Ok(fetched)
}

/// The reference to pull, by Flux's precedence: digest, semver, tag, `latest`.
async fn artifact_reference(
    client: &Client,
    repo: &OCIRepository,
    repository: &Reference,
) -> Result<Reference, OciRepositoryError> {
    let Some(r) = &repo.spec.reference else {
        return Ok(repository.with_tag("latest"));
    };
    if let Some(digest) = r.digest.as_deref().filter(|d| !d.is_empty()) {
        return Ok(repository.with_digest(digest));
    }
    if let Some(semver) = r.semver.as_deref().filter(|s| !s.is_empty()) {
        let tag_error = |detail: String| OciRepositoryError::Tag {
            url: repo.spec.url.clone(),
            detail,
        };
        let tags = client
            .list_tags(repository)
            .await
            .map_err(|e| tag_error(e.to_string()))?;
        let tag = latest_matching(&tags, semver, r.semver_filter.as_deref()).map_err(tag_error)?;
        return Ok(repository.with_tag(&tag));
    }
    if let Some(tag) = r.tag.as_deref().filter(|t| !t.is_empty()) {
        return Ok(repository.with_tag(tag));
    }
    Ok(repository.with_tag("latest"))
}

/// The highest tag that parses as a version and satisfies `constraint`, among the tags that
/// match `filter` (a regular expression, unanchored as Go's `MatchString`). The tag is
/// returned as written (`v1.2.3` stays `v1.2.3`).
pub fn latest_matching(
    tags: &[String],
    constraint: &str,
    filter: Option<&str>,
) -> Result<String, String> {
    let filter = match filter.filter(|f| !f.is_empty()) {
        Some(pattern) => Some(
            regex::Regex::new(pattern)
                .map_err(|e| format!("semverFilter '{pattern}' parse error: {e}"))?,
        ),
        None => None,
    };
    let parsed = Constraint::parse(constraint)
        .map_err(|e| format!("semver '{constraint}' parse error: {}", e.reason))?;
    let mut best: Option<(Version, &String)> = None;
    for tag in tags {
        if filter.as_ref().is_some_and(|f| !f.is_match(tag)) {
            continue;
        }
        let Some(version) = parse_version(tag) else {
            continue;
        };
        if !parsed.matches(&version) {
            continue;
        }
        let better = best
            .as_ref()
            .is_none_or(|(b, _)| version.cmp_precedence(b).is_gt());
        if better {
            best = Some((version, tag));
        }
    }
    best.map(|(_, tag)| tag.clone())
        .ok_or_else(|| format!("no match found for semver: {constraint}"))
}

/// The image manifest at `reference`; an index resolves to its linux/amd64 entry, the
/// platform go-containerregistry picks by default.
async fn image_manifest(
    client: &Client,
    reference: &Reference,
) -> Result<ImageManifest, driftless_oci::OciError> {
    let manifest = client.get_manifest(reference).await?;
    match manifest.kind {
        ManifestKind::Image(image) => Ok(image),
        ManifestKind::Index(index) => {
            let Some(entry) = index.for_platform("linux", "amd64") else {
                return Err(driftless_oci::OciError::Invalid {
                    what: "image index",
                    url: reference.to_string(),
                    reason: "no manifest for platform linux/amd64".to_owned(),
                });
            };
            let inner = client
                .get_manifest(&reference.with_digest(&entry.digest))
                .await?;
            match inner.kind {
                ManifestKind::Image(image) => Ok(image),
                ManifestKind::Index(_) => Err(driftless_oci::OciError::Invalid {
                    what: "image index",
                    url: reference.to_string(),
                    reason: "an index nested in an index".to_owned(),
                }),
            }
        }
    }
}

/// Flux's `selectLayer`: the first layer, or the first of `layerSelector.mediaType`.
pub fn select_layer<'m>(
    repo: &OCIRepository,
    manifest: &'m ImageManifest,
) -> Result<&'m Descriptor, OciRepositoryError> {
    let layer_error = |detail: String| OciRepositoryError::Layer { detail };
    if manifest.layers.is_empty() {
        return Err(layer_error("no layers found in artifact".to_owned()));
    }
    let media_type = repo
        .spec
        .layer_selector
        .as_ref()
        .and_then(|s| s.media_type.as_deref())
        .filter(|m| !m.is_empty());
    match media_type {
        None => Ok(&manifest.layers[0]),
        Some(wanted) => manifest
            .layers
            .iter()
            .find(|l| l.media_type == wanted)
            .ok_or_else(|| {
                layer_error(format!(
                    "failed to find layer with media type '{wanted}' in artifact"
                ))
            }),
    }
}

/// The layer, verified and bounded, in an anonymous temp file positioned at its start.
async fn download(
    client: &Client,
    reference: &Reference,
    layer: &Descriptor,
) -> Result<std::fs::File, OciRepositoryError> {
    let layer_error = |detail: String| OciRepositoryError::Layer { detail };
    let std_file = tempfile::tempfile()
        .map_err(|e| layer_error(format!("failed to create file to copy layer to: {e}")))?;
    let clone = std_file
        .try_clone()
        .map_err(|e| layer_error(format!("failed to create file to copy layer to: {e}")))?;
    let mut file = tokio::fs::File::from_std(clone);
    client
        .pull_blob(reference, &layer.digest, DEFAULT_MAX_UNTAR_SIZE, &mut file)
        .await
        .map_err(|source| OciRepositoryError::Pull {
            url: format!("{OCI_PREFIX}{}", reference.name()),
            source,
        })?;
    drop(file);
    let mut std_file = std_file;
    std::io::Seek::rewind(&mut std_file)
        .map_err(|e| layer_error(format!("failed to copy layer from artifact: {e}")))?;
    Ok(std_file)
}

/// Untar the layer into a fresh temp dir with the artifact crate's limits, symlinks skipped
/// (Flux's `tar.Untar(…, WithSkipSymlinks())`).
async fn extract(file: std::fs::File) -> Result<tempfile::TempDir, OciRepositoryError> {
    let layer_error = |detail: String| OciRepositoryError::Layer { detail };
    let dir = tempfile::Builder::new()
        .prefix("ocirepository-")
        .tempdir()
        .map_err(|e| layer_error(format!("failed to create extraction directory: {e}")))?;
    let path = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || extract_tar_gz(file, &path, &ExtractLimits::default()))
        .await
        .map_err(|e| layer_error(format!("layer extraction did not complete: {e}")))?
        .map_err(|e| {
            layer_error(format!(
                "failed to extract layer contents from artifact: {e}"
            ))
        })?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn the_url_must_be_oci_without_tag_or_digest() {
        assert_eq!(
            repository("oci://ghcr.io/org/app")
                .expect("valid")
                .repository(),
            "org/app"
        );
        assert!(repository("https://ghcr.io/org/app").is_err());
        assert_eq!(
            repository("oci://ghcr.io/org/app:1.0").expect_err("tag"),
            "URL must not contain a tag; remove ':1.0'"
        );
        assert!(
            repository(&format!("oci://ghcr.io/org/app@sha256:{}", "a".repeat(64)))
                .expect_err("digest")
                .contains("digest")
        );
    }

    #[test]
    fn semver_picks_the_highest_matching_tag_as_written() {
        let list = tags(&[
            "latest",
            "v1.0.0",
            "1.2.0",
            "v1.10.0",
            "2.0.0-rc.1",
            "garbage",
        ]);
        assert_eq!(
            latest_matching(&list, ">=1.0.0", None).expect("match"),
            "v1.10.0"
        );
        assert_eq!(
            latest_matching(&list, "<1.5", None).expect("match"),
            "1.2.0"
        );
        assert_eq!(
            latest_matching(&list, ">=1.0.0-0", None).expect("match"),
            "2.0.0-rc.1"
        );
    }

    #[test]
    fn the_semver_filter_narrows_the_candidates_first() {
        let list = tags(&["1.0.0", "1.1.0-rc.1", "1.2.0"]);
        assert_eq!(
            latest_matching(&list, ">=1.0.0-0", Some(".*-rc.*")).expect("match"),
            "1.1.0-rc.1"
        );
    }

    #[test]
    fn no_match_and_bad_constraints_say_so_as_flux_does() {
        let list = tags(&["1.0.0"]);
        assert_eq!(
            latest_matching(&list, ">=2.0.0", None).expect_err("none"),
            "no match found for semver: >=2.0.0"
        );
        assert!(
            latest_matching(&list, "not a range", None)
                .expect_err("bad")
                .starts_with("semver 'not a range' parse error")
        );
        assert!(latest_matching(&list, "*", Some("(")).is_err());
    }
}
