//! Kubernetes label selectors as patch targets and replacements use them:
//! `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, terms
//! joined by commas, all of which must hold.

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Req {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    Absent(String),
}

/// A parsed selector; the empty selector selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(Vec<Req>);

impl Selector {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for term in split_terms(text) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            reqs.push(parse_term(term).ok_or_else(|| format!("invalid selector term {term:?}"))?);
        }
        Ok(Self(reqs))
    }

    /// Whether a set of labels (or annotations) satisfies every requirement.
    pub fn matches(&self, have: &[(String, String)]) -> bool {
        let value = |key: &str| have.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        self.0.iter().all(|req| match req {
            Req::In(k, vs) => value(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            Req::NotIn(k, vs) => value(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
            Req::Exists(k) => value(k).is_some(),
            Req::Absent(k) => value(k).is_none(),
        })
    }
}

/// Splits on commas outside parentheses.
fn split_terms(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn parse_term(term: &str) -> Option<Req> {
    if let Some(key) = term.strip_prefix('!') {
        return valid_key(key.trim()).then(|| Req::Absent(key.trim().to_string()));
    }
    if let Some((k, v)) = term.split_once("!=") {
        return Some(Req::NotIn(key(k)?, vec![v.trim().to_string()]));
    }
    if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Some(Req::In(key(k)?, vec![v.trim().to_string()]));
    }
    let words: Vec<&str> = term.splitn(2, char::is_whitespace).collect();
    match words.as_slice() {
        [k] => valid_key(k).then(|| Req::Exists((*k).to_string())),
        [k, rest] => {
            let rest = rest.trim();
            let (op, list) = rest.split_once(char::is_whitespace).map_or_else(
                || rest.split_at(rest.find('(').unwrap_or(rest.len())),
                |(op, list)| (op, list),
            );
            let list = list.trim().strip_prefix('(')?.strip_suffix(')')?;
            let values: Vec<String> = list.split(',').map(|v| v.trim().to_string()).collect();
            match op.trim() {
                "in" => Some(Req::In(key(k)?, values)),
                "notin" => Some(Req::NotIn(key(k)?, values)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn key(k: &str) -> Option<String> {
    let k = k.trim();
    valid_key(k).then(|| k.to_string())
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn set_based_terms_combine_with_equality_terms() {
        let s = Selector::parse("env in (prod, staging),!legacy,tier!=db").expect("parses");
        assert!(s.matches(&labels(&[("env", "prod"), ("tier", "web")])));
        assert!(s.matches(&labels(&[("env", "staging")])));
        assert!(!s.matches(&labels(&[("env", "dev")])));
        assert!(!s.matches(&labels(&[("env", "prod"), ("legacy", "")])));
        assert!(!s.matches(&labels(&[("env", "prod"), ("tier", "db")])));
    }

    #[test]
    fn notin_and_not_equal_select_objects_without_the_key() {
        let s = Selector::parse("tier notin (db)").expect("parses");
        assert!(s.matches(&labels(&[])));
        assert!(
            Selector::parse("a!=b")
                .expect("parses")
                .matches(&labels(&[]))
        );
    }

    #[test]
    fn a_malformed_term_is_an_error() {
        assert!(Selector::parse("env in prod").is_err());
        assert!(Selector::parse("a b c").is_err());
    }
}
