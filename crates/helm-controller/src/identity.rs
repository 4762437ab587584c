//! Where a HelmRelease's release lives, as Flux names it: the release name (`spec.releaseName`,
//! else `[<targetNamespace>-]<name>`, shortened past Helm's 53 characters with a hash), the
//! namespace it installs into, the namespace of its Helm storage, and the HelmChart made from
//! `spec.chart` (`<namespace>-<name>` in the source's namespace).

use driftless_api::helm::HelmRelease;
use kube::ResourceExt;
use sha2::{Digest as _, Sha256};

/// Helm's longest release name.
pub const MAX_RELEASE_NAME: usize = 53;

/// The release name Flux derives for `hr`.
pub fn release_name(hr: &HelmRelease) -> String {
    if let Some(name) = hr.spec.release_name.as_deref().filter(|n| !n.is_empty()) {
        return shorten(name);
    }
    let name = match hr
        .spec
        .target_namespace
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        Some(target) => format!("{target}-{}", hr.name_any()),
        None => hr.name_any(),
    };
    shorten(&name)
}

/// A name past 53 characters becomes its first 40 characters, `-`, and the first 12 hex
/// digits of its SHA-256, so it stays unique and valid.
pub fn shorten(name: &str) -> String {
    if name.len() <= MAX_RELEASE_NAME {
        return name.to_owned();
    }
    let hash = hex::encode(Sha256::digest(name.as_bytes()));
    let head: String = name.chars().take(40).collect();
    format!("{head}-{}", &hash[..12]).to_lowercase()
}

/// The namespace the release's objects go into (`spec.targetNamespace`, else the object's).
pub fn target_namespace(hr: &HelmRelease) -> String {
    hr.spec
        .target_namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| hr.namespace().unwrap_or_default())
}

/// The namespace of the release Secrets (`spec.storageNamespace`, else the object's).
pub fn storage_namespace(hr: &HelmRelease) -> String {
    hr.spec
        .storage_namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| hr.namespace().unwrap_or_default())
}

/// The name of the HelmChart made from `spec.chart`.
pub fn helm_chart_name(hr: &HelmRelease) -> String {
    format!("{}-{}", hr.namespace().unwrap_or_default(), hr.name_any())
}

#[cfg(test)]
mod tests {
    use driftless_api::helm::HelmReleaseSpec;

    use super::*;

    fn hr(name: &str, target: Option<&str>, release: Option<&str>) -> HelmRelease {
        let mut hr = HelmRelease::new(
            name,
            HelmReleaseSpec {
                target_namespace: target.map(str::to_owned),
                release_name: release.map(str::to_owned),
                ..Default::default()
            },
        );
        hr.metadata.namespace = Some("team".into());
        hr
    }

    #[test]
    fn the_release_name_defaults_to_the_object_name_prefixed_by_the_target_namespace() {
        assert_eq!(release_name(&hr("web", None, None)), "web");
        assert_eq!(release_name(&hr("web", Some("prod"), None)), "prod-web");
        assert_eq!(release_name(&hr("web", Some("prod"), Some("site"))), "site");
        assert_eq!(target_namespace(&hr("web", None, None)), "team");
        assert_eq!(storage_namespace(&hr("web", Some("prod"), None)), "team");
        assert_eq!(helm_chart_name(&hr("web", None, None)), "team-web");
    }

    #[test]
    fn a_name_past_53_characters_is_cut_to_40_and_a_hash() {
        let long = format!("{}-{}", "a".repeat(30), "b".repeat(30));
        let short = release_name(&hr(&long, None, None));
        assert_eq!(short.len(), 53);
        assert!(short.starts_with(&long[..40]));
        let hash = hex::encode(Sha256::digest(long.as_bytes()));
        assert_eq!(&short[41..], &hash[..12]);
        assert_eq!(shorten("x".repeat(53).as_str()), "x".repeat(53));
    }
}
