//! A loaded [`Chart`] as a release stores it: Chart.yaml's fields in Helm's JSON spelling, the
//! top chart's templates, values, schema and files; subcharts are not stored, as in Helm.

use serde_json::{Map, Value, json};

use super::record::{ChartRecord, FileRecord, MetadataRecord};
use crate::chart::{Chart, Dependency, File, Maintainer, Metadata};

impl ChartRecord {
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
            values: Some(chart.values.clone()),
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

fn maintainer(m: &Maintainer) -> Value {
    let mut o = Map::new();
    for (k, v) in [("name", &m.name), ("email", &m.email), ("url", &m.url)] {
        if !v.is_empty() {
            o.insert(k.into(), json!(v));
        }
    }
    Value::Object(o)
}

/// `chart.Dependency`: name and repository always, the rest when set.
fn dependency(d: &Dependency) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), json!(d.name));
    if !d.version.is_empty() {
        o.insert("version".into(), json!(d.version));
    }
    o.insert("repository".into(), json!(d.repository));
    if !d.condition.is_empty() {
        o.insert("condition".into(), json!(d.condition));
    }
    if !d.tags.is_empty() {
        o.insert("tags".into(), json!(d.tags));
    }
    if d.enabled {
        o.insert("enabled".into(), json!(true));
    }
    if !d.import_values.is_empty() {
        o.insert("import-values".into(), json!(d.import_values));
    }
    if !d.alias.is_empty() {
        o.insert("alias".into(), json!(d.alias));
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

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
