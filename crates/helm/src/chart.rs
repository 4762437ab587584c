//! A loaded chart: Chart.yaml metadata, default values, schema, templates,
//! other files and subcharts, assembled from a flat file list as Helm's
//! loader does (`charts/<name>/…` directories and `charts/*.tgz` become
//! subcharts; `requirements.yaml` holds a v1 chart's dependencies).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Values;
use crate::error::Error;

/// One file of a chart, its name relative to the chart root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub data: Vec<u8>,
}

/// Chart.yaml (field names as Helm's `chart.Metadata` spells them in YAML).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub home: String,
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub maintainers: Vec<Maintainer>,
    #[serde(default)]
    pub icon: String,
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub condition: String,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub app_version: String,
    #[serde(default)]
    pub deprecated: bool,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub kube_version: String,
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
    #[serde(default, rename = "type")]
    pub chart_type: String,
}

/// A chart maintainer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Maintainer {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub url: String,
}

/// A dependency listed in Chart.yaml (or a v1 chart's requirements.yaml).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Dependency {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub condition: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, rename = "import-values")]
    pub import_values: Vec<serde_json::Value>,
    #[serde(default)]
    pub alias: String,
}

/// A loaded chart and its subcharts.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub metadata: Metadata,
    /// values.yaml.
    pub values: Values,
    /// values.schema.json, unparsed.
    pub schema: Option<Vec<u8>>,
    pub templates: Vec<File>,
    /// Every other file (crds/, files read through `.Files`, README…).
    pub files: Vec<File>,
    pub dependencies: Vec<Chart>,
    /// The chart path from the root (`parent/charts/sub`), set when rendering.
    pub(crate) full_path: String,
}

impl Chart {
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Whether this is a library chart (only its `_` templates count).
    pub fn is_library(&self) -> bool {
        self.metadata.chart_type.eq_ignore_ascii_case("library")
    }

    /// Assembles a chart from its files, as Helm's `loader.LoadFiles`.
    pub fn from_files(files: Vec<File>) -> Result<Chart, Error> {
        let mut c = Chart::default();
        let chart_yaml = files.iter().find(|f| f.name == "Chart.yaml");
        let Some(chart_yaml) = chart_yaml else {
            return Err(Error::Validation("Chart.yaml file is missing".into()));
        };
        c.metadata = parse_yaml_as(&chart_yaml.data, "Chart.yaml")?;
        if c.metadata.api_version.is_empty() {
            c.metadata.api_version = "v1".into();
        }
        let mut subcharts: BTreeMap<String, Vec<File>> = BTreeMap::new();
        for f in files {
            let name = f.name.as_str();
            match name {
                "Chart.yaml" | "Chart.lock" => {}
                "values.yaml" => {
                    c.values =
                        crate::values::parse_values(&f.data).map_err(|message| Error::Parse {
                            file: "values.yaml".into(),
                            message,
                        })?;
                }
                "values.schema.json" => c.schema = Some(f.data),
                "requirements.yaml" | "requirements.lock" => {
                    if name == "requirements.yaml" {
                        #[derive(Deserialize)]
                        struct Requirements {
                            #[serde(default)]
                            dependencies: Vec<Dependency>,
                        }
                        let r: Requirements = parse_yaml_as(&f.data, name)?;
                        if !r.dependencies.is_empty() {
                            c.metadata.dependencies = r.dependencies;
                        }
                    }
                    if c.metadata.api_version == "v1" {
                        c.files.push(f);
                    }
                }
                _ if name.starts_with("templates/") => c.templates.push(f),
                _ if name.starts_with("charts/") && !name.ends_with(".prov") => {
                    let rest = &name["charts/".len()..];
                    let sub = rest.split('/').next().unwrap_or(rest).to_string();
                    subcharts.entry(sub).or_default().push(File {
                        name: rest.to_string(),
                        data: f.data,
                    });
                }
                _ => c.files.push(f),
            }
        }
        validate(&mut c.metadata)?;
        for (n, files) in subcharts {
            if n.starts_with('_') || n.starts_with('.') {
                continue;
            }
            let sub = if n.ends_with(".tgz") {
                let Some(file) = files.into_iter().find(|f| f.name == n) else {
                    return Err(Error::Archive(format!(
                        "error unpacking subchart tar in {}: expected {n}",
                        c.name()
                    )));
                };
                crate::archive::files(&file.data).and_then(Chart::from_files)
            } else {
                let inner = files
                    .into_iter()
                    .filter_map(|f| {
                        let (_, rest) = f.name.split_once('/')?;
                        Some(File {
                            name: rest.to_string(),
                            data: f.data,
                        })
                    })
                    .collect();
                Chart::from_files(inner)
            };
            let sub = sub.map_err(|e| Error::Subchart {
                name: n.clone(),
                parent: c.name().to_string(),
                source: Box::new(e),
            })?;
            c.dependencies.push(sub);
        }
        Ok(c)
    }
}

fn parse_yaml_as<T: serde::de::DeserializeOwned>(data: &[u8], file: &str) -> Result<T, Error> {
    let text = String::from_utf8_lossy(data);
    let json = crate::values::parse_yaml(&text).map_err(|message| Error::Parse {
        file: file.into(),
        message,
    })?;
    let json = if json.is_null() {
        serde_json::Value::Object(Values::new())
    } else {
        json
    };
    serde_json::from_value(json).map_err(|e| Error::Parse {
        file: file.into(),
        message: e.to_string(),
    })
}

/// Helm's `Metadata.Validate`: required fields, a semver version, a known
/// type, unique dependency names.
fn validate(md: &mut Metadata) -> Result<(), Error> {
    let v = |m: String| Err(Error::Validation(m));
    for s in [
        &mut md.name,
        &mut md.description,
        &mut md.home,
        &mut md.icon,
        &mut md.condition,
        &mut md.tags,
        &mut md.app_version,
        &mut md.kube_version,
    ] {
        *s = sanitize(s);
    }
    if md.api_version.is_empty() {
        return v("chart.metadata.apiVersion is required".into());
    }
    if md.name.is_empty() {
        return v("chart.metadata.name is required".into());
    }
    if md.name == "." || md.name == ".." {
        return v(format!("chart.metadata.name {:?} is not allowed", md.name));
    }
    if md.name.contains('/') {
        return v(format!("chart.metadata.name {:?} is invalid", md.name));
    }
    if md.version.is_empty() {
        return v("chart.metadata.version is required".into());
    }
    if driftless_gotemplate::sprig::satisfies_constraint("*", &md.version).is_err() {
        return v(format!(
            "chart.metadata.version {:?} is invalid",
            md.version
        ));
    }
    if !matches!(md.chart_type.as_str(), "" | "application" | "library") {
        return v("chart.metadata.type must be application or library".into());
    }
    let mut seen = std::collections::BTreeSet::new();
    for d in &md.dependencies {
        let key = if d.alias.is_empty() {
            &d.name
        } else {
            &d.alias
        };
        if !d.alias.is_empty()
            && !d
                .alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return v(format!(
                "dependency {:?} has disallowed characters in the alias",
                d.name
            ));
        }
        if !seen.insert(key.clone()) {
            return v(format!(
                "more than one dependency with name or alias {key:?}"
            ));
        }
    }
    Ok(())
}

/// Whitespace becomes a space, unprintable characters go (Helm's sanitizeString).
fn sanitize(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if c.is_control() {
                None
            } else {
                Some(c)
            }
        })
        .collect()
}
