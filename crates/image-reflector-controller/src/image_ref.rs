//! `spec.image` as Flux reads it (its `ParseImageReference`): no scheme and no tag, with Flux's
//! messages for both; the grammar itself (registry detection, Docker Hub's `library/`) is
//! `driftless-oci`'s [`Reference`]. The canonical name (`status.canonicalImageName`) spells
//! Docker Hub as go-containerregistry does, `index.docker.io`.

use driftless_oci::Reference;

/// Docker Hub in canonical names, as go-containerregistry writes it.
pub const DOCKER_HUB_CANONICAL: &str = "index.docker.io";

/// Why `spec.image` is not a repository name (reason `ImageURLInvalid`).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    /// `https://…`.
    #[error("image '{image}' should not include URL scheme; remove '{scheme}://'")]
    Scheme {
        /// `spec.image`.
        image: String,
        /// The scheme.
        scheme: String,
    },
    /// `repo:tag` or `repo@digest`.
    #[error("image '{image}' should not include a tag; remove ':{tag}'")]
    Tag {
        /// `spec.image`.
        image: String,
        /// What follows the first colon of the repository path.
        tag: String,
    },
    /// Not a repository name at all.
    #[error("could not parse reference: {0}")]
    Invalid(#[source] driftless_oci::ReferenceError),
}

/// A parsed `spec.image`: the registry reference to scan.
pub fn parse(image: &str) -> Result<Reference, ImageRefError> {
    if let Some((scheme, _)) = image.split_once("://") {
        return Err(ImageRefError::Scheme {
            image: image.to_owned(),
            scheme: scheme.to_owned(),
        });
    }
    let reference = Reference::parse(image).map_err(ImageRefError::Invalid)?;
    // Flux looks for a colon in what follows the registry: a tag, or a digest's algorithm.
    let path = image
        .strip_prefix(reference.registry())
        .unwrap_or(image)
        .trim_start_matches('/');
    if reference.tag().is_some() || reference.digest().is_some() {
        let after = path
            .split_once(':')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        return Err(ImageRefError::Tag {
            image: image.to_owned(),
            tag: after.split(':').next().unwrap_or_default().to_owned(),
        });
    }
    Ok(reference)
}

/// `registry/repository` with Docker Hub as `index.docker.io`: `status.canonicalImageName`.
pub fn canonical(reference: &Reference) -> String {
    let registry = match reference.registry() {
        driftless_oci::reference::DOCKER_HUB => DOCKER_HUB_CANONICAL,
        other => other,
    };
    format!("{registry}/{}", reference.repository())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical_of(image: &str) -> String {
        canonical(&parse(image).expect("image parses"))
    }

    #[test]
    fn a_docker_hub_short_name_becomes_index_docker_io_library() {
        assert_eq!(canonical_of("alpine"), "index.docker.io/library/alpine");
        assert_eq!(
            canonical_of("docker.io/alpine"),
            "index.docker.io/library/alpine"
        );
        assert_eq!(canonical_of("fluxcd/flux"), "index.docker.io/fluxcd/flux");
    }

    #[test]
    fn a_first_part_with_a_dot_or_colon_is_the_registry() {
        assert_eq!(canonical_of("ghcr.io/org/app"), "ghcr.io/org/app");
        assert_eq!(canonical_of("127.0.0.1:5000/app"), "127.0.0.1:5000/app");
        assert_eq!(canonical_of("localhost:5000/a/b/c"), "localhost:5000/a/b/c");
    }

    #[test]
    fn a_scheme_is_refused_with_flux_message() {
        let err = parse("https://ghcr.io/org/app").expect_err("scheme");
        assert_eq!(
            err.to_string(),
            "image 'https://ghcr.io/org/app' should not include URL scheme; remove 'https://'"
        );
    }

    #[test]
    fn a_tag_is_refused_with_flux_message() {
        let err = parse("ghcr.io/org/app:1.0").expect_err("tag");
        assert_eq!(
            err.to_string(),
            "image 'ghcr.io/org/app:1.0' should not include a tag; remove ':1.0'"
        );
        let err = parse("localhost:5000/app:latest").expect_err("tag after a port");
        assert!(err.to_string().ends_with("remove ':latest'"), "{err}");
    }

    #[test]
    fn a_digest_is_refused_as_a_tag_is() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let err = parse(&format!("ghcr.io/org/app@{digest}")).expect_err("digest");
        assert!(
            err.to_string().contains("should not include a tag"),
            "{err}"
        );
    }

    #[test]
    fn upper_case_and_odd_characters_are_invalid() {
        for image in ["ghcr.io/Org/app", "ghcr.io//app", "x y", ""] {
            assert!(
                matches!(parse(image), Err(ImageRefError::Invalid(_))),
                "{image}"
            );
        }
    }
}
