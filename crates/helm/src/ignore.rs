//! `.helmignore`: which chart files the directory loader skips. Rules are
//! Go `filepath.Match` patterns: a rule with a `/` matches the whole
//! relative path (a leading `/` anchors it), one without matches the base
//! name; a trailing `/` only matches directories; `!` negates; `**` is
//! refused. Helm always adds `templates/.?*` (hidden files in templates/).

use crate::glob::path_match;

/// The ignore file's name inside a chart directory.
pub const HELM_IGNORE: &str = ".helmignore";

#[derive(Debug, Clone)]
struct Rule {
    pattern: String,
    negate: bool,
    dir_only: bool,
    /// Compared with the whole relative path, not the base name.
    full_path: bool,
}

/// Parsed `.helmignore` rules.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    /// Parses the file's text; an invalid rule is an error naming it.
    pub fn parse(text: &str) -> Result<Rules, String> {
        let mut rules = Rules::default();
        for line in text.lines() {
            rules.add(line)?;
        }
        Ok(rules)
    }

    /// Helm's defaults, added after the file's rules.
    pub fn add_defaults(&mut self) {
        // A constant rule that parses; ignoring the result keeps this infallible.
        let _ = self.add("templates/.?*");
    }

    fn add(&mut self, line: &str) -> Result<(), String> {
        let rule = line.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err("double-star (**) syntax is not supported".into());
        }
        path_match(rule, "abc").map_err(|e| e.to_string())?;
        let (negate, rest) = match rule.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, rule),
        };
        let (dir_only, rest) = match rest.strip_suffix('/') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let (full_path, pattern) = match rest.strip_prefix('/') {
            Some(r) => (true, r),
            None => (rest.contains('/'), rest),
        };
        self.rules.push(Rule {
            pattern: pattern.to_string(),
            negate,
            dir_only,
            full_path,
        });
        Ok(())
    }

    /// Whether the loader skips `path` (relative, `/`-separated).
    pub fn ignore(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for r in &self.rules {
            let subject = if r.full_path {
                path
            } else {
                path.rsplit('/').next().unwrap_or(path)
            };
            let matched = path_match(&r.pattern, subject).unwrap_or(false);
            if r.negate {
                // Helm's negation: a file a negated directory rule cannot
                // apply to, or one the pattern misses, is ignored.
                if (r.dir_only && !is_dir) || !matched {
                    return true;
                }
                continue;
            }
            if r.dir_only && !is_dir {
                continue;
            }
            if matched {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Rules {
        let mut r = Rules::parse(text).expect("rules parse");
        r.add_defaults();
        r
    }

    #[test]
    fn a_rule_without_a_slash_matches_base_names_anywhere() {
        let r = rules("*.bak\n# comment\n");
        assert!(r.ignore("a/b/c.bak", false));
        assert!(!r.ignore("a/b/c.yaml", false));
    }

    #[test]
    fn a_directory_rule_skips_directories_only() {
        let r = rules("ci/\n");
        assert!(r.ignore("ci", true));
        assert!(!r.ignore("ci", false));
    }

    #[test]
    fn hidden_template_files_are_always_ignored() {
        let r = rules("");
        assert!(r.ignore("templates/.swp", false));
        assert!(!r.ignore("templates/a.yaml", false));
    }

    #[test]
    fn double_star_rules_are_refused() {
        assert!(Rules::parse("**/x").is_err());
    }
}
