//! `semver` and `semverCompare` with Masterminds/semver v3 rules: loose
//! versions (`v1.2`), `||` of comma- or space-separated constraints, caret,
//! tilde, wildcards and hyphen ranges, and prereleases matching only
//! constraints that carry a prerelease themselves.

use std::cmp::Ordering;

use crate::funcs::{FuncMap, Ty};
use crate::value::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    meta: String,
    original: String,
}

const INVALID: &str = "invalid semantic version";

fn parse_version(text: &str) -> Result<Version, String> {
    let t = text.strip_prefix('v').unwrap_or(text);
    let (core, meta) = match t.split_once('+') {
        Some((c, m)) => (c, m.to_string()),
        None => (t, String::new()),
    };
    let (core, pre) = match core.split_once('-') {
        Some((c, p)) => (c, p.to_string()),
        None => (core, String::new()),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(INVALID.into());
    }
    let num = |i: usize| -> Result<u64, String> {
        parts
            .get(i)
            .map_or(Ok(0), |p| p.parse::<u64>().map_err(|_| INVALID.to_string()))
    };
    if pre.split('.').any(|p| p.is_empty() && !pre.is_empty()) {
        return Err(INVALID.into());
    }
    Ok(Version {
        major: num(0)?,
        minor: num(1)?,
        patch: num(2)?,
        pre,
        meta,
        original: text.to_string(),
    })
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for (x, y) in pa.iter().zip(pb.iter()) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

fn cmp(a: &Version, b: &Version) -> Ordering {
    (a.major, a.minor, a.patch)
        .cmp(&(b.major, b.minor, b.patch))
        .then_with(|| cmp_pre(&a.pre, &b.pre))
}

/// One `op version` term; wildcards are kept as which parts were given.
#[derive(Debug)]
struct Term {
    op: String,
    v: Version,
    /// How many of major.minor.patch were numbers (the rest were x, *, or absent).
    given: usize,
}

fn parse_term(text: &str) -> Result<Term, String> {
    let t = text.trim();
    let op_len = t
        .find(|c: char| c.is_ascii_alphanumeric() || c == '*')
        .unwrap_or(t.len());
    let (op, rest) = t.split_at(op_len);
    let op = op.trim().to_string();
    if !matches!(
        op.as_str(),
        "" | "=" | "!=" | ">" | "<" | ">=" | "=>" | "<=" | "=<" | "~" | "~>" | "^"
    ) {
        return Err(format!(
            "improper constraint: {}",
            crate::gofmt::quote(text)
        ));
    }
    let rest = rest.trim().strip_prefix('v').unwrap_or(rest.trim());
    let (core, tail) = match rest.find(['-', '+']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut nums = Vec::new();
    let mut given = 0;
    for (i, p) in core.split('.').enumerate() {
        if i > 2 {
            return Err(format!(
                "improper constraint: {}",
                crate::gofmt::quote(text)
            ));
        }
        if matches!(p, "x" | "X" | "*") {
            nums.push("0".to_string());
        } else if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) {
            if given != i {
                return Err(format!(
                    "improper constraint: {}",
                    crate::gofmt::quote(text)
                ));
            }
            given += 1;
            nums.push(p.to_string());
        } else {
            return Err(format!(
                "improper constraint: {}",
                crate::gofmt::quote(text)
            ));
        }
    }
    let v = parse_version(&format!("{}{}", nums.join("."), tail))
        .map_err(|_| format!("improper constraint: {}", crate::gofmt::quote(text)))?;
    Ok(Term { op, v, given })
}

fn bump(v: &Version, part: usize) -> Version {
    let mut n = v.clone();
    n.pre.clear();
    match part {
        0 => {
            n.major += 1;
            n.minor = 0;
            n.patch = 0;
        }
        1 => {
            n.minor += 1;
            n.patch = 0;
        }
        _ => n.patch += 1,
    }
    n
}

fn term_matches(t: &Term, v: &Version) -> bool {
    // A prerelease version only satisfies terms that name a prerelease.
    if !v.pre.is_empty() && t.v.pre.is_empty() {
        return false;
    }
    let c = cmp(v, &t.v);
    match t.op.as_str() {
        "" | "=" => {
            if t.given == 3 {
                c == Ordering::Equal
            } else if t.given == 0 {
                true
            } else {
                c != Ordering::Less && cmp(v, &bump(&t.v, t.given - 1)) == Ordering::Less
            }
        }
        "!=" => {
            if t.given == 3 {
                c != Ordering::Equal
            } else if t.given == 0 {
                false
            } else {
                !(c != Ordering::Less && cmp(v, &bump(&t.v, t.given - 1)) == Ordering::Less)
            }
        }
        ">" => {
            if t.given == 3 {
                c == Ordering::Greater
            } else if t.given == 0 {
                false
            } else {
                cmp(v, &bump(&t.v, t.given - 1)) != Ordering::Less
            }
        }
        ">=" | "=>" => c != Ordering::Less,
        "<" => c == Ordering::Less,
        "<=" | "=<" => {
            if t.given == 3 || t.given == 0 {
                c != Ordering::Greater || t.given == 0
            } else {
                cmp(v, &bump(&t.v, t.given - 1)) == Ordering::Less
            }
        }
        "~" | "~>" => {
            let upper = if t.given <= 1 {
                bump(&t.v, 0)
            } else {
                bump(&t.v, 1)
            };
            c != Ordering::Less && cmp(v, &upper) == Ordering::Less
        }
        "^" => {
            let upper = if t.v.major > 0 || t.given <= 1 {
                bump(&t.v, 0)
            } else if t.v.minor > 0 || t.given == 2 {
                bump(&t.v, 1)
            } else {
                bump(&t.v, 2)
            };
            c != Ordering::Less && cmp(v, &upper) == Ordering::Less
        }
        _ => false,
    }
}

/// A constraint: OR of ANDs.
fn satisfies(constraint: &str, v: &Version) -> Result<bool, String> {
    let mut groups = Vec::new();
    for alt in constraint.split("||") {
        let mut terms = Vec::new();
        // "1.2 - 1.4" is ">= 1.2, <= 1.4".
        let alt = alt.trim();
        if let Some((lo, hi)) = alt.split_once(" - ") {
            terms.push(parse_term(&format!(">={}", lo.trim()))?);
            terms.push(parse_term(&format!("<={}", hi.trim()))?);
        } else {
            let normalised = alt.replace(',', " ");
            let mut pending = String::new();
            for tok in normalised.split_whitespace() {
                if tok.chars().all(|c| "<>=!~^".contains(c)) {
                    pending.push_str(tok);
                    continue;
                }
                terms.push(parse_term(&format!("{pending}{tok}"))?);
                pending.clear();
            }
            if !pending.is_empty() || terms.is_empty() {
                return Err(format!(
                    "improper constraint: {}",
                    crate::gofmt::quote(constraint)
                ));
            }
        }
        groups.push(terms);
    }
    Ok(groups.iter().any(|g| g.iter().all(|t| term_matches(t, v))))
}

/// Whether `version` satisfies `constraint` (Masterminds semver rules, as
/// Helm's chart kubeVersion and dependency version checks apply them).
pub fn satisfies_constraint(constraint: &str, version: &str) -> Result<bool, String> {
    satisfies(constraint, &parse_version(version)?)
}

pub fn register(m: &mut FuncMap) {
    m.add("semverCompare", &[Ty::Str, Ty::Str], None, |a| {
        let c = a[0].as_str().unwrap_or_default().to_string();
        let v = parse_version(a[1].as_str().unwrap_or_default())?;
        satisfies(&c, &v).map(Value::Bool)
    });
    m.add("semver", &[Ty::Str], None, |a| {
        let v = parse_version(a[0].as_str().unwrap_or_default())?;
        let mut d = Map::new();
        d.insert("Major".into(), Value::Int64(v.major as i64));
        d.insert("Minor".into(), Value::Int64(v.minor as i64));
        d.insert("Patch".into(), Value::Int64(v.patch as i64));
        d.insert("Prerelease".into(), Value::str(v.pre.as_str()));
        d.insert("Metadata".into(), Value::str(v.meta.as_str()));
        d.insert("Original".into(), Value::str(v.original.as_str()));
        Ok(Value::map(d))
    });
}
