//! The etag index of a Bucket and its revision, as Flux's `index.Digester`: object key ->
//! ETag, and the revision `sha256:<hex>` of the lines `<key> <etag>\n` in byte order of the
//! keys. Also which listed keys enter the index: not directory markers, not the root
//! `.sourceignore`, not those the ignore patterns exclude (go-git's matcher semantics: the last
//! pattern matching the key or one of its parent directories decides), and never a key that
//! would leave the working directory.

use std::collections::BTreeMap;
use std::path::Path;

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use sha2::{Digest as _, Sha256};

/// The ignore file Flux reads from the root of the bucket.
pub const SOURCEIGNORE: &str = ".sourceignore";

/// Object key -> ETag, kept sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EtagIndex {
    entries: BTreeMap<String, String>,
}

impl EtagIndex {
    /// Records `key` with `etag`.
    pub fn add(&mut self, key: &str, etag: &str) {
        self.entries.insert(key.to_owned(), etag.to_owned());
    }

    /// Forgets `key` (an object that disappeared between listing and download).
    pub fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// The number of objects.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no object is indexed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys and ETags in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.entries.iter()
    }

    /// `sha256:<hex>` over `<key> <etag>\n` per entry, keys in byte order.
    pub fn revision(&self) -> String {
        let mut hasher = Sha256::new();
        for (key, etag) in &self.entries {
            hasher.update(key.as_bytes());
            hasher.update(b" ");
            hasher.update(etag.as_bytes());
            hasher.update(b"\n");
        }
        format!("sha256:{}", hex::encode(hasher.finalize()))
    }
}

/// One compiled pattern per line, matched last to first.
pub struct IgnoreMatcher {
    patterns: Vec<Gitignore>,
}

impl IgnoreMatcher {
    /// The root `.sourceignore` lines, then `spec.ignore` lines (which therefore win).
    pub fn new(
        sourceignore: Option<&str>,
        spec_ignore: Option<&str>,
    ) -> Result<Self, (String, &'static str, String)> {
        let mut patterns = Vec::new();
        for (origin, text) in [(SOURCEIGNORE, sourceignore), ("spec.ignore", spec_ignore)] {
            for line in text.unwrap_or_default().lines() {
                if line.starts_with('#') || line.trim().is_empty() {
                    continue;
                }
                let mut builder = GitignoreBuilder::new("");
                let compiled = builder
                    .add_line(None, line)
                    .map_err(|e| e.to_string())
                    .and_then(|b| b.build().map_err(|e| e.to_string()))
                    .map_err(|detail| (line.to_owned(), origin, detail))?;
                patterns.push(compiled);
            }
        }
        Ok(IgnoreMatcher { patterns })
    }

    /// Whether the object `key` is excluded.
    pub fn is_excluded(&self, key: &str) -> bool {
        let path = Path::new(key);
        for pattern in self.patterns.iter().rev() {
            match pattern.matched_path_or_any_parents(path, false) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        false
    }
}

/// Whether `key` names a file strictly below the working directory: relative, no `.` or `..`
/// segments, no empty segments.
pub fn is_safe_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

/// Whether a listed key enters the index before the ignore patterns are consulted.
pub fn is_indexable(key: &str) -> bool {
    !key.ends_with('/') && key != SOURCEIGNORE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revision_of_an_empty_index_is_the_empty_sha256() {
        assert_eq!(
            EtagIndex::default().revision(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn the_revision_hashes_sorted_key_etag_lines() {
        let mut index = EtagIndex::default();
        index.add("b.yaml", "2");
        index.add("a.yaml", "1");
        let expected = Sha256::digest(b"a.yaml 1\nb.yaml 2\n");
        assert_eq!(
            index.revision(),
            format!("sha256:{}", hex::encode(expected))
        );
        let before = index.revision();
        index.add("b.yaml", "3");
        assert_ne!(index.revision(), before);
    }

    #[test]
    fn spec_ignore_overrules_the_sourceignore_file_and_parents_count() {
        let matcher = IgnoreMatcher::new(
            Some("*.md\n# comment\n/secret/\n"),
            Some("/*\n!/deploy\n/deploy/**/*.txt\n"),
        )
        .expect("valid patterns");
        assert!(!matcher.is_excluded("deploy/app.yaml"));
        assert!(!matcher.is_excluded("deploy/README.md"));
        assert!(matcher.is_excluded("deploy/sub/notes.txt"));
        assert!(matcher.is_excluded("other/app.yaml"));
        assert!(matcher.is_excluded("top.yaml"));
        let file_only = IgnoreMatcher::new(Some("*.md\n/secret/\n"), None).expect("valid");
        assert!(file_only.is_excluded("docs/a.md"));
        assert!(file_only.is_excluded("secret/key.yaml"));
        assert!(!file_only.is_excluded("app/secret.yaml"));
    }

    #[test]
    fn without_patterns_nothing_is_excluded() {
        let matcher = IgnoreMatcher::new(None, None).expect("empty");
        assert!(!matcher.is_excluded("image.png"));
        assert!(!matcher.is_excluded(".git/config"));
    }

    #[test]
    fn keys_that_would_leave_the_working_directory_are_unsafe() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "./a",
            "a/./b",
            "",
        ] {
            assert!(!is_safe_key(bad), "{bad}");
        }
        for good in ["a", "dir/file.yaml", "x..y/z", ".hidden/f"] {
            assert!(is_safe_key(good), "{good}");
        }
        assert!(!is_indexable("dir/"));
        assert!(!is_indexable(".sourceignore"));
        assert!(is_indexable("sub/.sourceignore"));
    }
}
