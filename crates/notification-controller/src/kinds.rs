//! The Flux kinds Alerts listen to and Receivers trigger: their names, the API version used when
//! a reference gives none, and the API resource to reach them with.

use driftless_api::notification::FluxKind;
use kube::api::{ApiResource, GroupVersionKind};

/// The name Flux uses for `kind` (the enum's serialized form).
pub fn kind_name(kind: FluxKind) -> &'static str {
    match kind {
        FluxKind::Bucket => "Bucket",
        FluxKind::GitRepository => "GitRepository",
        FluxKind::Kustomization => "Kustomization",
        FluxKind::HelmRelease => "HelmRelease",
        FluxKind::HelmChart => "HelmChart",
        FluxKind::HelmRepository => "HelmRepository",
        FluxKind::ImageRepository => "ImageRepository",
        FluxKind::ImagePolicy => "ImagePolicy",
        FluxKind::ImageUpdateAutomation => "ImageUpdateAutomation",
        FluxKind::OCIRepository => "OCIRepository",
        FluxKind::ArtifactGenerator => "ArtifactGenerator",
        FluxKind::ExternalArtifact => "ExternalArtifact",
    }
}

/// The served API version of `kind` in the Flux release driftless follows.
pub fn default_api_version(kind: FluxKind) -> &'static str {
    match kind {
        FluxKind::Bucket
        | FluxKind::GitRepository
        | FluxKind::HelmChart
        | FluxKind::HelmRepository
        | FluxKind::OCIRepository
        | FluxKind::ExternalArtifact => "source.toolkit.fluxcd.io/v1",
        FluxKind::Kustomization => "kustomize.toolkit.fluxcd.io/v1",
        FluxKind::HelmRelease => "helm.toolkit.fluxcd.io/v2",
        FluxKind::ImageRepository | FluxKind::ImagePolicy | FluxKind::ImageUpdateAutomation => {
            "image.toolkit.fluxcd.io/v1"
        }
        FluxKind::ArtifactGenerator => "source.extensions.fluxcd.io/v1beta1",
    }
}

/// The API resource of `kind` at `api_version` (`group/version`).
pub fn api_resource(kind: &str, api_version: &str) -> ApiResource {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_and_groups_are_the_crds() {
        let r = api_resource("ImagePolicy", default_api_version(FluxKind::ImagePolicy));
        assert_eq!(
            (r.group.as_str(), r.plural.as_str()),
            ("image.toolkit.fluxcd.io", "imagepolicies")
        );
        let r = api_resource(
            "GitRepository",
            default_api_version(FluxKind::GitRepository),
        );
        assert_eq!(
            (r.version.as_str(), r.plural.as_str()),
            ("v1", "gitrepositories")
        );
        assert_eq!(
            api_resource("Kustomization", "kustomize.toolkit.fluxcd.io/v1").plural,
            "kustomizations"
        );
    }

    #[test]
    fn kind_names_are_the_serialized_enum() {
        for kind in [
            FluxKind::OCIRepository,
            FluxKind::HelmRelease,
            FluxKind::ExternalArtifact,
        ] {
            assert_eq!(
                serde_json::to_value(kind).expect("serializes"),
                serde_json::Value::from(kind_name(kind))
            );
        }
    }
}
