//! `spec.filterTags`: the tags matching `pattern` take part, each as the value `extract` makes of
//! it (Go's `Regexp.Expand` template: `$name`, `${name}`, `$1`, `$$`), or as itself when
//! `extract` is empty. As in Flux, two tags extracting the same value keep the later one.

use regex::{Captures, Regex};

/// A compiled `spec.filterTags`.
#[derive(Clone, Debug)]
pub struct TagFilter {
    regex: Regex,
    extract: String,
}

/// The pattern does not compile.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression pattern '{pattern}': {problem}")]
pub struct InvalidPattern {
    /// The pattern as written.
    pub pattern: String,
    /// The compiler's message.
    pub problem: String,
}

/// A tag that passed the filter: the value the policy compares, and the tag it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filtered {
    /// What the policy orders: the extracted value, or the tag.
    pub value: String,
    /// The tag as stored.
    pub tag: String,
}

impl TagFilter {
    /// Compiles `pattern` (RE2 syntax, which the `regex` crate shares for everything a tag can
    /// contain) with the `extract` template.
    pub fn new(pattern: &str, extract: &str) -> Result<Self, InvalidPattern> {
        let regex = go_regex(pattern).map_err(|e| InvalidPattern {
            pattern: pattern.to_owned(),
            problem: e.to_string(),
        })?;
        Ok(Self {
            regex,
            extract: extract.to_owned(),
        })
    }

    /// The tags that match, in their original order, each with its value; a value seen twice
    /// keeps the later tag (Flux stores them in a map keyed by value).
    pub fn apply<'a>(&self, tags: impl IntoIterator<Item = &'a str>) -> Vec<Filtered> {
        let mut out: Vec<Filtered> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        for tag in tags {
            let Some(captures) = self.regex.captures(tag) else {
                continue;
            };
            let value = if self.extract.is_empty() {
                tag.to_owned()
            } else {
                expand(&self.regex, &captures, &self.extract)
            };
            match index.get(&value) {
                Some(&i) => out[i].tag = tag.to_owned(),
                None => {
                    index.insert(value.clone(), out.len());
                    out.push(Filtered {
                        value,
                        tag: tag.to_owned(),
                    });
                }
            }
        }
        out
    }
}

/// Compiles a Go (RE2) pattern. The `regex` crate reads RE2 syntax alike for everything an
/// image tag can contain (tags are ASCII, so its Unicode-aware `\d`, `\w` and `\b` match as
/// Go's ASCII ones do); the one RE2 form it lacks, `\Q…\E` literal text, is rewritten here.
pub fn go_regex(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&unquote_literals(pattern))
}

/// Replaces each `\Q…\E` (or `\Q…` to the end) with the escaped literal text.
fn unquote_literals(pattern: &str) -> std::borrow::Cow<'_, str> {
    if !pattern.contains("\\Q") {
        return pattern.into();
    }
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(at) = find_unescaped_quote(rest) {
        out.push_str(&rest[..at]);
        let literal = &rest[at + 2..];
        let (text, after) = literal
            .find("\\E")
            .map_or((literal, ""), |end| (&literal[..end], &literal[end + 2..]));
        out.push_str(&regex::escape(text));
        rest = after;
    }
    out.push_str(rest);
    out.into()
}

/// The byte offset of the next `\Q` that is not itself an escaped backslash followed by `Q`.
fn find_unescaped_quote(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes[i + 1] == b'Q' {
                return Some(i);
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    None
}

/// Go's `Regexp.Expand`: `$$` is a dollar; `$name`/`${name}` take the longest run of letters,
/// digits and underscores; an all-digit name without a leading zero is a group index, anything
/// else a group name; unknown or non-participating groups expand to nothing; a `$` that starts
/// no valid reference is kept as text.
pub fn expand(regex: &Regex, captures: &Captures<'_>, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = reference(rest) else {
            out.push('$');
            continue;
        };
        rest = after;
        let group = match group_index(name) {
            Some(i) => captures.get(i),
            None => regex
                .capture_names()
                .enumerate()
                .filter(|(_, n)| *n == Some(name))
                .find_map(|(i, _)| captures.get(i)),
        };
        if let Some(group) = group {
            out.push_str(group.as_str());
        }
    }
    out.push_str(rest);
    out
}

/// The name after a `$` (`name` or `{name}`) and the text after it, when well formed.
fn reference(text: &str) -> Option<(&str, &str)> {
    let (body, braced) = match text.strip_prefix('{') {
        Some(body) => (body, true),
        None => (text, false),
    };
    let end = body
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let (name, after) = body.split_at(end);
    if braced {
        return after.strip_prefix('}').map(|after| (name, after));
    }
    Some((name, after))
}

/// A group index as Go reads one: ASCII digits, no leading zero, below 10^8.
fn group_index(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    name.parse::<usize>().ok().filter(|n| *n < 100_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pattern: &str, extract: &str, tags: &[&str]) -> Vec<(String, String)> {
        TagFilter::new(pattern, extract)
            .expect("pattern compiles")
            .apply(tags.iter().copied())
            .into_iter()
            .map(|f| (f.value, f.tag))
            .collect()
    }

    fn expanded(pattern: &str, subject: &str, template: &str) -> String {
        let regex = Regex::new(pattern).expect("pattern compiles");
        let captures = regex.captures(subject).expect("subject matches");
        expand(&regex, &captures, template)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(v, t)| ((*v).to_owned(), (*t).to_owned()))
            .collect()
    }

    #[test]
    fn only_matching_tags_pass_and_an_empty_extract_keeps_the_tag() {
        let got = run("^1\\.", "", &["1.0.0", "2.0.0", "1.1.0"]);
        assert_eq!(got, pairs(&[("1.0.0", "1.0.0"), ("1.1.0", "1.1.0")]));
    }

    #[test]
    fn the_pattern_matches_anywhere_unless_anchored() {
        let got = run("rc", "", &["1.0.0-rc.1", "rc", "1.0.0"]);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn an_empty_pattern_matches_every_tag() {
        assert_eq!(run("", "", &["a", "b"]).len(), 2);
    }

    #[test]
    fn a_python_style_named_group_is_extracted_with_dollar_name() {
        let got = run(
            "^RELEASE\\.(?P<timestamp>.*)Z$",
            "$timestamp",
            &["RELEASE.2021-01-01T00-00-00Z", "latest"],
        );
        assert_eq!(
            got,
            pairs(&[("2021-01-01T00-00-00", "RELEASE.2021-01-01T00-00-00Z")])
        );
    }

    #[test]
    fn an_angle_bracket_named_group_is_extracted_too() {
        assert_eq!(expanded("^main-(?<ts>\\d+)$", "main-42", "$ts"), "42");
    }

    #[test]
    fn braces_delimit_a_name_followed_by_name_characters() {
        assert_eq!(
            expanded("^(?P<a>\\w+)-(?P<b>\\d+)$", "x-1", "${a}_${b}"),
            "x_1"
        );
        // Without braces the name runs on: `$a_` is the unknown group `a_`.
        assert_eq!(expanded("^(?P<a>\\w+)-(?P<b>\\d+)$", "x-1", "$a_$b"), "1");
    }

    #[test]
    fn numbered_groups_expand_and_dollar_zero_is_the_whole_match() {
        assert_eq!(expanded("(\\d+)\\.(\\d+)", "v1.22", "$2.$1"), "22.1");
        assert_eq!(expanded("(\\d+)\\.(\\d+)", "v1.22", "$0"), "1.22");
    }

    #[test]
    fn a_number_run_into_letters_is_a_name_not_a_group_index() {
        // Go reads `$1x` as `${1x}`, which names no group.
        assert_eq!(expanded("(\\d+)", "7", "$1x"), "");
        assert_eq!(expanded("(\\d+)", "7", "${1}x"), "7x");
    }

    #[test]
    fn a_leading_zero_makes_a_name_so_dollar_zero_one_expands_to_nothing() {
        assert_eq!(expanded("(\\d+)", "7", "$01"), "");
    }

    #[test]
    fn out_of_range_and_unknown_groups_expand_to_nothing() {
        assert_eq!(expanded("(\\d+)", "7", "[$9][$nope]"), "[][]");
    }

    #[test]
    fn a_group_that_did_not_take_part_expands_to_nothing() {
        assert_eq!(expanded("(a)|(b)", "b", "<$1|$2>"), "<|b>");
    }

    #[test]
    fn a_double_dollar_is_a_literal_dollar() {
        assert_eq!(expanded("(\\d+)", "7", "$$1"), "$1");
    }

    #[test]
    fn a_dollar_starting_no_reference_stays_as_text() {
        assert_eq!(expanded("(\\d+)", "7", "a$-b$"), "a$-b$");
        assert_eq!(expanded("(\\d+)", "7", "${1"), "${1");
        assert_eq!(expanded("(\\d+)", "7", "${}"), "${}");
    }

    #[test]
    fn text_around_references_is_kept() {
        assert_eq!(
            expanded("^v(?P<v>.*)$", "v1.2.3", "version-$v-final"),
            "version-1.2.3-final"
        );
    }

    #[test]
    fn two_tags_extracting_the_same_value_keep_the_later_tag() {
        let got = run("^(?P<n>\\d+)-", "$n", &["5-a", "5-b", "6-c"]);
        assert_eq!(got, pairs(&[("5", "5-b"), ("6", "6-c")]));
    }

    #[test]
    fn quoted_literal_text_matches_as_in_re2() {
        assert_eq!(
            run("^\\Qv1.0+\\E", "", &["v1.0+build", "v1x0+", "v1.00"]),
            pairs(&[("v1.0+build", "v1.0+build")])
        );
        // Unterminated quoting runs to the end; an escaped backslash before Q is no quote.
        assert_eq!(run("\\Q.*", "", &["a.*", "abc"]).len(), 1);
        assert!(go_regex("\\\\Q").is_ok_and(|r| r.is_match("\\Q")));
    }

    #[test]
    fn an_invalid_pattern_names_the_pattern() {
        let err = TagFilter::new("(unclosed", "").expect_err("does not compile");
        assert!(
            err.to_string()
                .starts_with("invalid regular expression pattern '(unclosed': "),
            "{err}"
        );
    }
}
