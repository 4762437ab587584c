//! `.Chart`: Helm hands templates a struct embedding `chart.Metadata` plus
//! `IsRoot`, so fields read by their Go names, an unknown field is an
//! error, `%v` prints the struct, and `toYaml`/`toJson` use the JSON tags.

use std::collections::BTreeMap;
use std::sync::Arc;

use driftless_gotemplate::{Map, Object, Value};
use serde_json::Value as Json;

use crate::chart::Chart;
use crate::values::to_template;

/// Metadata's fields in declaration order: (Go name, JSON tag).
const FIELDS: &[(&str, &str)] = &[
    ("Name", "name"),
    ("Home", "home"),
    ("Sources", "sources"),
    ("Version", "version"),
    ("Description", "description"),
    ("Keywords", "keywords"),
    ("Maintainers", "maintainers"),
    ("Icon", "icon"),
    ("APIVersion", "apiVersion"),
    ("Condition", "condition"),
    ("Tags", "tags"),
    ("AppVersion", "appVersion"),
    ("Deprecated", "deprecated"),
    ("Annotations", "annotations"),
    ("KubeVersion", "kubeVersion"),
    ("Dependencies", "dependencies"),
    ("Type", "type"),
];

#[derive(Debug)]
struct ChartObject {
    fields: Map,
    is_root: bool,
}

impl Object for ChartObject {
    fn type_name(&self) -> &'static str {
        // Go reports the map's element type when a field is missing
        // (`can't evaluate field appVersion in type interface {}`).
        "interface {}"
    }

    fn field(&self, name: &str) -> Option<Value> {
        if name == "IsRoot" {
            return Some(Value::Bool(self.is_root));
        }
        self.fields.get(name).cloned()
    }

    fn print(&self) -> String {
        let parts: Vec<String> = FIELDS
            .iter()
            .map(|(go, _)| {
                let v = self.fields.get(*go).cloned().unwrap_or(Value::Nil);
                driftless_gotemplate::gofmt::sprint_value(&v)
            })
            .collect();
        format!("{{{{{}}} {}}}", parts.join(" "), self.is_root)
    }

    fn to_data(&self) -> Value {
        let mut m = Map::new();
        for (go, tag) in FIELDS {
            let Some(v) = self.fields.get(*go) else {
                continue;
            };
            let empty = match v {
                Value::Str(s) => s.is_empty(),
                Value::Bool(b) => !b,
                Value::StrList(l) => l.is_empty(),
                Value::List(l) => l.is_empty(),
                Value::Map(mm) => mm.is_empty(),
                _ => false,
            };
            if !empty {
                m.insert((*tag).to_string(), v.clone());
            }
        }
        m.insert("IsRoot".into(), Value::Bool(self.is_root));
        Value::map(m)
    }
}

/// `.Chart`: Helm's chart.Metadata fields by their Go names, plus IsRoot.
pub fn chart_value(c: &Chart, is_root: bool) -> Value {
    let fields = metadata_fields(
        c,
        |v| Value::StrList(Arc::new(v.to_vec())),
        |a| {
            Value::map(
                a.iter()
                    .map(|(k, v)| (k.clone(), Value::str(v.as_str())))
                    .collect(),
            )
        },
    );
    Value::Object(Arc::new(ChartObject { fields, is_root }))
}

/// `.Chart` as Helm 4 hands it to templates: a `map[string]interface{}`
/// made by reflecting over chart.Metadata, so every field is present under
/// its Go name, slices are `[]interface{}` (empty, not nil, when unset),
/// maintainers and dependencies are maps of their own fields, annotations
/// stay a `map[string]string` (nil when unset), and IsRoot is one more key.
pub fn chart_map_v4(c: &Chart, is_root: bool) -> Value {
    let mut m = metadata_fields(
        c,
        |v| Value::list(v.iter().map(|x| Value::str(x.as_str())).collect()),
        |a| Value::Object(Arc::new(StringMap(a.clone()))),
    );
    m.insert("IsRoot".into(), Value::Bool(is_root));
    Value::map(m)
}

/// chart.Metadata's fields by Go name; how a `[]string` and the
/// annotations map become template values is the caller's (Helm 3 and 4
/// differ there).
fn metadata_fields(
    c: &Chart,
    strs: fn(&[String]) -> Value,
    annotations: fn(&BTreeMap<String, String>) -> Value,
) -> Map {
    let md = &c.metadata;
    let s = |x: &str| Value::str(x);
    let mut m = Map::new();
    m.insert("Name".into(), s(&md.name));
    m.insert("Home".into(), s(&md.home));
    m.insert("Sources".into(), strs(&md.sources));
    m.insert("Version".into(), s(&md.version));
    m.insert("Description".into(), s(&md.description));
    m.insert("Keywords".into(), strs(&md.keywords));
    let maintainers = md
        .maintainers
        .iter()
        .map(|x| {
            let mut mm = Map::new();
            mm.insert("Name".into(), s(&x.name));
            mm.insert("Email".into(), s(&x.email));
            mm.insert("URL".into(), s(&x.url));
            Value::map(mm)
        })
        .collect();
    m.insert("Maintainers".into(), Value::list(maintainers));
    m.insert("Icon".into(), s(&md.icon));
    m.insert("APIVersion".into(), s(&md.api_version));
    m.insert("Condition".into(), s(&md.condition));
    m.insert("Tags".into(), s(&md.tags));
    m.insert("AppVersion".into(), s(&md.app_version));
    m.insert("Deprecated".into(), Value::Bool(md.deprecated));
    m.insert("Annotations".into(), annotations(&md.annotations));
    m.insert("KubeVersion".into(), s(&md.kube_version));
    let deps = md
        .dependencies
        .iter()
        .map(|d| {
            let mut dm = Map::new();
            dm.insert("Name".into(), s(&d.name));
            dm.insert("Version".into(), s(&d.version));
            dm.insert("Repository".into(), s(&d.repository));
            dm.insert("Condition".into(), s(&d.condition));
            dm.insert("Tags".into(), strs(&d.tags));
            dm.insert("Enabled".into(), Value::Bool(d.enabled));
            dm.insert(
                "ImportValues".into(),
                to_template(&Json::Array(d.import_values.clone())),
            );
            dm.insert("Alias".into(), s(&d.alias));
            Value::map(dm)
        })
        .collect();
    m.insert("Dependencies".into(), Value::list(deps));
    m.insert("Type".into(), s(&md.chart_type));
    m
}

/// A Go `map[string]string`; empty means nil (Chart.yaml without the key),
/// which toJson/toYaml write as `null`. A missing key reads as "" (Helm's
/// `missingkey=zero`).
#[derive(Debug)]
struct StringMap(BTreeMap<String, String>);

impl Object for StringMap {
    fn type_name(&self) -> &'static str {
        "map[string]string"
    }

    fn field(&self, name: &str) -> Option<Value> {
        Some(Value::str(
            self.0.get(name).map(String::as_str).unwrap_or_default(),
        ))
    }

    fn print(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        format!("map[{}]", parts.join(" "))
    }

    fn to_data(&self) -> Value {
        if self.0.is_empty() {
            return Value::Nil;
        }
        Value::map(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), Value::str(v.as_str())))
                .collect(),
        )
    }

    fn entries(&self) -> Option<Vec<(Value, Value)>> {
        Some(
            self.0
                .iter()
                .map(|(k, v)| (Value::str(k.as_str()), Value::str(v.as_str())))
                .collect(),
        )
    }
}
