//! A Masterminds-style (semver v3) constraint matcher: `GitRepository.spec.ref.semver`, Helm
//! chart versions and `ImagePolicy.spec.policy.semver` all read constraints this way.
//!
//! Enough of the syntax Flux users write: `||` alternatives; comma- or space-separated
//! comparators that must all hold; `=`, `!=`, `>`, `<`, `>=`, `<=`/`=<`, `~`/`~>`, `^`;
//! `x`/`X`/`*` wildcards and missing parts (`1.2` = `1.2.x`); hyphen ranges `1.2 - 1.4.5`.
//! As in Masterminds, a pre-release version only matches a comparator that itself names
//! a pre-release, and versions parse leniently (`v1`, `1.2`).

use semver::Prerelease;
pub use semver::Version;

/// A constraint that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid semver constraint '{constraint}': {reason}")]
pub struct InvalidConstraint {
    /// The constraint as written.
    pub constraint: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A parsed constraint: any of the groups, each with all of its comparators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    source: String,
    groups: Vec<Vec<Comparator>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Tilde,
    Caret,
}

/// One comparator; `None` parts are wildcards.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Comparator {
    op: Op,
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: Prerelease,
}

type Key<'a> = (u64, u64, u64, &'a Prerelease);

impl Constraint {
    pub fn parse(source: &str) -> Result<Constraint, InvalidConstraint> {
        let invalid = |reason: String| InvalidConstraint {
            constraint: source.to_string(),
            reason,
        };
        let mut groups = Vec::new();
        for group in source.split("||") {
            let spaced = group.replace(',', " ");
            let tokens: Vec<&str> = spaced.split_whitespace().collect();
            let mut comparators = Vec::new();
            let mut i = 0;
            while i < tokens.len() {
                let mut token = tokens[i].to_string();
                // An operator written apart from its version (`>= 1.2`).
                if token.chars().all(|c| "=!<>~^".contains(c)) && i + 1 < tokens.len() {
                    token.push_str(tokens[i + 1]);
                    i += 1;
                }
                if tokens.get(i + 1) == Some(&"-") {
                    let upper = tokens
                        .get(i + 2)
                        .ok_or_else(|| invalid("hyphen range without an upper bound".into()))?;
                    comparators.push(Comparator::parse(Op::Ge, &token).map_err(&invalid)?);
                    comparators.push(Comparator::parse(Op::Le, upper).map_err(&invalid)?);
                    i += 3;
                    continue;
                }
                comparators.push(Comparator::parse_with_op(&token).map_err(&invalid)?);
                i += 1;
            }
            if comparators.is_empty() {
                return Err(invalid("empty constraint".into()));
            }
            groups.push(comparators);
        }
        Ok(Constraint {
            source: source.to_string(),
            groups,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn matches(&self, version: &Version) -> bool {
        self.groups
            .iter()
            .any(|group| group.iter().all(|c| c.matches(version)))
    }
}

/// Parse a tag as Masterminds' lenient `NewVersion` does: optional `v`, missing minor and
/// patch read as zero. `None` for tags that are not versions (Flux skips those).
pub fn parse_version(tag: &str) -> Option<Version> {
    let text = tag.strip_prefix('v').unwrap_or(tag);
    let (core, build) = text.split_once('+').unwrap_or((text, ""));
    let (core, pre) = core.split_once('-').unwrap_or((core, ""));
    let mut parts = core.split('.');
    let mut number = |required: bool| -> Option<u64> {
        match parts.next() {
            Some(p) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => p.parse().ok(),
            None if !required => Some(0),
            _ => None,
        }
    };
    let (major, minor, patch) = (number(true)?, number(false)?, number(false)?);
    if parts.next().is_some() {
        return None;
    }
    let mut version = Version::new(major, minor, patch);
    version.pre = Prerelease::new(pre).ok()?;
    version.build = semver::BuildMetadata::new(build).ok()?;
    Some(version)
}

impl Comparator {
    fn parse_with_op(token: &str) -> Result<Comparator, String> {
        let ops = [
            (">=", Op::Ge),
            ("=>", Op::Ge),
            ("<=", Op::Le),
            ("=<", Op::Le),
            ("!=", Op::Ne),
            ("~>", Op::Tilde),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("=", Op::Eq),
            ("~", Op::Tilde),
            ("^", Op::Caret),
        ];
        for (prefix, op) in ops {
            if let Some(rest) = token.strip_prefix(prefix) {
                return Comparator::parse(op, rest);
            }
        }
        Comparator::parse(Op::Eq, token)
    }

    fn parse(op: Op, text: &str) -> Result<Comparator, String> {
        let text = text.strip_prefix('v').unwrap_or(text);
        let text = text.split('+').next().unwrap_or(text);
        let (core, pre) = text.split_once('-').unwrap_or((text, ""));
        let mut parts = core.split('.');
        let mut part = || -> Result<Option<u64>, String> {
            match parts.next() {
                None | Some("x" | "X" | "*") => Ok(None),
                Some(p) => p
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("'{p}' is not a version number")),
            }
        };
        let (major, minor, patch) = (part()?, part()?, part()?);
        if parts.next().is_some() {
            return Err(format!("'{text}' has too many version parts"));
        }
        // A wildcard makes every later part a wildcard too (`1.x.3` reads as `1.x`).
        let minor = major.and(minor);
        let patch = minor.and(patch);
        let pre = Prerelease::new(pre).map_err(|e| format!("pre-release '{pre}': {e}"))?;
        Ok(Comparator {
            op,
            major,
            minor,
            patch,
            pre,
        })
    }

    fn floor(&self) -> Key<'_> {
        (
            self.major.unwrap_or(0),
            self.minor.unwrap_or(0),
            self.patch.unwrap_or(0),
            &self.pre,
        )
    }

    /// First version past the wildcard range, `None` when there is no wildcard.
    fn ceiling(&self) -> Option<(u64, u64, u64)> {
        match (self.major, self.minor, self.patch) {
            (None, _, _) => Some((u64::MAX, 0, 0)),
            (Some(m), None, _) => Some((m.saturating_add(1), 0, 0)),
            (Some(m), Some(n), None) => Some((m, n.saturating_add(1), 0)),
            _ => None,
        }
    }

    fn matches(&self, v: &Version) -> bool {
        if !v.pre.is_empty() && self.pre.is_empty() {
            return false;
        }
        let key: Key<'_> = (v.major, v.minor, v.patch, &v.pre);
        let release = Prerelease::EMPTY;
        let below = |(a, b, c): (u64, u64, u64)| key < (a, b, c, &release);
        let floor = self.floor();
        match self.op {
            Op::Eq => self
                .ceiling()
                .map_or(key == floor, |c| key >= floor && below(c)),
            Op::Ne => !self
                .ceiling()
                .map_or(key == floor, |c| key >= floor && below(c)),
            Op::Gt => match self.ceiling() {
                Some(c) => self.major.is_some() && !below(c),
                None => key > floor,
            },
            Op::Lt => key < floor,
            Op::Ge => key >= floor,
            Op::Le => self.ceiling().map_or(key <= floor, below),
            Op::Tilde => {
                let (major, minor, _, _) = floor;
                let upper = match self.minor {
                    None => (major.saturating_add(1), 0, 0),
                    Some(_) => (major, minor.saturating_add(1), 0),
                };
                key >= floor && below(upper)
            }
            Op::Caret => {
                let (major, minor, patch, _) = floor;
                let upper = match (major, self.minor, minor, self.patch) {
                    (m, _, _, _) if m > 0 => (m.saturating_add(1), 0, 0),
                    (_, None, _, _) => (1, 0, 0),
                    (_, Some(_), n, _) if n > 0 => (0, n.saturating_add(1), 0),
                    (_, Some(_), _, None) => (0, 1, 0),
                    _ => (0, 0, patch.saturating_add(1)),
                };
                key >= floor && below(upper)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(constraint: &str, version: &str) -> bool {
        let c = Constraint::parse(constraint).expect("constraint parses");
        c.matches(&parse_version(version).expect("version parses"))
    }

    #[test]
    fn comparison_operators_follow_masterminds() {
        let cases = [
            (">=1.2.0", "1.2.0", true),
            (">1.2.0", "1.2.0", false),
            (">1.2", "1.2.9", false),
            (">1.2", "1.3.0", true),
            ("<1.2", "1.1.9", true),
            ("<=1.2", "1.2.9", true),
            ("<=1.2.3", "1.2.4", false),
            ("!=1.2.3", "1.2.4", true),
            ("1.2.x", "1.2.7", true),
            ("1.2", "1.3.0", false),
            ("*", "4.5.6", true),
            ("=1.2.3", "1.2.3", true),
        ];
        for (c, v, want) in cases {
            assert_eq!(check(c, v), want, "{c} vs {v}");
        }
    }

    #[test]
    fn tilde_and_caret_ranges_follow_masterminds() {
        let cases = [
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("~1", "1.9.0", true),
            ("~>1.2", "1.2.5", true),
            ("^1.2.3", "1.9.9", true),
            ("^1.2.3", "2.0.0", false),
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("^0.0.3", "0.0.4", false),
            ("^0", "0.9.0", true),
        ];
        for (c, v, want) in cases {
            assert_eq!(check(c, v), want, "{c} vs {v}");
        }
    }

    #[test]
    fn groups_and_hyphen_ranges_combine() {
        assert!(check(">=1.0, <2.0", "1.5.0"));
        assert!(!check(">=1.0 <2.0", "2.0.0"));
        assert!(check("<1.0 || >=3", "3.1.0"));
        assert!(check("1.2 - 1.4", "1.4.7"));
        assert!(!check("1.2 - 1.4.5", "1.4.6"));
        assert!(check(">= 1.2", "1.2.0"));
    }

    #[test]
    fn pre_releases_match_only_constraints_that_name_one() {
        assert!(!check(">=1.0.0", "1.1.0-rc.1"));
        assert!(check(">=1.1.0-rc.0", "1.1.0-rc.1"));
    }

    #[test]
    fn tags_parse_leniently_and_non_versions_are_skipped() {
        assert_eq!(parse_version("v1.2"), Some(Version::new(1, 2, 0)));
        assert_eq!(parse_version("2"), Some(Version::new(2, 0, 0)));
        assert_eq!(parse_version("latest"), None);
        assert_eq!(parse_version("1.2.3.4"), None);
    }

    #[test]
    fn malformed_constraints_are_rejected() {
        for c in ["", ">=abc", "1.2 -", "1.2.3.4"] {
            assert!(Constraint::parse(c).is_err(), "{c}");
        }
    }
}
