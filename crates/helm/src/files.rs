//! The objects templates reach through `.Files` (`.Capabilities` is in
//! [`crate::capabilities`]).
//! `.Files` holds only the chart's own non-template files, so no name or
//! glob reaches outside the chart: `.Files.Get "../x"` is empty, as in Helm.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use driftless_gotemplate::{Map, Object, Value};

pub use crate::capabilities::{Capabilities, KubeVersion, VersionSet};
use crate::glob::files_glob;

/// Helm's `engine.files`: chart files by name.
#[derive(Debug, Clone, Default)]
pub struct Files(pub BTreeMap<String, Arc<Vec<u8>>>);

impl Files {
    pub fn value(self) -> Value {
        Value::Object(Arc::new(self))
    }

    fn as_config(&self, encode: bool) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let m: Map = self
            .0
            .iter()
            .map(|(k, v)| {
                let base = k.rsplit('/').next().unwrap_or(k).to_string();
                let text = if encode {
                    base64::engine::general_purpose::STANDARD.encode(v.as_slice())
                } else {
                    String::from_utf8_lossy(v).into_owned()
                };
                (base, Value::str(text))
            })
            .collect();
        let y = driftless_gotemplate::yaml::to_yaml(&Value::map(m));
        y.strip_suffix('\n').unwrap_or(&y).to_string()
    }
}

fn arg(args: &[Value]) -> String {
    args.first()
        .and_then(|a| a.as_str())
        .unwrap_or_default()
        .to_string()
}

impl Object for Files {
    fn type_name(&self) -> &'static str {
        "engine.files"
    }

    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    fn method_arity(&self, name: &str) -> Option<usize> {
        match name {
            "Get" | "GetBytes" | "Glob" | "Lines" => Some(1),
            "AsConfig" | "AsSecrets" => Some(0),
            _ => None,
        }
    }

    fn call(&self, name: &str, args: Vec<Value>) -> Result<Value, String> {
        let get = |n: &str| self.0.get(n).cloned().unwrap_or_default();
        Ok(match name {
            "Get" => Value::str(String::from_utf8_lossy(&get(&arg(&args))).into_owned()),
            "GetBytes" => Value::Bytes(get(&arg(&args))),
            "Glob" => {
                let pattern = arg(&args);
                Files(
                    self.0
                        .iter()
                        .filter(|(k, _)| files_glob(&pattern, k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )
                .value()
            }
            "Lines" => {
                let data = get(&arg(&args));
                if data.is_empty() {
                    return Ok(Value::StrList(Arc::new(Vec::new())));
                }
                let s = String::from_utf8_lossy(&data);
                let s = s.strip_suffix('\n').unwrap_or(&s);
                Value::StrList(Arc::new(s.split('\n').map(str::to_string).collect()))
            }
            "AsConfig" => Value::str(self.as_config(false)),
            "AsSecrets" => Value::str(self.as_config(true)),
            _ => return Err(format!("{name} is not a method")),
        })
    }

    fn print(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| {
                let bytes: Vec<String> = v.iter().map(u8::to_string).collect();
                format!("{k}:[{}]", bytes.join(" "))
            })
            .collect();
        format!("map[{}]", parts.join(" "))
    }

    fn to_data(&self) -> Value {
        Value::map(
            self.0
                .iter()
                .map(|(k, v)| {
                    let enc = base64::engine::general_purpose::STANDARD.encode(v.as_slice());
                    (k.clone(), Value::str(enc))
                })
                .collect(),
        )
    }

    fn entries(&self) -> Option<Vec<(Value, Value)>> {
        Some(
            self.0
                .iter()
                .map(|(k, v)| (Value::str(k.as_str()), Value::Bytes(v.clone())))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glob_never_reaches_outside_the_chart_files() {
        let mut f = Files::default();
        f.0.insert("files/a.txt".into(), Arc::new(b"a".to_vec()));
        let got = f.call("Glob", vec![Value::str("../*")]).expect("globs");
        let Value::Object(o) = got else {
            unreachable!("Glob returns files")
        };
        assert_eq!(o.entries().map(|e| e.len()), Some(0));
        let got = f
            .call("Get", vec![Value::str("../../etc/passwd")])
            .expect("gets");
        assert_eq!(got.as_str(), Some(""));
    }
}
