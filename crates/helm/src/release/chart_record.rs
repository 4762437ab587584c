//! A loaded [`Chart`] as a release stores it: Chart.yaml's fields in Helm's JSON spelling, the
//! top chart's templates, values, schema and files; subcharts are not stored, as in Helm.

use serde_json::{Map, Value};

use super::error::ReleaseError;
use super::record::{ChartRecord, DependencyRecord, FileRecord, MaintainerRecord, MetadataRecord};
use crate::Values;
use crate::chart::{Chart, Dependency, File, Maintainer, Metadata};

impl ChartRecord {
    /// The record Helm stores for an install or upgrade of `chart` with the user's `values`:
    /// taken after dependency processing, so disabled subcharts leave `dependencies`, the
    /// others are marked enabled under their alias, and `values` holds what the subcharts
    /// export (Helm stores the chart as it rendered it).
    pub fn for_release(chart: &Chart, values: &Values) -> Result<ChartRecord, ReleaseError> {
        let mut processed = chart.clone();
        crate::deps::process(&mut processed, values)
            .map_err(|e| ReleaseError::Manifest(e.to_string()))?;
        Ok(ChartRecord::from_chart(&processed))
    }

    /// The record of `chart`.
    pub fn from_chart(chart: &Chart) -> ChartRecord {
        let files = |fs: &[File]| {
            Some(
                fs.iter()
                    .map(|f| FileRecord {
                        name: f.name.clone(),
                        data: Some(f.data.clone()),
                    })
                    .collect(),
            )
        };
        ChartRecord {
            metadata: Some(metadata(&chart.metadata)),
            lock: None,
            templates: files(&chart.templates),
            values: Some(go_numbers(&chart.values)),
            schema: chart.schema.clone(),
            files: files(&chart.files),
            extra: Map::new(),
        }
    }
}

fn metadata(m: &Metadata) -> MetadataRecord {
    MetadataRecord {
        name: m.name.clone(),
        home: m.home.clone(),
        sources: m.sources.clone(),
        version: m.version.clone(),
        description: m.description.clone(),
        keywords: m.keywords.clone(),
        maintainers: m.maintainers.iter().map(maintainer).collect(),
        icon: m.icon.clone(),
        api_version: m.api_version.clone(),
        condition: m.condition.clone(),
        tags: m.tags.clone(),
        app_version: m.app_version.clone(),
        deprecated: m.deprecated,
        annotations: m.annotations.clone(),
        kube_version: m.kube_version.clone(),
        dependencies: m.dependencies.iter().map(dependency).collect(),
        chart_type: m.chart_type.clone(),
        extra: Map::new(),
    }
}

fn maintainer(m: &Maintainer) -> MaintainerRecord {
    MaintainerRecord {
        name: m.name.clone(),
        email: m.email.clone(),
        url: m.url.clone(),
        extra: Map::new(),
    }
}

fn dependency(d: &Dependency) -> DependencyRecord {
    DependencyRecord {
        name: d.name.clone(),
        version: d.version.clone(),
        repository: d.repository.clone(),
        condition: d.condition.clone(),
        tags: d.tags.clone(),
        enabled: d.enabled,
        import_values: d.import_values.clone(),
        alias: d.alias.clone(),
        extra: Map::new(),
    }
}

/// Numbers as Go's encoder writes the float64s Helm holds: an integral value without a
/// fraction (`2`, not `2.0`).
pub fn go_numbers(values: &Values) -> Values {
    values
        .iter()
        .map(|(k, v)| (k.clone(), go_number(v)))
        .collect()
}

fn go_number(v: &Value) -> Value {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => {
                // Exact: |f| < 1e15 is well inside i64 and f64's integer range.
                Value::from(f as i64)
            }
            _ => v.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(go_number).collect()),
        Value::Object(m) => Value::Object(go_numbers(m)),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    #[test]
    fn integral_floats_are_written_as_go_writes_them() {
        let v = match json!({"a": 2.0, "b": [0.5, 3.0], "c": {"d": -1.0}, "e": 7}) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        assert_eq!(
            serde_json::to_string(&go_numbers(&v)).expect("json"),
            r#"{"a":2,"b":[0.5,3],"c":{"d":-1},"e":7}"#
        );
    }

    #[test]
    fn chart_metadata_is_stored_with_helms_json_names_and_empty_fields_left_out() {
        let chart = Chart::from_files(vec![
            File {
                name: "Chart.yaml".into(),
                data: b"apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"4.5\"\n".to_vec(),
            },
            File {
                name: "templates/cm.yaml".into(),
                data: b"kind: ConfigMap".to_vec(),
            },
        ])
        .expect("chart loads");
        let record = ChartRecord::from_chart(&chart);
        let json = serde_json::to_value(&record).expect("serializes");
        assert_eq!(
            json["metadata"],
            json!({"name": "demo", "version": "1.2.3", "apiVersion": "v2", "appVersion": "4.5"})
        );
        assert_eq!(json["lock"], Value::Null);
        assert_eq!(json["schema"], Value::Null);
        assert_eq!(
            json["templates"],
            json!([{"name": "templates/cm.yaml", "data": "a2luZDogQ29uZmlnTWFw"}])
        );
    }
}
