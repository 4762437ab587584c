//! Which files of a source tree go into its artifact: Flux's `sourceignore` rules.
//!
//! The pattern list is built as source-controller builds it: the VCS patterns always; Flux's
//! default exclusions only when the user gave no pattern at all; then every `.sourceignore` file
//! (root first, then depth-first in name order, each scoped to its own directory), then
//! `spec.ignore` lines scoped to the root. Patterns use gitignore syntax and the last matching
//! pattern wins, so `spec.ignore` can re-include what a `.sourceignore` excluded.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// Name of the per-directory ignore file Flux reads.
pub const SOURCEIGNORE_FILE: &str = ".sourceignore";

/// Patterns always applied: version-control metadata never reaches an artifact.
pub const VCS_PATTERNS: &[&str] = &[".git/", ".gitignore", ".gitmodules", ".gitattributes"];

/// Flux's default exclusions (media, archives, CI configuration and tool files), applied only
/// when neither `.sourceignore` files nor `spec.ignore` contribute a pattern.
pub const DEFAULT_EXCLUSIONS: &[&str] = &[
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
    "**/.goreleaser.yml",
    "**/.sops.yaml",
    "**/.flux.yaml",
];

/// Error reading ignore files or compiling their patterns.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    /// A directory or `.sourceignore` file could not be read.
    #[error("reading ignore patterns from '{path}': {source}")]
    Read {
        /// Path relative to the source root.
        path: PathBuf,
        /// The I/O failure.
        source: io::Error,
    },
    /// A pattern is not valid gitignore syntax.
    #[error("invalid ignore pattern in {origin}: {source}")]
    Pattern {
        /// Where the pattern came from (`spec.ignore` or a `.sourceignore` path).
        origin: String,
        /// The matcher's complaint.
        source: ignore::Error,
    },
}

/// One group of patterns that applies below `scope` (relative to the source root, `""` = root).
#[derive(Debug)]
struct Scoped {
    scope: PathBuf,
    matcher: Gitignore,
}

/// The compiled exclusion rules for one source tree.
#[derive(Debug)]
pub struct IgnoreRules {
    groups: Vec<Scoped>,
    has_negation: bool,
}

impl IgnoreRules {
    /// Rules for the tree at `root`: its `.sourceignore` files plus `spec_ignore` (gitignore text).
    pub fn for_source(root: &Path, spec_ignore: Option<&str>) -> Result<Self, IgnoreError> {
        let mut user: Vec<(PathBuf, String, String)> = Vec::new();
        collect_sourceignore(root, Path::new(""), &mut user)?;
        if let Some(text) = spec_ignore {
            user.push((PathBuf::new(), "spec.ignore".to_owned(), text.to_owned()));
        }
        Self::from_user_patterns(user)
    }

    /// Rules from explicit `(scope, origin, gitignore text)` groups, in increasing precedence.
    fn from_user_patterns(user: Vec<(PathBuf, String, String)>) -> Result<Self, IgnoreError> {
        let has_user_patterns = user
            .iter()
            .any(|(_, _, text)| text.lines().any(is_pattern_line));
        let mut fixed = VCS_PATTERNS.join("\n");
        if !has_user_patterns {
            fixed.push('\n');
            fixed.push_str(&DEFAULT_EXCLUSIONS.join("\n"));
        }
        let mut groups = vec![compile(PathBuf::new(), "built-in patterns", &fixed)?];
        let mut has_negation = false;
        for (scope, origin, text) in user {
            has_negation |= text.lines().any(|l| l.trim_start().starts_with('!'));
            groups.push(compile(scope, &origin, &text)?);
        }
        Ok(IgnoreRules {
            groups,
            has_negation,
        })
    }

    /// True when `rel` (relative to the source root) must be left out of the artifact.
    ///
    /// Like go-git's matcher that Flux uses, a pattern matching any parent directory excludes the
    /// path, and the last group with an opinion decides.
    pub fn is_excluded(&self, rel: &Path, is_dir: bool) -> bool {
        for group in self.groups.iter().rev() {
            let Ok(inner) = rel.strip_prefix(&group.scope) else {
                continue;
            };
            if inner.as_os_str().is_empty() {
                continue;
            }
            match group.matcher.matched_path_or_any_parents(inner, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        false
    }

    /// Whether an excluded directory's subtree may be skipped without looking inside. Only a
    /// negated pattern (`!keep.yaml`) can re-include something below an excluded directory.
    pub fn can_prune_excluded_dirs(&self) -> bool {
        !self.has_negation
    }
}

fn is_pattern_line(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#')
}

fn compile(scope: PathBuf, origin: &str, text: &str) -> Result<Scoped, IgnoreError> {
    // Paths handed to the matcher are already relative to `scope`; a `.` root disables the
    // matcher's own prefix stripping.
    let mut builder = GitignoreBuilder::new(".");
    for line in text.lines() {
        builder
            .add_line(None, line)
            .map_err(|source| IgnoreError::Pattern {
                origin: origin.to_owned(),
                source,
            })?;
    }
    let matcher = builder.build().map_err(|source| IgnoreError::Pattern {
        origin: origin.to_owned(),
        source,
    })?;
    Ok(Scoped { scope, matcher })
}

/// Read `.sourceignore` in `root/rel`, then recurse into subdirectories in name order. Symlinks
/// are not followed and `.git` directories are not entered.
fn collect_sourceignore(
    root: &Path,
    rel: &Path,
    out: &mut Vec<(PathBuf, String, String)>,
) -> Result<(), IgnoreError> {
    let dir = root.join(rel);
    let file_rel = rel.join(SOURCEIGNORE_FILE);
    match fs::symlink_metadata(dir.join(SOURCEIGNORE_FILE)) {
        Ok(meta) if meta.is_file() => {
            let text = fs::read_to_string(dir.join(SOURCEIGNORE_FILE)).map_err(|source| {
                IgnoreError::Read {
                    path: file_rel.clone(),
                    source,
                }
            })?;
            out.push((rel.to_path_buf(), file_rel.display().to_string(), text));
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(IgnoreError::Read {
                path: file_rel,
                source,
            });
        }
    }
    let read_err = |source| IgnoreError::Read {
        path: rel.to_path_buf(),
        source,
    };
    let mut subdirs = Vec::new();
    for entry in fs::read_dir(&dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        if entry.file_type().map_err(read_err)?.is_dir() && entry.file_name() != ".git" {
            subdirs.push(entry.file_name());
        }
    }
    subdirs.sort();
    for name in subdirs {
        collect_sourceignore(root, &rel.join(name), out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(groups: &[(&str, &str)]) -> IgnoreRules {
        let user = groups
            .iter()
            .map(|(scope, text)| {
                (
                    PathBuf::from(scope),
                    (*scope).to_owned(),
                    (*text).to_owned(),
                )
            })
            .collect();
        IgnoreRules::from_user_patterns(user).expect("valid patterns")
    }

    #[test]
    fn vcs_files_are_always_excluded() {
        let r = rules(&[("", "*.md")]);
        assert!(r.is_excluded(Path::new(".git"), true));
        assert!(r.is_excluded(Path::new(".git/config"), false));
        assert!(r.is_excluded(Path::new("sub/.gitignore"), false));
        assert!(!r.is_excluded(Path::new("deploy.yaml"), false));
    }

    #[test]
    fn default_exclusions_apply_only_without_user_patterns() {
        let defaults = rules(&[("", "# only a comment\n\n")]);
        assert!(defaults.is_excluded(Path::new("img/logo.png"), false));
        assert!(defaults.is_excluded(Path::new(".github"), true));
        assert!(defaults.is_excluded(Path::new("a/b/.sops.yaml"), false));
        let user = rules(&[("", "*.md")]);
        assert!(!user.is_excluded(Path::new("img/logo.png"), false));
        assert!(user.is_excluded(Path::new("README.md"), false));
    }

    #[test]
    fn nested_sourceignore_patterns_apply_only_below_their_directory() {
        let r = rules(&[("apps", "*.txt\n/local.yaml")]);
        assert!(r.is_excluded(Path::new("apps/x/notes.txt"), false));
        assert!(r.is_excluded(Path::new("apps/local.yaml"), false));
        assert!(!r.is_excluded(Path::new("notes.txt"), false));
        assert!(!r.is_excluded(Path::new("local.yaml"), false));
        assert!(!r.is_excluded(Path::new("apps/x/local.yaml"), false));
    }

    #[test]
    fn later_patterns_win_so_spec_ignore_can_re_include() {
        let r = rules(&[("", "*.yaml"), ("", "!keep.yaml")]);
        assert!(r.is_excluded(Path::new("drop.yaml"), false));
        assert!(!r.is_excluded(Path::new("keep.yaml"), false));
        assert!(!r.can_prune_excluded_dirs());
    }
}
