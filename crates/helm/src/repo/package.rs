//! A pulled chart rebuilt with `spec.valuesFiles`, as Flux's remote chart builder does: the
//! listed files (paths inside the chart; `values.yaml` is the chart's own defaults) merged in
//! order, maps key by key and anything else replaced, become the chart's `values.yaml`; the
//! version takes build metadata (Flux uses the HelmChart's generation, so a consumer notices
//! the change); the chart is packaged again as `<name>/…` in a gzipped tar. The merge and the
//! packaging are also used for charts built from a source directory (GitRepository, Bucket).

use std::io::Write as _;

use serde_json::Value;

use super::RepoError;
use crate::Values;
use crate::archive;
use crate::chart::File;

/// The chart's default values file.
pub const VALUES_FILE: &str = "values.yaml";

/// A rebuilt chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packaged {
    /// The packaged chart (`.tgz` bytes).
    pub data: Vec<u8>,
    /// The chart name from Chart.yaml.
    pub name: String,
    /// The version written to Chart.yaml (with the build metadata).
    pub version: String,
    /// The values files that were found and merged, in order.
    pub merged: Vec<String>,
}

/// The values files that change a chart: none when the list is only `values.yaml` (the
/// chart's own values), as Flux's `GetValuesFiles`.
pub fn effective_values_files(files: &[String]) -> &[String] {
    match files {
        [only] if only == VALUES_FILE => &[],
        files => files,
    }
}

/// Rebuilds `packaged` with `values_files` (paths inside the chart) merged into `values.yaml`
/// and `+<metadata>` added to the version. A missing file is an error unless `ignore_missing`.
pub fn merge_values_files(
    packaged: &[u8],
    values_files: &[String],
    ignore_missing: bool,
    version_metadata: &str,
) -> Result<Packaged, RepoError> {
    let files = archive::files(packaged)?;
    let (values, merged) = merge_values(values_files, ignore_missing, |path| {
        let cleaned = archive::clean(path);
        files
            .iter()
            .find(|f| f.name == cleaned)
            .map(|f| f.data.clone())
    })?;
    let mut packaged = repackage(files, Some(values), Some(version_metadata))?;
    packaged.merged = merged;
    Ok(packaged)
}

/// Merges the values files in order (maps key by key, anything else replaced), reading each
/// with `read`; a file `read` cannot find is skipped with `ignore_missing`, an error
/// otherwise. Returns the values and the files that were merged.
pub fn merge_values(
    values_files: &[String],
    ignore_missing: bool,
    read: impl Fn(&str) -> Option<Vec<u8>>,
) -> Result<(Values, Vec<String>), RepoError> {
    let mut merged_values = Values::new();
    let mut merged = Vec::new();
    for path in values_files {
        let Some(data) = read(path) else {
            if ignore_missing {
                continue;
            }
            return Err(RepoError::MissingValuesFile(path.clone()));
        };
        let values =
            crate::values::parse_values(&data).map_err(|message| RepoError::ValuesParse {
                file: path.clone(),
                message,
            })?;
        merged_values = crate::values::merge_maps(merged_values, values);
        merged.push(path.clone());
    }
    Ok((merged_values, merged))
}

/// Packages a chart's files as `<name>/…`, with `values` as its `values.yaml` when given and
/// `+<metadata>` added to the Chart.yaml version when given.
pub fn repackage(
    mut files: Vec<File>,
    values: Option<Values>,
    version_metadata: Option<&str>,
) -> Result<Packaged, RepoError> {
    let chart_yaml = files
        .iter()
        .find(|f| f.name == "Chart.yaml")
        .ok_or_else(|| RepoError::Package("Chart.yaml file is missing".to_owned()))?;
    let mut metadata = match crate::values::parse_yaml(&String::from_utf8_lossy(&chart_yaml.data)) {
        Ok(Value::Object(m)) => m,
        Ok(_) | Err(_) => {
            return Err(RepoError::Package("Chart.yaml does not parse".to_owned()));
        }
    };
    let name = metadata
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let version_text = metadata
        .get("version")
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default();
    let mut version = driftless_semver::parse_version(&version_text).ok_or_else(|| {
        RepoError::Package(format!("chart version '{version_text}' is not semver"))
    })?;
    if let Some(meta) = version_metadata {
        version.build = semver::BuildMetadata::new(meta)
            .map_err(|e| RepoError::Package(format!("invalid version metadata '{meta}': {e}")))?;
    }
    let version = version.to_string();
    if version_metadata.is_some() {
        metadata.insert("version".to_owned(), Value::String(version.clone()));
        let chart_yaml = to_yaml(&Value::Object(metadata));
        files.retain(|f| f.name != "Chart.yaml");
        files.insert(
            0,
            File {
                name: "Chart.yaml".to_owned(),
                data: chart_yaml.into_bytes(),
            },
        );
    }
    if let Some(values) = values {
        let values_yaml = to_yaml(&Value::Object(values));
        files.retain(|f| f.name != VALUES_FILE);
        files.insert(
            1,
            File {
                name: VALUES_FILE.to_owned(),
                data: values_yaml.into_bytes(),
            },
        );
    }
    let data = write_tgz(&name, &files)?;
    Ok(Packaged {
        data,
        name,
        version,
        merged: Vec::new(),
    })
}

/// YAML as Helm's `yaml.Marshal` writes it, with the final newline.
fn to_yaml(value: &Value) -> String {
    let mut text = driftless_gotemplate::yaml::to_yaml(&crate::values::to_template(value));
    text.push('\n');
    text
}

/// A gzipped tar with every file under `<name>/`, regular files 0644, as `helm package`.
fn write_tgz(name: &str, files: &[File]) -> Result<Vec<u8>, RepoError> {
    let err = |e: std::io::Error| RepoError::Package(e.to_string());
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for file in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(file.data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(
            &mut header,
            format!("{name}/{}", file.name),
            file.data.as_slice(),
        )
        .map_err(err)?;
    }
    let mut gz = tar.into_inner().map_err(err)?;
    gz.flush().map_err(err)?;
    gz.finish().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(extra: &[(&str, &str)]) -> Vec<u8> {
        let mut files = vec![
            File {
                name: "Chart.yaml".into(),
                data: b"apiVersion: v2\nname: demo\nversion: 1.2.3\n".to_vec(),
            },
            File {
                name: "values.yaml".into(),
                data: b"replicas: 1\nimage:\n  tag: a\n  repo: r\n".to_vec(),
            },
        ];
        for (name, data) in extra {
            files.push(File {
                name: (*name).into(),
                data: data.as_bytes().to_vec(),
            });
        }
        write_tgz("demo", &files).expect("packs")
    }

    fn values_of(packaged: &[u8]) -> Values {
        let files = archive::files(packaged).expect("unpacks");
        let values = files
            .iter()
            .find(|f| f.name == VALUES_FILE)
            .expect("values.yaml");
        crate::values::parse_values(&values.data).expect("parses")
    }

    #[test]
    fn values_files_merge_in_order_over_the_charts_defaults() {
        let packaged = chart(&[("prod.yaml", "image:\n  tag: b\nextra: true\n")]);
        let files = ["values.yaml".to_owned(), "./prod.yaml".to_owned()];
        let out = merge_values_files(&packaged, &files, false, "2").expect("merges");
        assert_eq!(
            (out.name.as_str(), out.version.as_str()),
            ("demo", "1.2.3+2")
        );
        let values = values_of(&out.data);
        assert_eq!(
            serde_json::to_value(&values).expect("json"),
            serde_json::json!({"replicas": 1.0, "image": {"tag": "b", "repo": "r"}, "extra": true})
        );
        let loaded = crate::chart::Chart::from_files(archive::files(&out.data).expect("unpacks"))
            .expect("loads");
        assert_eq!(loaded.metadata.version, "1.2.3+2");
    }

    #[test]
    fn a_missing_values_file_is_an_error_unless_ignored() {
        let packaged = chart(&[]);
        let files = ["values.yaml".to_owned(), "nope.yaml".to_owned()];
        let err = merge_values_files(&packaged, &files, false, "1").expect_err("missing");
        assert_eq!(err.to_string(), "no values file found at path 'nope.yaml'");
        let out = merge_values_files(&packaged, &files, true, "1").expect("ignored");
        assert_eq!(out.merged, ["values.yaml"]);
    }

    #[test]
    fn only_the_charts_own_values_file_changes_nothing() {
        assert!(effective_values_files(&["values.yaml".to_owned()]).is_empty());
        assert_eq!(effective_values_files(&["a.yaml".to_owned()]).len(), 1);
    }
}
