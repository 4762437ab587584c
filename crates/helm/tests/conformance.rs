//! Conformance against `helm template` of Helm 3 and Helm 4 (both pinned in
//! crates/testkit/tools.toml, as `helm` and `helm4`): every case in
//! tests/cases renders, in each mode, as that oracle's committed golden
//! says, byte for byte or after YAML parsing. `DRIFTLESS_REGENERATE_HELM=1`
//! (or `cargo xtask conformance helm`) reruns the oracles and rewrites the
//! goldens.

use std::path::Path;

use driftless_helm::HelmVersion;
use driftless_helm::conformance::{Case, Summary, cases};

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_case_renders_as_helm_3_template_does() {
    check(HelmVersion::V3, "helm", "helm", "known-differences.txt");
}

#[test]
fn every_case_renders_as_helm_4_template_does() {
    check(
        HelmVersion::V4,
        "helm4",
        "helm4",
        "known-differences-v4.txt",
    );
}

fn check(version: HelmVersion, tool: &str, binary: &str, known_file: &str) {
    let cases = cases(crate_dir());
    if std::env::var_os("DRIFTLESS_REGENERATE_HELM").is_some() {
        regenerate(&cases, version, tool, binary);
    }
    if let Some(dir) = std::env::var_os("DRIFTLESS_HELM_DUMP") {
        dump(&cases, version, Path::new(&dir));
    }
    let summary = Summary::of_as(&cases, version);
    let known = known_differences(known_file);
    let mut unexpected = Vec::new();
    for (name, why) in &summary.failed {
        eprintln!("FAIL {name}: {why}");
        if !known.contains(name) {
            unexpected.push(name.clone());
        }
    }
    let stale: Vec<&String> = known
        .iter()
        .filter(|k| cases.iter().any(|c| &c.name == *k))
        .filter(|k| !summary.failed.iter().any(|(n, _)| n == *k))
        .collect();
    for name in &summary.same_but_random {
        eprintln!("identical but for random values: {name}");
    }
    for name in &summary.equivalent {
        eprintln!("same documents, other text: {name}");
    }
    println!("{}", summary.headline());
    assert!(
        cases.len() >= 16,
        "the suite holds the own chart cases at least"
    );
    assert!(
        unexpected.is_empty(),
        "cases differ from helm ({version:?}): {unexpected:?}"
    );
    assert!(
        stale.is_empty(),
        "these pass now; remove them from {known_file}: {stale:?}"
    );
}

fn regenerate(cases: &[Case], version: HelmVersion, tool: &str, binary: &str) {
    let tool = testkit::gotools::pinned_tool(tool).expect("helm is pinned");
    let helm = tool
        .ensure(&testkit::Cache::from_env())
        .expect("build helm")
        .path(binary);
    let scratch = tempfile::tempdir().expect("tempdir");
    for c in cases {
        c.record_as(&helm, scratch.path(), version)
            .expect("record golden");
    }
}

/// Writes our output of every case to `<dir>/<name>.<version>` for diffing
/// against the goldens while working on a difference.
fn dump(cases: &[Case], version: HelmVersion, dir: &Path) {
    std::fs::create_dir_all(dir).expect("dump directory");
    for c in cases {
        let text = c
            .ours_as(version)
            .unwrap_or_else(|e| format!("ERROR:\n{e}\n"));
        let file = dir.join(format!("{}.{version:?}", c.name));
        std::fs::write(file, text).expect("write dump");
    }
}

/// Case names we knowingly render differently (`name: reason` lines of
/// tests/cases/<file>).
fn known_differences(file: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(crate_dir().join("tests/cases").join(file)).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(": ").map(|(k, _)| k.to_string()))
        .collect()
}
