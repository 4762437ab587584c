//! The objects templates reach through `.Files` and `.Capabilities`.
//! `.Files` holds only the chart's own non-template files, so no name or
//! glob reaches outside the chart: `.Files.Get "../x"` is empty, as in Helm.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use driftless_gotemplate::{Map, Object, Value};

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

/// The API versions `helm template` assumes a cluster serves (client-go's
/// scheme as Helm v3.22 registers it), one a line.
const DEFAULT_API_VERSIONS: &str = include_str!("apiversions.txt");

/// `.Capabilities.APIVersions`: a list with a `Has` method.
#[derive(Debug, Clone)]
pub struct VersionSet(pub Vec<String>);

impl VersionSet {
    /// Helm's defaults plus `extra` (`--api-versions`).
    pub fn with_defaults(extra: &[String]) -> VersionSet {
        let mut v: Vec<String> = DEFAULT_API_VERSIONS
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        v.extend(extra.iter().cloned());
        VersionSet(v)
    }
}

impl Object for VersionSet {
    fn type_name(&self) -> &'static str {
        "chartutil.VersionSet"
    }
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn method_arity(&self, name: &str) -> Option<usize> {
        (name == "Has").then_some(1)
    }
    fn call(&self, name: &str, args: Vec<Value>) -> Result<Value, String> {
        if name != "Has" {
            return Err(format!("{name} is not a method"));
        }
        let want = arg(&args);
        Ok(Value::Bool(self.0.contains(&want)))
    }
    fn print(&self) -> String {
        format!("[{}]", self.0.join(" "))
    }
    fn to_data(&self) -> Value {
        Value::StrList(Arc::new(self.0.clone()))
    }
    fn entries(&self) -> Option<Vec<(Value, Value)>> {
        Some(
            self.0
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::Int(i as i64), Value::str(v.as_str())))
                .collect(),
        )
    }
}

/// `.Capabilities.KubeVersion`: prints as its version.
#[derive(Debug, Clone)]
pub struct KubeVersion {
    pub version: String,
    pub major: String,
    pub minor: String,
}

impl KubeVersion {
    /// k8s.io's `ParseGeneric` as `--kube-version` takes it: `v1.30`,
    /// `1.30.2`; the result keeps the given components.
    pub fn parse(text: &str) -> Result<KubeVersion, String> {
        let t = text.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let core_end = t.find(['-', '+']).unwrap_or(t.len());
        let (core, rest) = t.split_at(core_end);
        let parts: Vec<&str> = core.split('.').collect();
        let bad = || format!("could not parse {text:?} as version");
        if parts.len() < 2
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        let nums: Vec<u64> = parts
            .iter()
            .map(|p| p.parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        let shown: Vec<String> = nums.iter().map(u64::to_string).collect();
        Ok(KubeVersion {
            version: format!("v{}{rest}", shown.join(".")),
            major: nums[0].to_string(),
            minor: nums[1].to_string(),
        })
    }

    /// Helm's default when no `--kube-version` is given.
    pub fn default_version() -> KubeVersion {
        KubeVersion {
            version: "v1.20.0".into(),
            major: "1".into(),
            minor: "20".into(),
        }
    }
}

impl Object for KubeVersion {
    fn type_name(&self) -> &'static str {
        "chartutil.KubeVersion"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Version" => Some(Value::str(self.version.as_str())),
            "Major" => Some(Value::str(self.major.as_str())),
            "Minor" => Some(Value::str(self.minor.as_str())),
            _ => None,
        }
    }
    fn method_arity(&self, name: &str) -> Option<usize> {
        matches!(name, "String" | "GitVersion").then_some(0)
    }
    fn call(&self, _name: &str, _args: Vec<Value>) -> Result<Value, String> {
        Ok(Value::str(self.version.as_str()))
    }
    fn print(&self) -> String {
        self.version.clone()
    }
    fn to_data(&self) -> Value {
        let mut m = Map::new();
        m.insert("Version".into(), Value::str(self.version.as_str()));
        m.insert("Major".into(), Value::str(self.major.as_str()));
        m.insert("Minor".into(), Value::str(self.minor.as_str()));
        Value::map(m)
    }
}

/// `.Capabilities`.
#[derive(Debug, Clone)]
pub struct Capabilities {
    pub kube_version: KubeVersion,
    pub api_versions: VersionSet,
}

impl Object for Capabilities {
    fn type_name(&self) -> &'static str {
        "*chartutil.Capabilities"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "KubeVersion" => Some(Value::Object(Arc::new(self.kube_version.clone()))),
            "APIVersions" => Some(Value::Object(Arc::new(self.api_versions.clone()))),
            "HelmVersion" => {
                let mut m = Map::new();
                m.insert("Version".into(), Value::str("v3.22"));
                m.insert("GitCommit".into(), Value::str(""));
                m.insert("GitTreeState".into(), Value::str(""));
                m.insert("GoVersion".into(), Value::str("go1.26.8"));
                Some(Value::map(m))
            }
            _ => None,
        }
    }
    fn print(&self) -> String {
        format!(
            "&{{{{{} {} {}}} {} {{v3.22   go1.26.8}}}}",
            self.kube_version.version,
            self.kube_version.major,
            self.kube_version.minor,
            self.api_versions.print()
        )
    }
    fn to_data(&self) -> Value {
        let mut m = Map::new();
        m.insert("KubeVersion".into(), self.kube_version.to_data());
        m.insert("APIVersions".into(), self.api_versions.to_data());
        Value::map(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_versions_parse_as_helm_shows_them() {
        let k = KubeVersion::parse("1.30").expect("parses");
        assert_eq!((k.version.as_str(), k.major.as_str()), ("v1.30", "1"));
        assert_eq!(
            KubeVersion::parse("v1.31.2").expect("parses").version,
            "v1.31.2"
        );
        assert!(KubeVersion::parse("banana").is_err());
    }

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
