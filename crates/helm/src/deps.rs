//! Subcharts as Helm enables and feeds them before rendering: aliases
//! rename a copy of the dependency, `tags` and `condition` paths switch
//! subcharts off, and `import-values` (the `exports.X` string form and
//! the `{child, parent}` map form) copy a child's values into its parent.

use serde_json::Value as Json;

use crate::Values;
use crate::chart::Chart;
use crate::error::Error;
use crate::values::{coalesce, coalesce_tables, path_value, table};

/// Every dependency Chart.yaml lists must be present under charts/.
pub fn check(chart: &Chart) -> Result<(), Error> {
    check_as(chart, crate::HelmVersion::V3)
}

/// [`check`], the failure worded as the given Helm release words it.
pub fn check_as(chart: &Chart, version: crate::HelmVersion) -> Result<(), Error> {
    let missing: Vec<&str> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|r| !chart.dependencies.iter().any(|d| d.name() == r.name))
        .map(|r| r.name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let advice = match version {
        crate::HelmVersion::V3 => {
            "An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies"
        }
        crate::HelmVersion::V4 => {
            "an error occurred while checking for chart dependencies. You may need to run 'helm dependency build' to fetch missing dependencies"
        }
    };
    Err(Error::Chart(format!(
        "{advice}: found in Chart.yaml, but missing in charts/ directory: {}",
        missing.join(", ")
    )))
}

/// Helm's `ProcessDependenciesWithMerge`: enable, then import values.
pub fn process(chart: &mut Chart, user: &Values) -> Result<(), Error> {
    enable(chart, user, "")?;
    import_values(chart)
}

/// Whether `version` satisfies `constraint` (false when either does not parse).
pub fn compatible(constraint: &str, version: &str) -> bool {
    driftless_gotemplate::sprig::satisfies_constraint(constraint, version).unwrap_or(false)
}

fn enable(c: &mut Chart, v: &Values, path: &str) -> Result<(), Error> {
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let reqs = &mut c.metadata.dependencies;
    let existing = std::mem::take(&mut c.dependencies);
    let mut kept: Vec<Chart> = existing
        .iter()
        .filter(|e| {
            !reqs
                .iter()
                .any(|r| e.name() == r.name && compatible(&r.version, &e.metadata.version))
        })
        .cloned()
        .collect();
    for r in reqs.iter_mut() {
        let found = existing
            .iter()
            .find(|e| e.name() == r.name && compatible(&r.version, &e.metadata.version));
        if let Some(found) = found {
            let mut copy = found.clone();
            if !r.alias.is_empty() {
                copy.metadata.name = r.alias.clone();
            }
            kept.push(copy);
        }
        if !r.alias.is_empty() {
            r.name = r.alias.clone();
        }
        r.enabled = true;
    }
    c.dependencies = kept;
    let cvals = coalesce(c, v.clone(), false)?;
    apply_tags(c, &cvals);
    apply_conditions(c, &cvals, path);
    let disabled: Vec<String> = c
        .metadata
        .dependencies
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.name.clone())
        .collect();
    c.dependencies
        .retain(|d| !disabled.iter().any(|n| n == d.name()));
    c.metadata.dependencies.retain(|r| r.enabled);
    for sub in &mut c.dependencies {
        let subpath = format!("{path}{}.", sub.name());
        enable(sub, &cvals, &subpath)?;
    }
    Ok(())
}

fn apply_tags(c: &mut Chart, cvals: &Values) {
    let Some(tags) = table(cvals, "tags") else {
        return;
    };
    for r in &mut c.metadata.dependencies {
        let (mut has_true, mut has_false) = (false, false);
        for k in &r.tags {
            match tags.get(k) {
                Some(Json::Bool(true)) => has_true = true,
                Some(Json::Bool(false)) => has_false = true,
                _ => {}
            }
        }
        r.enabled = has_true || !has_false;
    }
}

fn apply_conditions(c: &mut Chart, cvals: &Values, path: &str) {
    for r in &mut c.metadata.dependencies {
        for cond in r.condition.trim().split(',') {
            if cond.is_empty() {
                continue;
            }
            if let Some(Json::Bool(b)) = path_value(cvals, &format!("{path}{cond}")) {
                r.enabled = *b;
                break;
            }
        }
    }
}

fn import_values(c: &mut Chart) -> Result<(), Error> {
    for d in &mut c.dependencies {
        import_values(d)?;
    }
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let cvals = coalesce(c, Values::new(), true)?;
    let mut b = Values::new();
    for r in &mut c.metadata.dependencies {
        let mut out = Vec::new();
        for iv in &r.import_values {
            let (child, parent) = match iv {
                Json::Object(m) => (go_string(m.get("child")), go_string(m.get("parent"))),
                Json::String(s) => (format!("exports.{s}"), ".".to_string()),
                _ => continue,
            };
            out.push(serde_json::json!({"child": child, "parent": parent}));
            let Some(vv) = table(&cvals, &format!("{}.{child}", r.name)) else {
                continue;
            };
            b = coalesce_tables(b, path_to_map(&parent, vv.clone()), true);
        }
        r.import_values = out;
    }
    c.values = coalesce_tables(cvals, b, true);
    Ok(())
}

/// `fmt.Sprintf("%v", x)` of an import-values field.
fn go_string(v: Option<&Json>) -> String {
    match v {
        None | Some(Json::Null) => "<nil>".into(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => {
            driftless_gotemplate::gofmt::sprint_value(&crate::values::to_template(other))
        }
    }
}

/// `a.b` and data as `{a: {b: data}}`; `.` is the data itself.
fn path_to_map(path: &str, data: Values) -> Values {
    if path == "." {
        return data;
    }
    let mut cur = data;
    for part in path.split('.').rev() {
        let mut m = Values::new();
        m.insert(part.to_string(), Json::Object(cur));
        cur = m;
    }
    cur
}
