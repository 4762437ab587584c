//! Helm's template functions (include, tpl, required, fail, the YAML/JSON
//! converters, lookup) and its engine's render loop: parse every file,
//! render the ones not starting with `_`, and word errors as Helm does.

use std::collections::BTreeMap;

use crate::exec::Exec;
use crate::funcs::{Func, FuncMap, Ty};
use crate::gofmt::quote;
use crate::value::{Map, Value};
use crate::{Error, Templates};

/// Helm nests the same `include` at most this many times.
pub const INCLUDE_RECURSION_MAX: usize = 1000;

const WARN_START: &str = "HELM_ERR_START";
const WARN_END: &str = "HELM_ERR_END";

fn warn_wrap(msg: &str) -> String {
    format!("{WARN_START}{msg}{WARN_END}")
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Sprig plus Helm's own functions, as `helm template` has them.
pub fn funcs() -> FuncMap {
    let mut m = crate::sprig::funcs();
    m.insert(
        "include",
        Func::new(&[Ty::Str, Ty::Any], None, |ex, a| {
            include(ex, &s(&a[0]), a[1].clone())
        }),
    );
    m.insert(
        "tpl",
        Func::new(&[Ty::Str, Ty::Any], None, |ex, a| {
            tpl(ex, &s(&a[0]), a[1].clone())
        }),
    );
    m.add("required", &[Ty::Str, Ty::Any], None, |a| {
        let missing = match &a[1] {
            Value::Nil | Value::Invalid => true,
            Value::Str(v) => v.is_empty(),
            _ => false,
        };
        if missing {
            return Err(warn_wrap(&s(&a[0])));
        }
        Ok(a[1].clone())
    });
    m.add("fail", &[Ty::Str], None, |a| Err(warn_wrap(&s(&a[0]))));
    m.add("toYaml", &[Ty::Any], None, |a| {
        Ok(Value::str(crate::yaml::to_yaml(&a[0])))
    });
    m.add("toYamlPretty", &[Ty::Any], None, |a| {
        Ok(Value::str(crate::yaml::to_yaml_pretty(&a[0])))
    });
    m.add("toToml", &[Ty::Any], None, |a| {
        // Go's encoder panics on nil, and the template reports the panic.
        if a[0].is_nil() {
            return Err("reflect: call of reflect.Value.Type on zero Value".into());
        }
        Ok(Value::str(crate::tomlenc::to_toml(&a[0])))
    });
    m.add("fromToml", &[Ty::Str], None, |a| {
        Ok(match toml::from_str::<toml::Table>(&s(&a[0])) {
            Ok(t) => from_toml(toml::Value::Table(t)),
            Err(e) => error_map(e.message().to_string()),
        })
    });
    m.add("fromYaml", &[Ty::Str], None, |a| {
        Ok(match crate::yaml::parse(&s(&a[0])) {
            Ok(Value::Map(m)) => Value::Map(m),
            Ok(Value::Nil) => Value::map(Map::new()),
            Ok(other) => error_map(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other)
            )),
            Err(e) => error_map(e),
        })
    });
    m.add("fromYamlArray", &[Ty::Str], None, |a| {
        Ok(match crate::yaml::parse(&s(&a[0])) {
            Ok(Value::List(l)) => Value::List(l),
            Ok(Value::Nil) => Value::list(vec![]),
            Ok(other) => Value::list(vec![Value::str(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
                json_kind(&other)
            ))]),
            Err(e) => Value::list(vec![Value::str(e)]),
        })
    });
    m.add("toJson", &[Ty::Any], None, |a| {
        Ok(Value::str(crate::yaml::marshal_json(&a[0])))
    });
    m.add("fromJson", &[Ty::Str], None, |a| {
        Ok(match serde_json::from_str::<serde_json::Value>(&s(&a[0])) {
            Ok(j @ serde_json::Value::Object(_)) => Value::from_json(&j),
            Ok(serde_json::Value::Null) => Value::map(Map::new()),
            Ok(other) => error_map(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&Value::from_json(&other))
            )),
            Err(e) => error_map(crate::yaml::go_json_error(&e)),
        })
    });
    m.add("fromJsonArray", &[Ty::Str], None, |a| {
        Ok(match serde_json::from_str::<serde_json::Value>(&s(&a[0])) {
            Ok(j @ serde_json::Value::Array(_)) => Value::from_json(&j),
            Ok(serde_json::Value::Null) => Value::list(vec![]),
            Ok(other) => Value::list(vec![Value::str(format!(
                "json: cannot unmarshal {} into Go value of type []interface {{}}",
                json_kind(&Value::from_json(&other))
            ))]),
            Err(e) => Value::list(vec![Value::str(crate::yaml::go_json_error(&e))]),
        })
    });
    m.add(
        "lookup",
        &[Ty::Str, Ty::Str, Ty::Str, Ty::Str],
        None,
        |_| Ok(Value::map(Map::new())),
    );
    m.add("getHostByName", &[Ty::Str], None, |_| Ok(Value::str("")));
    m
}

/// TOML as Go's BurntSushi/toml decodes it into interface{}: integers are
/// int64, datetimes stay text here.
fn from_toml(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::str(s),
        toml::Value::Integer(i) => Value::Int64(i),
        toml::Value::Float(f) => Value::Float(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::str(d.to_string()),
        toml::Value::Array(a) => Value::list(a.into_iter().map(from_toml).collect()),
        toml::Value::Table(t) => {
            Value::map(t.into_iter().map(|(k, v)| (k, from_toml(v))).collect())
        }
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Int(_) | Value::Int64(_) | Value::Float(_) => "number",
        Value::Str(_) => "string",
        Value::List(_) | Value::StrList(_) => "array",
        Value::Map(_) => "object",
        _ => "null",
    }
}

fn error_map(msg: String) -> Value {
    let mut m = Map::new();
    m.insert("Error".into(), Value::str(msg));
    Value::map(m)
}

/// `include NAME DATA`: the named template's output as a string.
fn include(ex: &mut Exec<'_>, name: &str, data: Value) -> Result<Value, String> {
    let n = ex.include_depth.entry(name.to_string()).or_insert(0);
    if *n > INCLUDE_RECURSION_MAX {
        return Err(format!(
            "rendering template has a nested reference name: {name}: unable to execute template"
        ));
    }
    *n += 1;
    let r = ex.execute_named(name, data);
    if let Some(n) = ex.include_depth.get_mut(name) {
        *n -= 1;
    }
    r.map(Value::str)
}

/// `tpl TEXT DATA`: TEXT parsed as a template (its defines visible only
/// inside) and run over DATA.
fn tpl(ex: &mut Exec<'_>, text: &str, data: Value) -> Result<Value, String> {
    let root = ex.set.root_name.clone();
    let funcs = ex.set.funcs.clone();
    let trees = crate::parse::parse(&root, text, &|f| funcs.contains(f))
        .map_err(|e| format!("cannot parse template {}: {e}", quote(text)))?;
    let mut layer = BTreeMap::new();
    for (n, t) in trees {
        let keep_old = crate::node::is_empty_tree(&t.root) && n != root && ex.lookup(&n).is_some();
        if !keep_old {
            layer.insert(n, std::sync::Arc::new(t));
        }
    }
    let Some(tree) = layer.get(&root).cloned() else {
        return Err(format!("cannot parse template {}", quote(text)));
    };
    ex.overlays.push(layer);
    let r = ex.run(tree, &root, data);
    ex.overlays.pop();
    match r {
        Ok(out) => Ok(Value::str(out.replace("<no value>", ""))),
        Err(e) => Err(format!(
            "error during tpl function execution for {}: {e}",
            quote(text)
        )),
    }
}

/// Helm's render order: deeper paths first, then by name, descending.
fn sort_templates(names: &mut [String]) {
    names.sort_by(|a, b| {
        let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
        cb.cmp(&ca).then_with(|| b.cmp(a))
    });
}

/// Helm's engine over a set of template files: every file parsed into one
/// set, each file not named `_*` rendered with `data` (its `.Template`
/// filled in), `<no value>` removed. Errors read as `helm template` prints
/// them. `seed` fixes the random functions (None: fresh randomness).
pub fn render_files(
    files: &[(String, String)],
    data: &Value,
    seed: Option<u64>,
) -> Result<BTreeMap<String, String>, Error> {
    render_scoped(files, &|_| data.clone(), seed, None)
}

/// [`render_files`] with each file's own data: Helm renders a subchart's
/// templates over that subchart's `.Values`, `.Chart` and `.Files`, so
/// `data_for(name)` gives the data for template `name`. `now` fixes what
/// `now` returns (Unix seconds; None reads the clock).
pub fn render_scoped(
    files: &[(String, String)],
    data_for: &dyn Fn(&str) -> Value,
    seed: Option<u64>,
    now: Option<i64>,
) -> Result<BTreeMap<String, String>, Error> {
    render_scoped_with(files, data_for, seed, now, FuncMap::new())
}

/// [`render_scoped`] with `extra` functions added to Helm's (replacing any
/// of the same name): another Helm release's function set.
pub fn render_scoped_with(
    files: &[(String, String)],
    data_for: &dyn Fn(&str) -> Value,
    seed: Option<u64>,
    now: Option<i64>,
    extra: FuncMap,
) -> Result<BTreeMap<String, String>, Error> {
    let mut all = funcs();
    all.extend(extra);
    let mut t = Templates::with_funcs("gotpl", all);
    t.options.missing_key = crate::MissingKey::Zero;
    t.options.seed = seed;
    t.options.now = now;
    let texts: BTreeMap<String, String> = files.iter().cloned().collect();
    let mut keys: Vec<String> = texts.keys().cloned().collect();
    sort_templates(&mut keys);
    for name in &keys {
        let text = texts.get(name).map(String::as_str).unwrap_or_default();
        t.parse(name, text)
            .map_err(|e| Error::Parse(cleanup_parse_error(name, &e.to_string())))?;
    }
    let mut out = BTreeMap::new();
    for name in &keys {
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.starts_with('_') {
            continue;
        }
        let vals = with_template(&data_for(name), name);
        let rendered = t
            .execute(name, &vals)
            .map_err(|e| Error::Exec(cleanup_exec_error(name, &e.to_string())))?;
        out.insert(name.clone(), rendered.replace("<no value>", ""));
    }
    Ok(out)
}

fn with_template(data: &Value, name: &str) -> Value {
    let mut top = match data {
        Value::Map(m) => m.snapshot(),
        _ => Map::new(),
    };
    let base = name.split("/templates/").next().unwrap_or_default();
    let mut tm = Map::new();
    tm.insert("Name".into(), Value::str(name));
    tm.insert("BasePath".into(), Value::str(format!("{base}/templates")));
    top.insert("Template".into(), Value::map(tm));
    Value::map(top)
}

fn cleanup_parse_error(filename: &str, err: &str) -> String {
    let tokens: Vec<&str> = err.split(": ").collect();
    if tokens.len() == 1 {
        return format!("parse error in ({filename}): {err}");
    }
    format!(
        "parse error at ({}): {}",
        tokens[1],
        tokens[tokens.len() - 1]
    )
}

fn cleanup_exec_error(filename: &str, err: &str) -> String {
    let tokens: Vec<&str> = err.splitn(3, ": ").collect();
    if tokens.len() != 3 {
        return format!("execution error in ({filename}): {err}");
    }
    if let Some(start) = tokens[2].find(WARN_START) {
        let after = &tokens[2][start + WARN_START.len()..];
        if let Some(end) = after.rfind(WARN_END) {
            return format!("execution error at ({}): {}", tokens[1], &after[..end]);
        }
    }
    err.to_string()
}
