//! `.Capabilities`: the Kubernetes version and API versions `helm template`
//! assumes, and the Helm build. Helm 3 and Helm 4 differ: the default
//! Kubernetes version (v1.20.0, or client-go's minor in Helm 4: v1.37.0),
//! what `.KubeVersion.Version` keeps of `--kube-version` (Helm 4 keeps a
//! vendor suffix such as `-gke.1`, `String` drops it), the Go package in
//! type names (`chartutil` or `common`) and the build info.

use std::sync::Arc;

use driftless_gotemplate::{Map, Object, Value};

use crate::HelmVersion;

/// The Go toolchain the pinned oracles were built with: `HelmVersion.GoVersion`.
const GO_VERSION: &str = "go1.26.8";

/// The API versions `helm template` assumes a cluster serves (client-go's
/// scheme as Helm v3.22 and v4.3 register it), one a line.
const DEFAULT_API_VERSIONS: &str = include_str!("apiversions.txt");

fn pkg(helm: HelmVersion, v3: &'static str, v4: &'static str) -> &'static str {
    match helm {
        HelmVersion::V3 => v3,
        HelmVersion::V4 => v4,
    }
}

/// `.Capabilities.APIVersions`: a list with a `Has` method.
#[derive(Debug, Clone)]
pub struct VersionSet(pub Vec<String>, pub HelmVersion);

impl VersionSet {
    /// Helm's defaults plus `extra` (`--api-versions`).
    pub fn with_defaults(extra: &[String]) -> VersionSet {
        VersionSet::with_defaults_as(extra, HelmVersion::V3)
    }

    /// [`VersionSet::with_defaults`] for the given Helm release.
    pub fn with_defaults_as(extra: &[String], helm: HelmVersion) -> VersionSet {
        let mut v: Vec<String> = DEFAULT_API_VERSIONS
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        v.extend(extra.iter().cloned());
        VersionSet(v, helm)
    }
}

impl Object for VersionSet {
    fn type_name(&self) -> &'static str {
        pkg(self.1, "chartutil.VersionSet", "common.VersionSet")
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
        let want = args.first().and_then(|a| a.as_str()).unwrap_or_default();
        Ok(Value::Bool(self.0.iter().any(|v| v == want)))
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

/// `.Capabilities.KubeVersion`. An action prints it through its `String`
/// method (the normalized version).
#[derive(Debug, Clone)]
pub struct KubeVersion {
    /// `.Version` and `GitVersion`: Helm 3 the normalized version, Helm 4
    /// the version as given (with a `v`).
    pub version: String,
    /// `String`: `v` and the numeric components as given (`v1.30`,
    /// `v1.33.4`); what kubeVersion constraints are checked against.
    pub normalized: String,
    pub major: String,
    pub minor: String,
    pub helm: HelmVersion,
}

impl KubeVersion {
    /// k8s.io's `ParseGeneric` as Helm 3's `--kube-version` takes it.
    pub fn parse(text: &str) -> Result<KubeVersion, String> {
        KubeVersion::parse_as(text, HelmVersion::V3)
    }

    /// k8s.io's `ParseGeneric` (leading blanks and `v`, at least
    /// major.minor, anything after the numbers ignored) as the given Helm
    /// release keeps it.
    pub fn parse_as(text: &str, helm: HelmVersion) -> Result<KubeVersion, String> {
        static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
        let re = RE.get_or_init(|| regex::Regex::new(r"^\s*v?([0-9]+(?:\.[0-9]+)*)(.*)$").ok());
        let numbers = re
            .as_ref()
            .and_then(|re| re.captures(text))
            .and_then(|c| c.get(1))
            .map(|m| m.as_str())
            .ok_or_else(|| format!("could not parse {text:?} as version"))?;
        let parts: Vec<&str> = numbers.split('.').collect();
        if parts.len() < 2 {
            return Err(format!("illegal version string {text:?}"));
        }
        if parts[0].len() > 1 && parts[0].starts_with('0') {
            return Err(format!(
                "illegal zero-prefixed version component {:?} in {text:?}",
                parts[0]
            ));
        }
        let nums: Vec<u64> = parts
            .iter()
            .map(|p| p.parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("illegal non-numeric version component in {text:?}: {e}"))?;
        let shown: Vec<String> = nums.iter().map(u64::to_string).collect();
        let normalized = format!("v{}", shown.join("."));
        let version = match helm {
            HelmVersion::V3 => normalized.clone(),
            HelmVersion::V4 if text.starts_with('v') => text.to_string(),
            HelmVersion::V4 => format!("v{text}"),
        };
        Ok(KubeVersion {
            version,
            normalized,
            major: nums[0].to_string(),
            minor: nums[1].to_string(),
            helm,
        })
    }

    /// Helm 3's default when no `--kube-version` is given.
    pub fn default_version() -> KubeVersion {
        KubeVersion::default_for(HelmVersion::V3)
    }

    /// The default of the given Helm release: v1.20.0 for Helm 3; Helm 4
    /// takes client-go's minor (v0.37.1 in v4.3.1, so v1.37.0).
    pub fn default_for(helm: HelmVersion) -> KubeVersion {
        let (version, minor) = match helm {
            HelmVersion::V3 => ("v1.20.0", "20"),
            HelmVersion::V4 => ("v1.37.0", "37"),
        };
        KubeVersion {
            version: version.into(),
            normalized: version.into(),
            major: "1".into(),
            minor: minor.into(),
            helm,
        }
    }
}

impl Object for KubeVersion {
    fn type_name(&self) -> &'static str {
        pkg(self.helm, "chartutil.KubeVersion", "common.KubeVersion")
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
    fn call(&self, name: &str, _args: Vec<Value>) -> Result<Value, String> {
        Ok(Value::str(match name {
            "GitVersion" => self.version.as_str(),
            _ => self.normalized.as_str(),
        }))
    }
    fn print(&self) -> String {
        self.normalized.clone()
    }
    fn to_data(&self) -> Value {
        let mut m = Map::new();
        m.insert("Version".into(), Value::str(self.version.as_str()));
        m.insert("Major".into(), Value::str(self.major.as_str()));
        m.insert("Minor".into(), Value::str(self.minor.as_str()));
        Value::map(m)
    }
}

/// `.Capabilities.HelmVersion`: Helm's `version.BuildInfo` of an oracle
/// built from its Go module (no commit or tree state stamped).
#[derive(Debug, Clone)]
pub struct BuildInfo(pub HelmVersion);

impl BuildInfo {
    fn version(&self) -> &'static str {
        pkg(self.0, "v3.22", "v4.3")
    }
}

impl Object for BuildInfo {
    fn type_name(&self) -> &'static str {
        "version.BuildInfo"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match (name, self.0) {
            ("Version", _) => Some(Value::str(self.version())),
            ("GitCommit" | "GitTreeState", _) => Some(Value::str("")),
            ("GoVersion", _) => Some(Value::str(GO_VERSION)),
            ("KubeClientVersion", HelmVersion::V4) => Some(Value::str("v1.37")),
            _ => None,
        }
    }
    fn print(&self) -> String {
        match self.0 {
            HelmVersion::V3 => format!("{{{}   {GO_VERSION}}}", self.version()),
            HelmVersion::V4 => format!("{{{}   {GO_VERSION} v1.37}}", self.version()),
        }
    }
    fn to_data(&self) -> Value {
        // The JSON tags; empty fields are omitted except kube_client_version.
        let mut m = Map::new();
        m.insert("version".into(), Value::str(self.version()));
        m.insert("go_version".into(), Value::str(GO_VERSION));
        if self.0 == HelmVersion::V4 {
            m.insert("kube_client_version".into(), Value::str("v1.37"));
        }
        Value::map(m)
    }
}

/// `.Capabilities`.
#[derive(Debug, Clone)]
pub struct Capabilities {
    pub kube_version: KubeVersion,
    pub api_versions: VersionSet,
}

impl Capabilities {
    fn helm(&self) -> HelmVersion {
        self.kube_version.helm
    }
}

impl Object for Capabilities {
    fn type_name(&self) -> &'static str {
        pkg(
            self.helm(),
            "*chartutil.Capabilities",
            "*common.Capabilities",
        )
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "KubeVersion" => Some(Value::Object(Arc::new(self.kube_version.clone()))),
            "APIVersions" => Some(Value::Object(Arc::new(self.api_versions.clone()))),
            "HelmVersion" => Some(Value::Object(Arc::new(BuildInfo(self.helm())))),
            _ => None,
        }
    }
    fn print(&self) -> String {
        let k = &self.kube_version;
        let kube = match self.helm() {
            HelmVersion::V3 => format!("{} {} {}", k.version, k.major, k.minor),
            HelmVersion::V4 => format!("{} {} {} {}", k.version, k.normalized, k.major, k.minor),
        };
        format!(
            "&{{{{{kube}}} {} {}}}",
            self.api_versions.print(),
            BuildInfo(self.helm()).print()
        )
    }
    fn to_data(&self) -> Value {
        let mut m = Map::new();
        m.insert("KubeVersion".into(), self.kube_version.to_data());
        m.insert("APIVersions".into(), self.api_versions.to_data());
        m.insert("HelmVersion".into(), BuildInfo(self.helm()).to_data());
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
    fn helm_4_keeps_a_vendor_suffix_in_version_but_not_in_string() {
        let v3 = KubeVersion::parse_as("1.33.4-gke.1245000", HelmVersion::V3).expect("parses");
        assert_eq!(
            (v3.version.as_str(), v3.normalized.as_str()),
            ("v1.33.4", "v1.33.4")
        );
        let v4 = KubeVersion::parse_as("1.33.4-gke.1245000", HelmVersion::V4).expect("parses");
        assert_eq!(v4.version, "v1.33.4-gke.1245000");
        assert_eq!(
            v4.call("String", vec![]).expect("calls").as_str(),
            Some("v1.33.4")
        );
    }

    #[test]
    fn the_default_kube_version_is_v1_20_for_helm_3_and_v1_37_for_helm_4() {
        assert_eq!(KubeVersion::default_for(HelmVersion::V3).version, "v1.20.0");
        assert_eq!(KubeVersion::default_for(HelmVersion::V4).version, "v1.37.0");
    }
}
