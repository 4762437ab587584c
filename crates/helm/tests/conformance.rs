//! Conformance against `helm template` (helm v3, pinned in
//! crates/testkit/tools.toml): every case in tests/cases renders as the
//! oracle's committed golden says, byte for byte or after YAML parsing.
//! `DRIFTLESS_REGENERATE_HELM=1` (or `cargo xtask conformance helm`)
//! reruns the oracle and rewrites the goldens.

use std::path::Path;

use driftless_helm::conformance::{Summary, cases};

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_case_renders_as_helm_template_does() {
    let cases = cases(crate_dir());
    if std::env::var_os("DRIFTLESS_REGENERATE_HELM").is_some() {
        let tool = testkit::gotools::pinned_tool("helm").expect("helm is pinned");
        let helm = tool
            .ensure(&testkit::Cache::from_env())
            .expect("build helm")
            .path("helm");
        let scratch = tempfile::tempdir().expect("tempdir");
        for c in &cases {
            c.record(&helm, scratch.path()).expect("record golden");
        }
    }
    let summary = Summary::of(&cases);
    let known = known_differences();
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
        "cases differ from helm: {unexpected:?}"
    );
    assert!(
        stale.is_empty(),
        "these pass now; remove them from known-differences.txt: {stale:?}"
    );
}

/// Case names we knowingly render differently (tests/cases/known-differences.txt).
fn known_differences() -> Vec<String> {
    let text = std::fs::read_to_string(crate_dir().join("tests/cases/known-differences.txt"))
        .unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(": ").map(|(k, _)| k.to_string()))
        .collect()
}
