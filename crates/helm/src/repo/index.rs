//! A repository's `index.yaml` as Helm loads it: refused past the size limit or without
//! `apiVersion`; versions without a name or a semver version dropped (Helm logs and skips
//! them); each chart's versions sorted newest first. The whole document is kept, so it can be
//! re-serialised as JSON — the form Flux stores as a HelmRepository artifact and digests for
//! the revision.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::RepoError;

/// One listed version of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartVersion {
    /// The chart name.
    pub name: String,
    /// The version as written.
    pub version: String,
    /// Download URLs, absolute or relative to the repository.
    pub urls: Vec<String>,
    /// sha256 hex of the packaged chart, when the index gives one.
    pub digest: Option<String>,
    /// The parsed version, for ordering and matching.
    pub semver: driftless_semver::Version,
    raw: Map<String, Value>,
}

/// A loaded index.
#[derive(Clone, Debug, PartialEq)]
pub struct Index {
    /// `apiVersion` (`v1`).
    pub api_version: String,
    /// Chart name to versions, newest first.
    pub entries: BTreeMap<String, Vec<ChartVersion>>,
    /// Versions dropped as invalid while loading.
    pub dropped: usize,
    raw: Map<String, Value>,
}

impl Index {
    /// Loads an index from its bytes (YAML or JSON), refusing more than `max_size` bytes.
    pub fn load(data: &[u8], max_size: u64) -> Result<Index, RepoError> {
        if data.len() as u64 > max_size {
            return Err(RepoError::IndexTooLarge { limit: max_size });
        }
        let text = std::str::from_utf8(data)
            .map_err(|e| RepoError::IndexParse(format!("index is not UTF-8: {e}")))?;
        // A stored artifact is JSON: read it directly, much faster than the YAML parser for
        // the large indexes of public repositories. JSON is YAML, so the result is the same.
        let doc = match serde_json::from_str::<Value>(text) {
            Ok(doc) if text.trim_start().starts_with('{') => doc,
            _ => crate::values::parse_yaml(text).map_err(RepoError::IndexParse)?,
        };
        let Value::Object(mut raw) = doc else {
            return Err(RepoError::IndexParse(
                "the index is not a mapping".to_owned(),
            ));
        };
        let api_version = match raw.get("apiVersion") {
            Some(Value::String(v)) if !v.is_empty() => v.clone(),
            _ => return Err(RepoError::NoApiVersion),
        };
        let entries_raw = match raw.remove("entries") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Err(RepoError::IndexParse(
                    "'entries' is not a mapping".to_owned(),
                ));
            }
        };
        let mut entries = BTreeMap::new();
        let mut dropped = 0;
        for (name, versions) in entries_raw {
            let list = match versions {
                Value::Array(list) => list,
                Value::Null => Vec::new(),
                _ => {
                    return Err(RepoError::IndexParse(format!(
                        "entry '{name}' is not a list of versions"
                    )));
                }
            };
            let mut parsed = Vec::with_capacity(list.len());
            for item in list {
                match chart_version(item) {
                    Some(cv) => parsed.push(cv),
                    None => dropped += 1,
                }
            }
            // Newest first; equal versions keep their order (Go's sort.Reverse is not stable,
            // but any order of equal versions is valid there).
            parsed.sort_by(|a, b| compare(b, a));
            entries.insert(name, parsed);
        }
        Ok(Index {
            api_version,
            entries,
            dropped,
            raw,
        })
    }

    /// The index as JSON, versions sorted and invalid ones dropped: the stored artifact.
    pub fn to_json(&self) -> Vec<u8> {
        let mut doc = self.raw.clone();
        let entries: Map<String, Value> = self
            .entries
            .iter()
            .map(|(name, versions)| {
                let list = versions
                    .iter()
                    .map(|v| Value::Object(v.raw.clone()))
                    .collect();
                (name.clone(), Value::Array(list))
            })
            .collect();
        doc.insert("entries".to_owned(), Value::Object(entries));
        // Serialising a Value cannot fail: every key is a string.
        serde_json::to_vec(&Value::Object(doc)).unwrap_or_default()
    }
}

fn compare(a: &ChartVersion, b: &ChartVersion) -> Ordering {
    a.semver.cmp_precedence(&b.semver)
}

/// One version entry, or `None` when Helm would skip it (not a mapping, no name, no semver).
fn chart_version(item: Value) -> Option<ChartVersion> {
    let Value::Object(raw) = item else {
        return None;
    };
    let text = |key: &str| match raw.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let name = text("name").filter(|n| !n.is_empty())?;
    let version = text("version")?;
    let semver = driftless_semver::parse_version(&version)?;
    let urls = match raw.get("urls") {
        Some(Value::Array(urls)) => urls
            .iter()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let digest = text("digest").filter(|d| !d.is_empty());
    Some(ChartVersion {
        name,
        version,
        urls,
        digest,
        semver,
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"apiVersion: v1
entries:
  podinfo:
  - name: podinfo
    version: 6.0.0
    urls: [podinfo-6.0.0.tgz]
    digest: abc
    created: "2021-01-01T00:00:00Z"
  - name: podinfo
    version: 6.1.0
    urls: [podinfo-6.1.0.tgz]
  - name: podinfo
    version: not-a-version
  - version: 1.0.0
generated: "2021-01-01T00:00:00Z"
"#;

    #[test]
    fn versions_are_sorted_newest_first_and_invalid_ones_dropped() {
        let index = Index::load(INDEX.as_bytes(), super::super::MAX_INDEX_SIZE).expect("loads");
        let versions: Vec<&str> = index.entries["podinfo"]
            .iter()
            .map(|v| v.version.as_str())
            .collect();
        assert_eq!(versions, ["6.1.0", "6.0.0"]);
        assert_eq!(index.dropped, 2);
        assert_eq!(index.entries["podinfo"][1].digest.as_deref(), Some("abc"));
    }

    #[test]
    fn an_index_without_api_version_is_refused_as_helm_does() {
        let err = Index::load(b"entries: {}\n", 1024).expect_err("no apiVersion");
        assert_eq!(err.to_string(), "no API version specified");
    }

    #[test]
    fn an_index_over_the_limit_is_refused_before_parsing() {
        let err = Index::load(INDEX.as_bytes(), 10).expect_err("too large");
        assert_eq!(
            err.to_string(),
            "index exceeds the maximum allowed size of 10 bytes"
        );
    }

    #[test]
    fn the_json_form_is_stable_for_the_same_content_in_another_order() {
        let reordered = r#"generated: "2021-01-01T00:00:00Z"
entries:
  podinfo:
  - name: podinfo
    version: 6.1.0
    urls: [podinfo-6.1.0.tgz]
  - created: "2021-01-01T00:00:00Z"
    digest: abc
    name: podinfo
    urls: [podinfo-6.0.0.tgz]
    version: 6.0.0
apiVersion: v1
"#;
        let a = Index::load(INDEX.as_bytes(), 1 << 20).expect("loads");
        let b = Index::load(reordered.as_bytes(), 1 << 20).expect("loads");
        assert_eq!(a.to_json(), b.to_json());
        let reloaded = Index::load(&a.to_json(), 1 << 20).expect("JSON is YAML");
        assert_eq!(reloaded.entries, a.entries);
    }

    #[test]
    fn a_large_index_loads_in_bounded_time_in_either_form() {
        let mut yaml = String::from("apiVersion: v1\nentries:\n");
        for chart in 0..100 {
            yaml.push_str(&format!("  chart{chart}:\n"));
            for version in 0..20 {
                yaml.push_str(&format!(
                    "  - name: chart{chart}\n    version: 1.{version}.0\n    urls: [chart{chart}-1.{version}.0.tgz]\n    digest: \"{:064}\"\n",
                    version
                ));
            }
        }
        let start = std::time::Instant::now();
        let index = Index::load(yaml.as_bytes(), super::super::MAX_INDEX_SIZE).expect("loads");
        let from_yaml = start.elapsed();
        let json = index.to_json();
        let start = std::time::Instant::now();
        let again = Index::load(&json, super::super::MAX_INDEX_SIZE).expect("loads");
        let from_json = start.elapsed();
        assert_eq!(again.entries, index.entries);
        assert_eq!(index.entries.len(), 100);
        eprintln!("2000 versions: YAML {from_yaml:?}, JSON {from_json:?}");
        assert!(
            from_json < std::time::Duration::from_secs(5),
            "{from_json:?}"
        );
    }

    #[test]
    fn a_document_that_is_not_an_index_is_a_parse_error() {
        assert!(matches!(
            Index::load(b"- a\n- b\n", 1024),
            Err(RepoError::IndexParse(_))
        ));
    }
}
