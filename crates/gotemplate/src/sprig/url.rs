//! Sprig's urlParse and urlJoin, for the URL shapes charts use
//! (scheme://userinfo@host/path?query#fragment and opaque forms).

use crate::funcs::{FuncMap, Ty};
use crate::value::{Map, Value};

fn parse(v: &str) -> Map {
    let mut rest = v;
    let field = |k: &str, val: &str, m: &mut Map| {
        m.insert(k.to_string(), Value::str(val));
    };
    let mut m = Map::new();
    let (before_frag, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    rest = before_frag;
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    rest = before_query;
    let mut scheme = "";
    if let Some(i) = rest.find(':') {
        let cand = &rest[..i];
        if !cand.is_empty()
            && cand.starts_with(|c: char| c.is_ascii_alphabetic())
            && cand
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            scheme = cand;
            rest = &rest[i + 1..];
        }
    }
    let (mut host, mut userinfo, mut path, mut opaque) = ("", "", rest, "");
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find('/').unwrap_or(after.len());
        let authority = &after[..end];
        path = &after[end..];
        match authority.rsplit_once('@') {
            Some((u, h)) => {
                userinfo = u;
                host = h;
            }
            None => host = authority,
        }
    } else if !scheme.is_empty() && !rest.starts_with('/') {
        opaque = rest;
        path = "";
    }
    let hostname = match host.strip_prefix('[') {
        Some(h) => h.split(']').next().unwrap_or(h),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    field("scheme", &scheme.to_ascii_lowercase(), &mut m);
    field("host", host, &mut m);
    field("hostname", hostname, &mut m);
    field("path", path, &mut m);
    field("query", query, &mut m);
    field("opaque", opaque, &mut m);
    field("fragment", fragment, &mut m);
    field("userinfo", userinfo, &mut m);
    m
}

fn get(d: &Map, key: &str) -> Result<String, String> {
    match d.get(key) {
        None => Ok(String::new()),
        Some(Value::Str(s)) => Ok(s.to_string()),
        Some(other) => Err(format!(
            "unable to parse {key} key, must be of type string, but {} found",
            super::conv::kind_of(other)
        )),
    }
}

fn join(d: &Map) -> Result<String, String> {
    let mut out = String::new();
    let scheme = get(d, "scheme")?;
    if !scheme.is_empty() {
        out.push_str(&scheme);
        out.push(':');
    }
    let opaque = get(d, "opaque")?;
    if !opaque.is_empty() {
        out.push_str(&opaque);
    } else {
        let host = get(d, "host")?;
        let user = get(d, "userinfo")?;
        if !scheme.is_empty() || !host.is_empty() || !user.is_empty() {
            out.push_str("//");
            if !user.is_empty() {
                out.push_str(&user);
                out.push('@');
            }
            out.push_str(&host);
        }
        let path = get(d, "path")?;
        if !path.is_empty() && !path.starts_with('/') && !host.is_empty() {
            out.push('/');
        }
        out.push_str(&path);
    }
    let query = get(d, "query")?;
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    let fragment = get(d, "fragment")?;
    if !fragment.is_empty() {
        out.push('#');
        out.push_str(&fragment);
    }
    Ok(out)
}

pub fn register(m: &mut FuncMap) {
    m.add("urlParse", &[Ty::Str], None, |a| {
        Ok(Value::map(parse(a[0].as_str().unwrap_or_default())))
    });
    m.add("urlJoin", &[Ty::Map], None, |a| {
        let d = match &a[0] {
            Value::Map(m) => m.snapshot(),
            _ => Map::new(),
        };
        join(&d).map(Value::str)
    });
}
