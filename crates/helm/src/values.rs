//! Values: YAML decoded as Helm decodes it (through JSON, numbers float64),
//! `-f` files merged in order, and Helm's coalescing of user values over a
//! chart's defaults, subchart by subchart, with `global` carried down and
//! `null` deleting a default.

use driftless_gotemplate::{Map, Value};
use serde_json::Value as Json;

use crate::Values;
use crate::chart::Chart;
use crate::error::Error;
use crate::render::HelmVersion;

/// The key whose values every subchart sees.
pub const GLOBAL_KEY: &str = "global";

/// YAML text as JSON-shaped data, decoded the way `sigs.k8s.io/yaml` does.
pub fn parse_yaml(text: &str) -> Result<Json, String> {
    let v = driftless_gotemplate::yaml::parse(text)?;
    Ok(to_json(&v))
}

/// A values document: a map, or nothing (empty file). Like Go's YAML
/// decoder, only the first document of a stream counts.
pub fn parse_values(data: &[u8]) -> Result<Values, String> {
    match parse_yaml(first_document(&String::from_utf8_lossy(data)))? {
        Json::Object(m) => Ok(m),
        Json::Null => Ok(Values::new()),
        other => Err(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_kind(&other)
        )),
    }
}

/// A values file as the given Helm release reads it. Helm 3 decodes the
/// first YAML document; Helm 4 merges every document (split at lines that
/// are `---` and blanks, as k8s.io's YAMLReader splits them), later ones
/// winning key by key, and words a bad one `cannot unmarshal yaml document`.
pub fn parse_values_as(data: &[u8], version: HelmVersion) -> Result<Values, String> {
    if version == HelmVersion::V3 {
        return parse_values(data);
    }
    let text = String::from_utf8_lossy(data);
    let mut out = Values::new();
    for doc in yaml_reader_documents(&text) {
        let current = parse_values(doc.as_bytes())
            .map_err(|e| format!("cannot unmarshal yaml document: {e}"))?;
        out = merge_maps(out, current);
    }
    Ok(out)
}

/// The first YAML document of a stream: up to the `---` or `...` marker
/// (at a line start, then a blank or the line end) that follows its
/// content or its own start marker. YAML forbids such lines inside
/// content, so a line scan finds them.
fn first_document(text: &str) -> &str {
    let marker = |line: &str, m: &str| {
        line.strip_prefix(m)
            .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t', '\r', '\n']))
    };
    let mut started = false;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let is_start = marker(line, "---");
        if (is_start || marker(line, "...")) && started {
            return &text[..offset];
        }
        let t = line.trim();
        if is_start || !(t.is_empty() || t.starts_with('#') || t.starts_with('%')) {
            started = true;
        }
        offset += line.len();
    }
    text
}

/// k8s.io's YAMLReader: documents end at a line starting with `---` and
/// nothing but blanks after it; empty documents are skipped.
fn yaml_reader_documents(text: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut buf = String::new();
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("---")
            && rest.trim_end().is_empty()
        {
            if !buf.is_empty() {
                docs.push(std::mem::take(&mut buf));
            }
            continue;
        }
        buf.push_str(line);
    }
    if !buf.is_empty() {
        docs.push(buf);
    }
    docs
}

/// JSON's name for a value's kind, as Go's decoder words type errors.
pub(crate) fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
        Json::Null => "null",
    }
}

fn to_json(v: &Value) -> Json {
    match v {
        Value::Invalid | Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) | Value::Int64(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Str(s) => Json::String(s.to_string()),
        Value::List(l) => Json::Array(l.iter().map(to_json).collect()),
        Value::StrList(l) => Json::Array(l.iter().map(|s| Json::String(s.clone())).collect()),
        Value::Map(m) => Json::Object(
            m.entries()
                .into_iter()
                .map(|(k, v)| (k, to_json(&v)))
                .collect(),
        ),
        Value::Bytes(b) => Json::String(String::from_utf8_lossy(b).into_owned()),
        other => Json::String(driftless_gotemplate::gofmt::sprint_value(other)),
    }
}

/// Values as templates see them: float64 numbers from YAML, int64 from
/// `--set`.
pub fn to_template(v: &Json) -> Value {
    match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) if !n.is_f64() => Value::Int64(i),
            _ => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => Value::str(s.as_str()),
        Json::Array(a) => Value::list(a.iter().map(to_template).collect()),
        Json::Object(o) => Value::map(map_to_template(o)),
    }
}

pub fn map_to_template(o: &Values) -> Map {
    o.iter().map(|(k, v)| (k.clone(), to_template(v))).collect()
}

/// `-f` files in order: maps merge key by key, anything else replaces.
pub fn merge_maps(mut a: Values, b: Values) -> Values {
    for (k, v) in b {
        match (a.get_mut(&k), v) {
            (Some(Json::Object(av)), Json::Object(bv)) => {
                let merged = merge_maps(std::mem::take(av), bv);
                *av = merged;
            }
            (_, v) => {
                a.insert(k, v);
            }
        }
    }
    a
}

/// Helm's `CoalesceValues` (`merge` false: a user `null` deletes the
/// default) and `MergeValues` (`merge` true: nulls stay), as Helm 3 does.
pub fn coalesce(chart: &Chart, vals: Values, merge: bool) -> Result<Values, Error> {
    coalesce_as(chart, vals, merge, HelmVersion::V3)
}

/// [`coalesce`] as the given Helm release does it. Helm 4, when coalescing
/// (not merging), also drops `null`s that come from a chart's own defaults,
/// so a default of `null` no longer shows up as a key, shadows a global or
/// prints as `%!s(<nil>)`; a user's `null` still deletes the default.
pub fn coalesce_as(
    chart: &Chart,
    vals: Values,
    merge: bool,
    version: HelmVersion,
) -> Result<Values, Error> {
    let mut dest = vals;
    coalesce_chart_values(chart, &mut dest, merge, version);
    coalesce_deps(chart, dest, merge, version)
}

fn coalesce_deps(
    chart: &Chart,
    mut dest: Values,
    merge: bool,
    version: HelmVersion,
) -> Result<Values, Error> {
    for sub in &chart.dependencies {
        let name = sub.name().to_string();
        let sub_vals = match dest.remove(&name) {
            None => Values::new(),
            Some(Json::Object(m)) => m,
            Some(other) => {
                return Err(Error::Chart(format!(
                    "type mismatch on {name}: %!t({}={})",
                    go_type_name(&other),
                    driftless_gotemplate::gofmt::sprint_value(&to_template(&other))
                )));
            }
        };
        let mut sub_vals = sub_vals;
        coalesce_globals(&mut sub_vals, &dest);
        let done = coalesce_as(sub, sub_vals, merge, version)?;
        dest.insert(name, Json::Object(done));
    }
    Ok(dest)
}

/// Go's `%T` of a decoded value.
pub(crate) fn go_type_name(v: &Json) -> &'static str {
    match v {
        Json::Bool(_) => "bool",
        Json::Number(n) if !n.is_f64() => "int64",
        Json::Number(_) => "float64",
        Json::String(_) => "string",
        Json::Array(_) => "[]interface {}",
        Json::Object(_) => "map[string]interface {}",
        Json::Null => "<nil>",
    }
}

/// The parent's globals flow into the child's `global`, the parent winning.
fn coalesce_globals(dest: &mut Values, src: &Values) {
    let mut dg = match dest.get(GLOBAL_KEY) {
        None => Values::new(),
        Some(Json::Object(m)) => m.clone(),
        Some(_) => return,
    };
    let sg = match src.get(GLOBAL_KEY) {
        None => Values::new(),
        Some(Json::Object(m)) => m.clone(),
        Some(_) => return,
    };
    for (key, val) in sg {
        match val {
            Json::Object(vv) => match dg.get(&key) {
                None => {
                    dg.insert(key, Json::Object(vv));
                }
                Some(Json::Object(destv)) => {
                    let merged = coalesce_tables(vv, destv.clone(), true);
                    dg.insert(key, Json::Object(merged));
                }
                Some(_) => {}
            },
            val => {
                if !matches!(dg.get(&key), Some(Json::Object(_))) {
                    dg.insert(key, val);
                }
            }
        }
    }
    dest.insert(GLOBAL_KEY.into(), Json::Object(dg));
}

fn coalesce_chart_values(chart: &Chart, v: &mut Values, merge: bool, version: HelmVersion) {
    let drop_default_nulls = version == HelmVersion::V4 && !merge;
    for (key, val) in &chart.values {
        match v.get_mut(key) {
            Some(Json::Null) if !merge => {
                v.remove(key);
            }
            Some(Json::Object(dest)) => {
                if let Json::Object(src) = val {
                    // A subchart's table is merged (its nulls kept) whatever the mode.
                    let merge = merge || chart.dependencies.iter().any(|d| d.name() == key);
                    let mut src = src.clone();
                    if drop_default_nulls && !merge {
                        remove_nulls(&mut src);
                    }
                    let d = std::mem::take(dest);
                    *dest = coalesce_tables(d, src, merge);
                }
            }
            Some(_) => {}
            None => {
                let mut val = val.clone();
                if drop_default_nulls {
                    match &mut val {
                        Json::Null => continue,
                        Json::Object(m) => remove_nulls(m),
                        _ => {}
                    }
                }
                v.insert(key.clone(), val);
            }
        }
    }
}

/// Helm 4's `cleanNilValues`: `null` entries out of a map and its nested
/// maps (lists are left alone).
fn remove_nulls(m: &mut Values) {
    m.retain(|_, v| !v.is_null());
    for v in m.values_mut() {
        if let Json::Object(sub) = v {
            remove_nulls(sub);
        }
    }
}

/// Helm's `coalesceTablesFullKey`: `src` fills what `dst` lacks; a `null`
/// in `dst` deletes the key unless merging.
pub fn coalesce_tables(mut dst: Values, mut src: Values, merge: bool) -> Values {
    let src_non_nil: std::collections::BTreeSet<String> = src
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, _)| k.clone())
        .collect();
    for (k, v) in &dst {
        if v.is_null() {
            src.insert(k.clone(), Json::Null);
        }
    }
    for (key, val) in src {
        match dst.get_mut(&key) {
            Some(Json::Null) if !merge && src_non_nil.contains(&key) => {
                dst.remove(&key);
            }
            None => {
                dst.insert(key, val);
            }
            Some(Json::Object(dv)) => {
                if let Json::Object(sv) = val {
                    let d = std::mem::take(dv);
                    *dv = coalesce_tables(d, sv, merge);
                }
            }
            Some(_) => {}
        }
    }
    dst
}

/// `Values.Table("a.b.c")`: the map at that path.
pub fn table<'a>(vals: &'a Values, path: &str) -> Option<&'a Values> {
    let mut cur = vals;
    for part in path.split('.') {
        match cur.get(part) {
            Some(Json::Object(m)) => cur = m,
            _ => return None,
        }
    }
    Some(cur)
}

/// `Values.PathValue("a.b")`: a non-map value at that path.
pub fn path_value<'a>(vals: &'a Values, path: &str) -> Option<&'a Json> {
    let (parent, key) = match path.rsplit_once('.') {
        Some((p, k)) => (table(vals, p)?, k),
        None => (vals, path),
    };
    match parent.get(key) {
        Some(Json::Object(_)) | None => None,
        Some(v) => Some(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Json) -> Values {
        match v {
            Json::Object(m) => m,
            _ => Values::new(),
        }
    }

    #[test]
    fn a_user_null_deletes_the_chart_default() {
        let chart = Chart {
            values: obj(json!({"a": 1.0, "b": {"c": 2.0, "d": 3.0}})),
            ..Chart::default()
        };
        let out =
            coalesce(&chart, obj(json!({"a": null, "b": {"c": null}})), false).expect("coalesces");
        assert_eq!(Json::Object(out), json!({"b": {"d": 3.0}}));
    }

    #[test]
    fn helm_4_drops_null_chart_defaults_but_helm_3_keeps_them() {
        let chart = Chart {
            values: obj(json!({
                "gone": null,
                "res": {"limits": null, "requests": {"cpu": "1", "mem": null}},
                "list": [null],
                "kept": {"x": null}
            })),
            ..Chart::default()
        };
        let user = obj(json!({"kept": {"y": 1.0}}));
        let v3 = coalesce_as(&chart, user.clone(), false, HelmVersion::V3).expect("coalesces");
        assert_eq!(
            Json::Object(v3),
            json!({"gone": null, "res": {"limits": null, "requests": {"cpu": "1", "mem": null}},
                   "list": [null], "kept": {"x": null, "y": 1.0}})
        );
        let v4 = coalesce_as(&chart, user, false, HelmVersion::V4).expect("coalesces");
        assert_eq!(
            Json::Object(v4),
            json!({"res": {"requests": {"cpu": "1"}}, "list": [null], "kept": {"y": 1.0}})
        );
    }

    #[test]
    fn helm_4_keeps_null_defaults_when_merging() {
        let chart = Chart {
            values: obj(json!({"gone": null})),
            ..Chart::default()
        };
        let v4 = coalesce_as(&chart, Values::new(), true, HelmVersion::V4).expect("merges");
        assert_eq!(Json::Object(v4), json!({"gone": null}));
    }

    #[test]
    fn helm_4_merges_every_document_of_a_values_file() {
        // `--- # c` does not split for the reader, so `c: 3` is the second
        // YAML document of a chunk, which the decoder ignores (as helm 4 does).
        let text = b"a: 1\nm:\n  x: 1\n---\n---  \nb: 2\nm:\n  z: 2\n--- # not a separator\nc: 3\n";
        let v3 = parse_values_as(text, HelmVersion::V3);
        assert_eq!(v3.map(Json::Object), Ok(json!({"a": 1.0, "m": {"x": 1.0}})));
        let v4 = parse_values_as(text, HelmVersion::V4).expect("parses");
        assert_eq!(
            Json::Object(v4),
            json!({"a": 1.0, "b": 2.0, "m": {"x": 1.0, "z": 2.0}})
        );
        let bad = parse_values_as(b"a: 1\n---\n- x\n", HelmVersion::V4).expect_err("fails");
        assert!(
            bad.starts_with("cannot unmarshal yaml document: error unmarshaling JSON"),
            "{bad}"
        );
    }

    #[test]
    fn only_the_first_document_of_a_values_stream_counts() {
        assert_eq!(first_document("a: 1\n---\nb: 2\n"), "a: 1\n");
        assert_eq!(
            first_document("# c\n---\na: 1\n--- x\nb\n"),
            "# c\n---\na: 1\n"
        );
        assert_eq!(first_document("a: |\n  ---x\n...\nb\n"), "a: |\n  ---x\n");
        assert_eq!(first_document("a: 1\n----\n"), "a: 1\n----\n");
    }

    #[test]
    fn merge_files_replace_lists_and_merge_maps() {
        let a = obj(json!({"l": [1], "m": {"x": 1, "y": 2}}));
        let b = obj(json!({"l": [2], "m": {"y": 3}}));
        assert_eq!(
            Json::Object(merge_maps(a, b)),
            json!({"l": [2], "m": {"x": 1, "y": 3}})
        );
    }

    #[test]
    fn yaml_numbers_are_float64_for_templates() {
        let v = parse_values(b"count: 3").expect("parses");
        assert!(matches!(to_template(&v["count"]), Value::Float(_)));
    }
}
