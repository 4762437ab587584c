//! values.schema.json: a JSON-Schema validator (draft-07, and the 2020-12 keywords Helm's
//! validator defaults to) covering type, enum, const, properties, patternProperties,
//! additionalProperties, propertyNames, required, dependencies / dependentRequired /
//! dependentSchemas, min/maxProperties, items / prefixItems / additionalItems, contains,
//! uniqueItems, numeric bounds and multipleOf, length bounds, pattern, allOf/anyOf/oneOf/not,
//! if/then/else and local `$ref`s (`format` is an annotation, as Helm leaves it) — with failures
//! worded as the
//! santhosh-tekuri/jsonschema library inside Helm words them
//! (`- at '/replicaCount': got string, want integer`).

use serde_json::Value as Json;

use crate::Values;
use crate::chart::Chart;
use crate::error::Error;

/// Validates `values` against the chart's schema and its subcharts'
/// schemas (each against its own part of the values).
pub fn validate_chart(chart: &Chart, values: &Values) -> Result<(), Error> {
    let mut sb = String::new();
    collect(chart, values, &mut sb)?;
    if sb.is_empty() {
        Ok(())
    } else {
        Err(Error::Schema(sb))
    }
}

fn collect(chart: &Chart, values: &Values, sb: &mut String) -> Result<(), Error> {
    if let Some(raw) = &chart.schema {
        let schema: Json = serde_json::from_slice(raw).map_err(|e| Error::Parse {
            file: format!("{}/values.schema.json", chart.name()),
            message: e.to_string(),
        })?;
        let mut errors = Vec::new();
        let instance = Json::Object(values.clone());
        check(&schema, &schema, &instance, "", &mut errors, 0);
        if !errors.is_empty() {
            sb.push_str(&format!("{}:\n", chart.name()));
            let lines: Vec<String> = errors.iter().map(|e| format!("- {e}")).collect();
            sb.push_str(&lines.join("\n"));
            sb.push('\n');
        }
    }
    for sub in &chart.dependencies {
        match values.get(sub.name()) {
            None | Some(Json::Null) => {}
            Some(Json::Object(m)) => collect(sub, m, sb)?,
            Some(other) => sb.push_str(&format!(
                "{}:\ninvalid type for values: expected object (map), got {}\n",
                sub.name(),
                crate::values::go_type_name(other)
            )),
        }
    }
    Ok(())
}

/// Schemas nest; a `$ref` loop must not recurse forever.
const MAX_DEPTH: usize = 64;

fn kind_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 => "integer",
            _ => "number",
        },
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn type_matches(want: &str, v: &Json) -> bool {
    let got = kind_of(v);
    want == got || (want == "number" && got == "integer")
}

/// `'x'` as the library quotes strings.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "\\'"))
}

fn display(v: &Json) -> String {
    match v {
        Json::String(s) => quote(s),
        other => other.to_string(),
    }
}

fn num(v: f64) -> String {
    driftless_gotemplate::gofmt::sprint_value(&driftless_gotemplate::Value::Float(v))
}

fn resolve<'a>(root: &'a Json, reference: &str) -> Option<&'a Json> {
    let pointer = reference.strip_prefix('#')?;
    root.pointer(pointer)
}

fn check(root: &Json, schema: &Json, v: &Json, at: &str, errs: &mut Vec<String>, depth: usize) {
    let Json::Object(s) = schema else {
        if schema == &Json::Bool(false) {
            errs.push(format!("at {}: false schema", quote(at)));
        }
        return;
    };
    if depth > MAX_DEPTH {
        errs.push(format!("at {}: schema nests too deeply", quote(at)));
        return;
    }
    let mut fail = |m: String| errs.push(format!("at {}: {m}", quote(at)));
    if let Some(Json::String(r)) = s.get("$ref") {
        match resolve(root, r) {
            Some(target) => check(root, target, v, at, errs, depth + 1),
            None => fail(format!("cannot resolve $ref {}", quote(r))),
        }
        return;
    }
    let types: Vec<&str> = match s.get("type") {
        Some(Json::String(t)) => vec![t.as_str()],
        Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() && !types.iter().any(|t| type_matches(t, v)) {
        fail(format!("got {}, want {}", kind_of(v), types.join(" or ")));
        return;
    }
    if let Some(Json::Array(options)) = s.get("enum")
        && !options.iter().any(|o| json_eq(o, v))
    {
        let all_primitive = options.iter().all(|o| !o.is_array() && !o.is_object());
        fail(match (all_primitive, options.len()) {
            (true, 1) => format!("value must be {}", display(&options[0])),
            (true, _) => format!(
                "value must be one of {}",
                options.iter().map(display).collect::<Vec<_>>().join(", ")
            ),
            _ => "'enum' failed".into(),
        });
    }
    if let Some(c) = s.get("const")
        && !json_eq(c, v)
    {
        fail(format!("value must be {}", display(c)));
    }
    if let Some(n) = v.as_f64() {
        let bound = |k: &str| s.get(k).and_then(Json::as_f64);
        if let Some(m) = bound("minimum").filter(|m| n < *m) {
            fail(format!("minimum: got {}, want {}", num(n), num(m)));
        }
        if let Some(m) = bound("maximum").filter(|m| n > *m) {
            fail(format!("maximum: got {}, want {}", num(n), num(m)));
        }
        if let Some(m) = bound("exclusiveMinimum").filter(|m| n <= *m) {
            fail(format!("exclusiveMinimum: got {}, want {}", num(n), num(m)));
        }
        if let Some(m) = bound("exclusiveMaximum").filter(|m| n >= *m) {
            fail(format!("exclusiveMaximum: got {}, want {}", num(n), num(m)));
        }
        if let Some(m) = bound("multipleOf").filter(|m| *m > 0.0 && !is_multiple(n, *m)) {
            fail(format!("multipleOf: got {}, want {}", num(n), num(m)));
        }
    }
    if let Json::String(text) = v {
        let len = text.chars().count() as u64;
        if let Some(m) = s
            .get("minLength")
            .and_then(Json::as_u64)
            .filter(|m| len < *m)
        {
            fail(format!("minLength: got {len}, want {m}"));
        }
        if let Some(m) = s
            .get("maxLength")
            .and_then(Json::as_u64)
            .filter(|m| len > *m)
        {
            fail(format!("maxLength: got {len}, want {m}"));
        }
        if let Some(Json::String(p)) = s.get("pattern")
            && let Ok(re) = regex::Regex::new(p)
            && !re.is_match(text)
        {
            fail(format!(
                "{} does not match pattern {}",
                quote(text),
                quote(p)
            ));
        }
    }
    if let Json::Array(items) = v {
        let len = items.len() as u64;
        if let Some(m) = s
            .get("minItems")
            .and_then(Json::as_u64)
            .filter(|m| len < *m)
        {
            fail(format!("minItems: got {len}, want {m}"));
        }
        if let Some(m) = s
            .get("maxItems")
            .and_then(Json::as_u64)
            .filter(|m| len > *m)
        {
            fail(format!("maxItems: got {len}, want {m}"));
        }
        if s.get("uniqueItems") == Some(&Json::Bool(true))
            && let Some((i, j)) = first_duplicate(items)
        {
            fail(format!("items at {i} and {j} are equal"));
        }
        if let Some(wanted) = s.get("contains")
            && !items.iter().any(|item| {
                let mut e = Vec::new();
                check(root, wanted, item, at, &mut e, depth + 1);
                e.is_empty()
            })
        {
            fail("no items match contains schema".into());
        }
        // Positional schemas: 2020-12 `prefixItems` (then `items` for the rest), or draft-07
        // `items` as an array (then `additionalItems` for the rest, refused as one count).
        let (positional, rest, draft07) = match (s.get("prefixItems"), s.get("items")) {
            (Some(Json::Array(prefix)), rest) => (prefix.as_slice(), rest, false),
            (None, Some(Json::Array(tuple))) => (tuple.as_slice(), s.get("additionalItems"), true),
            (_, rest) => (&[][..], rest, false),
        };
        let beyond = items.len().saturating_sub(positional.len());
        if draft07 && beyond > 0 && rest == Some(&Json::Bool(false)) {
            fail(format!("last {beyond} additionalItem(s) not allowed"));
        }
        for (i, item) in items.iter().enumerate() {
            let item_schema = match positional.get(i) {
                Some(schema) => Some(schema),
                None if draft07 && rest == Some(&Json::Bool(false)) => None,
                None => rest.filter(|r| r.is_object() || r.is_boolean()),
            };
            if let Some(item_schema) = item_schema {
                check(
                    root,
                    item_schema,
                    item,
                    &format!("{at}/{i}"),
                    errs,
                    depth + 1,
                );
            }
        }
    }
    if let Json::Object(obj) = v {
        if let Some(Json::Array(req)) = s.get("required") {
            let missing: Vec<String> = req
                .iter()
                .filter_map(Json::as_str)
                .filter(|k| !obj.contains_key(*k))
                .map(quote)
                .collect();
            match missing.len() {
                0 => {}
                1 => errs.push(format!("at {}: missing property {}", quote(at), missing[0])),
                _ => errs.push(format!(
                    "at {}: missing properties {}",
                    quote(at),
                    missing.join(", ")
                )),
            }
        }
        let count = obj.len() as u64;
        if let Some(m) = s
            .get("minProperties")
            .and_then(Json::as_u64)
            .filter(|m| count < *m)
        {
            errs.push(format!(
                "at {}: minProperties: got {count}, want {m}",
                quote(at)
            ));
        }
        if let Some(m) = s
            .get("maxProperties")
            .and_then(Json::as_u64)
            .filter(|m| count > *m)
        {
            errs.push(format!(
                "at {}: maxProperties: got {count}, want {m}",
                quote(at)
            ));
        }
        if let Some(names) = s.get("propertyNames") {
            for k in obj.keys() {
                let mut e = Vec::new();
                check(root, names, &Json::String(k.clone()), "", &mut e, depth + 1);
                if !e.is_empty() {
                    errs.push(format!(
                        "at {}: invalid propertyName {}",
                        quote(at),
                        quote(k)
                    ));
                }
            }
        }
        dependencies(root, s, obj, v, at, errs, depth);
        let props = match s.get("properties") {
            Some(Json::Object(p)) => Some(p),
            _ => None,
        };
        let patterns: Vec<(regex::Regex, &Json)> = match s.get("patternProperties") {
            Some(Json::Object(p)) => p
                .iter()
                .filter_map(|(pattern, schema)| Some((regex::Regex::new(pattern).ok()?, schema)))
                .collect(),
            _ => Vec::new(),
        };
        let mut extra = Vec::new();
        for (k, child) in obj {
            let child_at = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
            let mut matched = false;
            for (_, schema) in patterns.iter().filter(|(re, _)| re.is_match(k)) {
                matched = true;
                check(root, schema, child, &child_at, errs, depth + 1);
            }
            match props.and_then(|p| p.get(k)) {
                Some(ps) => check(root, ps, child, &child_at, errs, depth + 1),
                None if matched => {}
                None => match s.get("additionalProperties") {
                    Some(Json::Bool(false)) => extra.push(quote(k)),
                    Some(ap @ Json::Object(_)) => {
                        check(root, ap, child, &child_at, errs, depth + 1)
                    }
                    _ => {}
                },
            }
        }
        if !extra.is_empty() {
            errs.push(format!(
                "at {}: additional properties {} not allowed",
                quote(at),
                extra.join(", ")
            ));
        }
    }
    let passes = |sub: &Json| {
        let mut e = Vec::new();
        check(root, sub, v, at, &mut e, depth + 1);
        e.is_empty()
    };
    if let Some(Json::Array(all)) = s.get("allOf") {
        for sub in all {
            check(root, sub, v, at, errs, depth + 1);
        }
    }
    if let Some(Json::Array(any)) = s.get("anyOf")
        && !any.iter().any(passes)
    {
        errs.push(format!("at {}: anyOf failed", quote(at)));
    }
    if let Some(Json::Array(one)) = s.get("oneOf")
        && one.iter().filter(|x| passes(x)).count() != 1
    {
        errs.push(format!("at {}: oneOf failed", quote(at)));
    }
    if let Some(not) = s.get("not")
        && passes(not)
    {
        errs.push(format!("at {}: not failed", quote(at)));
    }
    if let Some(condition) = s.get("if") {
        let branch = if passes(condition) { "then" } else { "else" };
        if let Some(branch) = s.get(branch) {
            check(root, branch, v, at, errs, depth + 1);
        }
    }
}

/// Draft-07 `dependencies` and 2020-12 `dependentRequired` / `dependentSchemas`: when a
/// property is present, other properties must be too, or the object must pass a schema.
fn dependencies(
    root: &Json,
    s: &serde_json::Map<String, Json>,
    obj: &serde_json::Map<String, Json>,
    v: &Json,
    at: &str,
    errs: &mut Vec<String>,
    depth: usize,
) {
    for keyword in ["dependencies", "dependentRequired", "dependentSchemas"] {
        let Some(Json::Object(deps)) = s.get(keyword) else {
            continue;
        };
        for (present, dependency) in deps.iter().filter(|(k, _)| obj.contains_key(*k)) {
            match dependency {
                Json::Array(required) => {
                    let missing: Vec<String> = required
                        .iter()
                        .filter_map(Json::as_str)
                        .filter(|k| !obj.contains_key(*k))
                        .map(quote)
                        .collect();
                    if !missing.is_empty() {
                        errs.push(format!(
                            "at {}: properties {} required, if {} exists",
                            quote(at),
                            missing.join(", "),
                            quote(present)
                        ));
                    }
                }
                schema => check(root, schema, v, at, errs, depth + 1),
            }
        }
    }
}

/// Whether `n` is an integer multiple of `m`, tolerating float rounding (0.3 of 0.1).
fn is_multiple(n: f64, m: f64) -> bool {
    let q = n / m;
    (q - q.round()).abs() < 1e-9
}

/// The first pair of equal items, as the validator reports them.
fn first_duplicate(items: &[Json]) -> Option<(usize, usize)> {
    (0..items.len()).find_map(|i| {
        (i + 1..items.len())
            .find(|j| json_eq(&items[i], &items[*j]))
            .map(|j| (i, j))
    })
}

/// JSON equality with numbers compared by value (1 == 1.0).
fn json_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, p)| y.get(k).is_some_and(|q| json_eq(p, q)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests;
