//! Picking the chart version a HelmChart asks for, as Flux's source-controller does: an empty
//! constraint means `*`; of the versions the constraint accepts the highest wins (Masterminds
//! semantics, so pre-releases only when the constraint names one); and checking the
//! downloaded chart against the digest the index lists.

use sha2::{Digest as _, Sha256};

use super::RepoError;
use super::index::{ChartVersion, Index};

impl Index {
    /// The newest version of chart `name` that satisfies `constraint` (`""` = `*`).
    pub fn chart_version(&self, name: &str, constraint: &str) -> Result<&ChartVersion, RepoError> {
        let versions = self.entries.get(name).ok_or(RepoError::NoChartName)?;
        if versions.is_empty() {
            return Err(RepoError::NoChartVersion);
        }
        let lookup = if constraint.trim().is_empty() {
            "*"
        } else {
            constraint
        };
        let parsed = driftless_semver::Constraint::parse(lookup)?;
        versions
            .iter()
            .filter(|v| parsed.matches(&v.semver))
            .max_by(|a, b| a.semver.cmp_precedence(&b.semver))
            .ok_or_else(|| RepoError::NoMatch {
                name: name.to_owned(),
                constraint: constraint.to_owned(),
            })
    }
}

/// Checks `data` against the index's digest (sha256 hex, with or without `sha256:`).
pub fn verify_digest(data: &[u8], expected: &str) -> Result<(), RepoError> {
    let expected = expected.strip_prefix("sha256:").unwrap_or(expected);
    if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RepoError::InvalidDigest(expected.to_owned()));
    }
    let actual = hex::encode(Sha256::digest(data));
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(RepoError::DigestMismatch {
            expected: expected.to_ascii_lowercase(),
            actual,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Index {
        let yaml = r#"apiVersion: v1
entries:
  podinfo:
  - {name: podinfo, version: 5.2.1, urls: [a]}
  - {name: podinfo, version: 6.0.3, urls: [a]}
  - {name: podinfo, version: 6.1.0-rc.1, urls: [a]}
  - {name: podinfo, version: 6.0.10, urls: [a]}
  - {name: podinfo, version: v4.0.0, urls: [a]}
  empty: []
"#;
        Index::load(yaml.as_bytes(), 1 << 20).expect("loads")
    }

    fn pick(constraint: &str) -> Result<String, RepoError> {
        index()
            .chart_version("podinfo", constraint)
            .map(|v| v.version.clone())
    }

    #[test]
    fn a_star_or_empty_constraint_picks_the_latest_stable_version() {
        assert_eq!(pick("*").expect("matches"), "6.0.10");
        assert_eq!(pick("").expect("matches"), "6.0.10");
    }

    #[test]
    fn ranges_pick_the_highest_match_numerically_not_lexically() {
        assert_eq!(pick("6.0.x").expect("matches"), "6.0.10");
        assert_eq!(pick("5.*").expect("matches"), "5.2.1");
        assert_eq!(pick(">=4.0.0 <5.0.0").expect("matches"), "v4.0.0");
        assert_eq!(pick("6.0.3").expect("matches"), "6.0.3");
    }

    #[test]
    fn pre_releases_are_picked_only_when_the_constraint_names_one() {
        assert_eq!(pick(">=6.1.0-0").expect("matches"), "6.1.0-rc.1");
        assert!(pick(">6.0.10").is_err());
    }

    #[test]
    fn no_match_names_the_chart_and_the_constraint_as_flux_does() {
        let err = pick("9.*").expect_err("no 9.x");
        assert_eq!(
            err.to_string(),
            "no 'podinfo' chart with version matching '9.*' found"
        );
    }

    #[test]
    fn unknown_and_empty_charts_use_helms_errors() {
        let index = index();
        assert_eq!(
            index
                .chart_version("nginx", "*")
                .expect_err("unknown")
                .to_string(),
            "no chart name found"
        );
        assert_eq!(
            index
                .chart_version("empty", "*")
                .expect_err("empty")
                .to_string(),
            "no chart version found"
        );
    }

    #[test]
    fn a_constraint_that_does_not_parse_is_an_error() {
        assert!(matches!(
            pick("not a range!"),
            Err(RepoError::InvalidConstraint(_))
        ));
    }

    #[test]
    fn the_digest_must_match_the_downloaded_bytes() {
        let digest = hex::encode(Sha256::digest(b"chart"));
        verify_digest(b"chart", &digest).expect("same bytes");
        verify_digest(b"chart", &format!("sha256:{digest}")).expect("prefixed");
        let err = verify_digest(b"tampered", &digest).expect_err("other bytes");
        assert!(
            err.to_string().starts_with("chart digest mismatch"),
            "{err}"
        );
        assert!(matches!(
            verify_digest(b"x", "nothex"),
            Err(RepoError::InvalidDigest(_))
        ));
    }
}
