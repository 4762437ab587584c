//! `helm template`: dependencies checked and enabled, values coalesced and
//! validated, every template of the chart tree rendered through
//! driftless-gotemplate with its own chart's `.Values`, `.Chart`, `.Files`
//! and `.Subcharts`, NOTES.txt left out, then hooks and manifests printed
//! as Helm prints them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use driftless_gotemplate::{Map, Value};

use crate::Values;
use crate::chart::Chart;
use crate::error::Error;
use crate::files::{Capabilities, Files, KubeVersion, VersionSet};
use crate::manifest;
use crate::values::{coalesce_as, map_to_template};

/// Which `helm template` to reproduce. Helm 4 prints documents with their
/// trailing blank lines, drops `null` chart defaults, hands templates
/// `.Chart` as a map and words execution errors as a location trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HelmVersion {
    #[default]
    V3,
    V4,
}

impl std::str::FromStr for HelmVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim_start_matches('v') {
            "3" => Ok(HelmVersion::V3),
            "4" => Ok(HelmVersion::V4),
            other => Err(format!("unknown Helm major version {other:?} (3 or 4)")),
        }
    }
}

/// How to render, as `helm template`'s flags say.
#[derive(Debug, Clone)]
pub struct Options {
    pub release_name: String,
    pub namespace: String,
    /// `--kube-version` (Helm's default v1.20.0 when None).
    pub kube_version: Option<String>,
    /// `--api-versions`, added to Helm's defaults.
    pub api_versions: Vec<String>,
    /// `--include-crds`: print `crds/` files first.
    pub include_crds: bool,
    /// `--skip-tests`: leave out test hooks.
    pub skip_tests: bool,
    /// `--no-hooks`: leave out every hook.
    pub no_hooks: bool,
    /// `--skip-schema-validation`.
    pub skip_schema_validation: bool,
    /// Seed for random template functions (None: fresh randomness).
    pub seed: Option<u64>,
    /// What `now` returns, Unix seconds (None: the clock).
    pub now: Option<i64>,
    /// The Helm release whose output to reproduce.
    pub helm_version: HelmVersion,
    /// `.Release.IsUpgrade` (and `.Release.IsInstall` its negation): rendering for an upgrade.
    pub is_upgrade: bool,
    /// `.Release.Revision`: the revision being rendered (1 for `helm template`).
    pub revision: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            release_name: "release-name".into(),
            namespace: "default".into(),
            kube_version: None,
            api_versions: Vec::new(),
            include_crds: false,
            skip_tests: false,
            no_hooks: false,
            skip_schema_validation: false,
            seed: None,
            now: None,
            helm_version: HelmVersion::V3,
            is_upgrade: false,
            revision: 1,
        }
    }
}

/// Renders `chart` with the user's values into what `helm template` prints.
pub fn template(chart: Chart, user: Values, opts: &Options) -> Result<String, Error> {
    template_with_notes(chart, user, opts).map(|(manifest, _)| manifest)
}

/// [`template`] and the rendered `templates/NOTES.txt` of the top chart (empty without one),
/// which Helm records as the release's `info.notes`; subcharts' notes are dropped, as Helm
/// drops them unless asked for.
pub fn template_with_notes(
    mut chart: Chart,
    user: Values,
    opts: &Options,
) -> Result<(String, String), Error> {
    match chart.metadata.chart_type.as_str() {
        "" | "application" => {}
        t => return Err(Error::Chart(format!("{t} charts are not installable"))),
    }
    crate::deps::check_as(&chart, opts.helm_version)?;
    crate::deps::process(&mut chart, &user).map_err(|e| match opts.helm_version {
        HelmVersion::V3 => e,
        HelmVersion::V4 => Error::Chart(format!("chart dependencies processing failed: {e}")),
    })?;
    let kube_version = match &opts.kube_version {
        Some(v) => KubeVersion::parse_as(v, opts.helm_version)
            .map_err(|e| Error::Chart(format!("invalid kube version '{v}': {e}")))?,
        None => KubeVersion::default_for(opts.helm_version),
    };
    let values = coalesce_as(&chart, user, false, opts.helm_version)?;
    if !opts.skip_schema_validation {
        crate::schema::validate_chart(&chart, &values)?;
    }
    if !chart.metadata.kube_version.is_empty()
        && !crate::deps::compatible(&chart.metadata.kube_version, &kube_version.normalized)
    {
        return Err(Error::KubeVersion(format!(
            "chart requires kubeVersion: {} which is incompatible with Kubernetes {}",
            chart.metadata.kube_version, kube_version.version
        )));
    }
    let caps = Value::Object(Arc::new(Capabilities {
        kube_version,
        api_versions: VersionSet::with_defaults_as(&opts.api_versions, opts.helm_version),
    }));
    let mut release = Map::new();
    release.insert("Name".into(), Value::str(opts.release_name.as_str()));
    release.insert("Namespace".into(), Value::str(opts.namespace.as_str()));
    release.insert("IsUpgrade".into(), Value::Bool(opts.is_upgrade));
    release.insert("IsInstall".into(), Value::Bool(!opts.is_upgrade));
    release.insert("Revision".into(), Value::Int(i64::from(opts.revision)));
    release.insert("Service".into(), Value::str("Helm"));
    let top = Top {
        release: Value::map(release),
        caps,
        version: opts.helm_version,
    };
    let mut texts = Vec::new();
    let mut data: HashMap<String, Value> = HashMap::new();
    let root_values = Value::map(map_to_template(&values));
    chart.full_path = chart.name().to_string();
    collect(&chart, root_values, true, &top, &mut texts, &mut data);
    let extra = match opts.helm_version {
        HelmVersion::V3 => driftless_gotemplate::FuncMap::new(),
        HelmVersion::V4 => crate::funcs_v4::funcs(),
    };
    let rendered = driftless_gotemplate::helm::render_scoped_with(
        &texts,
        &|name| data.get(name).cloned().unwrap_or(Value::Nil),
        opts.seed,
        opts.now,
        extra,
    )
    .map_err(|e| Error::Template(template_error(e, opts.helm_version)))?;
    let notes_path = format!("{}/templates/NOTES.txt", chart.name());
    let notes = rendered.get(&notes_path).cloned().unwrap_or_default();
    let files: BTreeMap<String, String> = rendered
        .into_iter()
        .filter(|(k, _)| !k.ends_with("NOTES.txt"))
        .collect();
    let (hooks, manifests) = manifest::sort_as(&files, opts.helm_version)?;
    let mut b = String::new();
    if opts.include_crds {
        for (path, data) in crds(&chart, chart.name()) {
            manifest::print(&mut b, &path, &data);
        }
    }
    for m in &manifests {
        manifest::print(&mut b, &m.path, &m.content);
    }
    let mut out = b.trim().to_string();
    out.push('\n');
    if !opts.no_hooks {
        for h in hooks {
            if opts.skip_tests && h.is_test_hook() {
                continue;
            }
            manifest::print(&mut out, &h.path, &h.content);
        }
    }
    Ok((out, notes))
}

struct Top {
    release: Value,
    caps: Value,
    version: HelmVersion,
}

/// A template failure as the Helm release words it: Helm 4 turns a chain
/// of execution errors into a location trace.
fn template_error(e: driftless_gotemplate::Error, version: HelmVersion) -> String {
    match (e, version) {
        (driftless_gotemplate::Error::Exec(raw), HelmVersion::V4) => {
            crate::exectrace::reformat(&raw).unwrap_or(raw)
        }
        (e, _) => e.to_string(),
    }
}

/// Helm's `recAllTpls`: each chart's data, its templates named by their
/// path from the root, and the map the parent sees as `.Subcharts.<name>`.
fn collect(
    c: &Chart,
    values: Value,
    is_root: bool,
    top: &Top,
    texts: &mut Vec<(String, String)>,
    data: &mut HashMap<String, Value>,
) -> Value {
    let mut next = Map::new();
    let chart_value = match top.version {
        HelmVersion::V3 => crate::chartvalue::chart_value(c, is_root),
        HelmVersion::V4 => crate::chartvalue::chart_map_v4(c, is_root),
    };
    next.insert("Chart".into(), chart_value);
    next.insert(
        "Files".into(),
        Files(
            c.files
                .iter()
                .map(|f| (f.name.clone(), Arc::new(f.data.clone())))
                .collect(),
        )
        .value(),
    );
    next.insert("Release".into(), top.release.clone());
    next.insert("Capabilities".into(), top.caps.clone());
    next.insert("Values".into(), values.clone());
    let mut sub_values = Map::new();
    for child in &c.dependencies {
        let vs = match &values {
            Value::Map(m) => match m.get(child.name()) {
                Some(v @ Value::Map(_)) => v,
                _ => Value::map(Map::new()),
            },
            _ => Value::map(Map::new()),
        };
        let mut child = child.clone();
        child.full_path = format!("{}/charts/{}", c.full_path, child.name());
        let v = collect(&child, vs, false, top, texts, data);
        sub_values.insert(child.name().to_string(), v);
    }
    next.insert("Subcharts".into(), Value::map(sub_values));
    let next = Value::map(next);
    for t in &c.templates {
        let base = t.name.rsplit('/').next().unwrap_or(&t.name);
        if c.is_library() && !base.starts_with('_') {
            continue;
        }
        let name = format!("{}/{}", c.full_path, t.name);
        texts.push((name.clone(), String::from_utf8_lossy(&t.data).into_owned()));
        data.insert(name, next.clone());
    }
    next
}

/// `crds/*.{yaml,yml,json}` of the chart and then its subcharts, with the
/// path Helm prints (`chart/charts/sub/crds/x.yaml`).
fn crds(c: &Chart, full_path: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in &c.files {
        let lower = f.name.to_ascii_lowercase();
        if f.name.starts_with("crds/")
            && (lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json"))
        {
            out.push((
                format!("{full_path}/{}", f.name),
                String::from_utf8_lossy(&f.data).into_owned(),
            ));
        }
    }
    for d in &c.dependencies {
        out.extend(crds(d, &format!("{full_path}/charts/{}", d.name())));
    }
    out
}

#[cfg(test)]
mod notes_tests {
    use super::*;
    use crate::chart::File;

    fn file(name: &str, data: &str) -> File {
        File {
            name: name.into(),
            data: data.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_top_charts_notes_are_rendered_apart_from_the_manifest_and_subcharts_notes_dropped() {
        let chart = Chart::from_files(vec![
            file("Chart.yaml", "apiVersion: v2\nname: top\nversion: 1.0.0\n"),
            file("values.yaml", "who: world\n"),
            file(
                "templates/NOTES.txt",
                "Hello {{ .Values.who }} from {{ .Release.Name }}",
            ),
            file(
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
            ),
            file(
                "charts/sub/Chart.yaml",
                "apiVersion: v2\nname: sub\nversion: 1.0.0\n",
            ),
            file("charts/sub/templates/NOTES.txt", "sub notes"),
        ])
        .expect("chart");
        let opts = Options {
            release_name: "rel".into(),
            ..Options::default()
        };
        let (manifest, notes) =
            template_with_notes(chart.clone(), Values::new(), &opts).expect("renders");
        assert_eq!(notes, "Hello world from rel");
        assert!(!manifest.contains("Hello") && !manifest.contains("sub notes"));
        assert_eq!(
            template(chart, Values::new(), &opts).expect("renders"),
            manifest
        );

        let bare = Chart::from_files(vec![file(
            "Chart.yaml",
            "apiVersion: v2\nname: bare\nversion: 1.0.0\n",
        )])
        .expect("chart");
        assert_eq!(
            template_with_notes(bare, Values::new(), &opts)
                .expect("renders")
                .1,
            ""
        );
    }
}
