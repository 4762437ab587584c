//! Conformance against `helm template` (helm v3, pinned in
//! crates/testkit/tools.toml). Each case in tests/cases/*.cases is a
//! template and values; the oracle's output or error is committed next to
//! it, so this test runs without Go. `DRIFTLESS_REGENERATE_HELM=1` reruns
//! the oracle and rewrites the recorded results.
//!
//! Both sides render the same two-file chart: the case as
//! `templates/_case.tpl`, and `templates/case.yaml` including it inside a
//! YAML block scalar (helm refuses output that is not YAML), closed by a
//! `|END` marker so trailing whitespace survives.
#![allow(clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use driftless_gotemplate::{Map, Value, helm};

const WRAPPER: &str =
    "out: |2-\n  {{- include \"t/templates/_case.tpl\" . | printf \"%s|END\" | nindent 2 }}\n";
const MARK: &str = "#### ";

#[derive(Debug, Clone)]
struct Case {
    name: String,
    template: String,
    values: String,
    /// ("output" | "error", text) as the oracle produced it.
    want: Option<(String, String)>,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

fn parse_cases(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut cur: Option<Case> = None;
    let mut section = String::new();
    let mut buf = String::new();
    let flush = |cur: &mut Option<Case>, section: &str, buf: &mut String| {
        let body = buf.strip_suffix('\n').unwrap_or(buf).to_string();
        if let Some(c) = cur.as_mut() {
            match section {
                "template" => c.template = body,
                "values" => c.values = body,
                "output" | "error" => c.want = Some((section.to_string(), body)),
                _ => {}
            }
        }
        buf.clear();
    };
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix(MARK) {
            let rest = rest.trim_end_matches('\n');
            flush(&mut cur, &section, &mut buf);
            if let Some(name) = rest.strip_prefix("case: ") {
                if let Some(c) = cur.take() {
                    cases.push(c);
                }
                cur = Some(Case {
                    name: name.to_string(),
                    template: String::new(),
                    values: String::new(),
                    want: None,
                });
                section = "template".into();
            } else {
                section = rest.to_string();
            }
            continue;
        }
        buf.push_str(line);
    }
    flush(&mut cur, &section, &mut buf);
    if let Some(c) = cur.take() {
        cases.push(c);
    }
    cases
}

fn write_cases(cases: &[Case]) -> String {
    let mut out = String::new();
    for c in cases {
        out.push_str(&format!("{MARK}case: {}\n{}\n", c.name, c.template));
        if !c.values.is_empty() {
            out.push_str(&format!("{MARK}values\n{}\n", c.values));
        }
        if let Some((kind, text)) = &c.want {
            out.push_str(&format!("{MARK}{kind}\n{text}\n"));
        }
    }
    out
}

/// The case's own output from the wrapper's manifest.
fn extract(manifest: &str) -> String {
    let body = manifest.strip_prefix("out: |2-\n").unwrap_or(manifest);
    let body = body.strip_suffix('\n').unwrap_or(body);
    let lines: Vec<&str> = body
        .split('\n')
        .map(|l| l.strip_prefix("  ").unwrap_or(l))
        .collect();
    let joined = lines.join("\n");
    joined.strip_suffix("|END").unwrap_or(&joined).to_string()
}

fn top(values: &Value) -> Value {
    let mut release = Map::new();
    release.insert("Name".into(), Value::str("t"));
    release.insert("Namespace".into(), Value::str("default"));
    release.insert("Service".into(), Value::str("Helm"));
    release.insert("IsInstall".into(), Value::Bool(true));
    release.insert("IsUpgrade".into(), Value::Bool(false));
    release.insert("Revision".into(), Value::Int(1));
    // .Chart is a struct in helm; the fields cases read are enough here.
    let mut chart = Map::new();
    chart.insert("Name".into(), Value::str("t"));
    chart.insert("Version".into(), Value::str("0.1.0"));
    chart.insert("APIVersion".into(), Value::str("v2"));
    let mut top = Map::new();
    top.insert("Chart".into(), Value::map(chart));
    top.insert("Values".into(), values.clone());
    top.insert("Release".into(), Value::map(release));
    Value::map(top)
}

fn ours(c: &Case) -> (String, String) {
    let values = match Value::from_yaml(&c.values) {
        Ok(Value::Nil) => Value::map(Map::new()),
        Ok(v) => v,
        Err(e) => return ("error".into(), format!("values do not parse: {e}")),
    };
    let files = vec![
        ("t/templates/case.yaml".to_string(), WRAPPER.to_string()),
        ("t/templates/_case.tpl".to_string(), c.template.clone()),
    ];
    match helm::render_files(&files, &top(&values), Some(1)) {
        Ok(out) => {
            let m = out
                .get("t/templates/case.yaml")
                .cloned()
                .unwrap_or_default();
            ("output".into(), extract(&m))
        }
        Err(e) => ("error".into(), e.to_string()),
    }
}

fn oracle(helm: &Path, c: &Case) -> (String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = dir.path().join("t");
    std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: t\nversion: 0.1.0\n",
    )
    .expect("write");
    std::fs::write(chart.join("values.yaml"), &c.values).expect("write");
    std::fs::write(chart.join("templates/case.yaml"), WRAPPER).expect("write");
    std::fs::write(chart.join("templates/_case.tpl"), &c.template).expect("write");
    let out = Command::new(helm)
        .args(["template", "t"])
        .arg(&chart)
        .env("HELM_CACHE_HOME", dir.path().join("cache"))
        .env("HELM_CONFIG_HOME", dir.path().join("config"))
        .env("HELM_DATA_HOME", dir.path().join("data"))
        .output()
        .expect("run helm");
    if out.status.success() {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let body = text
            .strip_prefix("---\n# Source: t/templates/case.yaml\n")
            .unwrap_or(&text)
            .to_string();
        ("output".into(), extract(&body))
    } else {
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let err = err.strip_prefix("Error: ").unwrap_or(&err);
        let err = err.trim_end_matches('\n');
        let err = err
            .strip_suffix("Use --debug flag to render out invalid YAML")
            .unwrap_or(err);
        ("error".into(), err.trim_end_matches('\n').to_string())
    }
}

fn helm_binary() -> PathBuf {
    let tool = testkit::gotools::pinned_tool("helm").expect("helm is pinned");
    tool.ensure(&testkit::Cache::from_env())
        .expect("build helm")
        .path("helm")
}

fn case_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("cases dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cases"))
        .collect();
    files.sort();
    files
}

fn regenerate() {
    let helm = helm_binary();
    for file in case_files() {
        let text = std::fs::read_to_string(&file).expect("read cases");
        let mut cases = parse_cases(&text);
        let results: Vec<(String, String)> = std::thread::scope(|s| {
            let chunks: Vec<_> = cases
                .chunks(cases.len().div_ceil(4).max(1))
                .map(|chunk| {
                    let helm = helm.clone();
                    s.spawn(move || chunk.iter().map(|c| oracle(&helm, c)).collect::<Vec<_>>())
                })
                .collect();
            chunks
                .into_iter()
                .flat_map(|h| h.join().expect("oracle thread"))
                .collect()
        });
        for (c, r) in cases.iter_mut().zip(results) {
            c.want = Some(r);
        }
        std::fs::write(&file, write_cases(&cases)).expect("write cases");
    }
}

/// Cases we knowingly render differently, one `file/case: reason` a line.
/// They count as failed in the summary; one that starts passing must
/// leave the list.
fn known_differences() -> Vec<String> {
    let text =
        std::fs::read_to_string(cases_dir().join("known-differences.txt")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(": ").map(|(k, _)| k.to_string()))
        .collect()
}

#[test]
fn every_case_renders_as_helm_template_does() {
    if std::env::var_os("DRIFTLESS_REGENERATE_HELM").is_some() {
        regenerate();
    }
    let known = known_differences();
    let mut passed = 0;
    let mut known_failed = 0;
    let mut failed = Vec::new();
    for file in case_files() {
        let text = std::fs::read_to_string(&file).expect("read cases");
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        for c in parse_cases(&text) {
            let id = format!("{stem}/{}", c.name);
            let is_known = known.contains(&id);
            let Some(want) = &c.want else {
                failed.push(format!("{id}: no recorded oracle result"));
                continue;
            };
            let got = ours(&c);
            match (&got == want, is_known) {
                (true, false) => passed += 1,
                (true, true) => failed.push(format!(
                    "{id}: passes now; remove it from known-differences.txt"
                )),
                (false, true) => known_failed += 1,
                (false, false) => failed.push(format!(
                    "{id}:\n  helm {}: {:?}\n  ours {}: {:?}",
                    want.0, want.1, got.0, got.1
                )),
            }
        }
    }
    for f in &failed {
        eprintln!("FAIL {f}");
    }
    println!("{known_failed} of the failures are listed in known-differences.txt");
    println!(
        "helm: {} passed, {} failed",
        passed,
        failed.len() + known_failed
    );
    assert!(failed.is_empty(), "{} cases differ from helm", failed.len());
}
