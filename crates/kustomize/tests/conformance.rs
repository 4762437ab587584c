//! Conformance: every case under tests/cases/ and every kustomization in the
//! reference fleet repositories is built by us and compared with the golden
//! output the real `kustomize` binary (pinned in crates/testkit/tools.toml)
//! produced for it, committed next to the case. Outputs must be the same
//! YAML documents (byte equality is counted too), or both builds must fail.
//! `cargo xtask conformance kustomize` rewrites the goldens from the oracle.

use std::path::Path;

use driftless_kustomize::conformance::{Summary, cases};

#[test]
fn every_case_builds_as_kustomize_built_it() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases = cases(crate_dir);
    let summary = Summary::of(&cases);
    for (name, why) in &summary.known_gaps {
        eprintln!("known gap: {name}: {why}");
    }
    eprintln!("kustomize conformance: {}", summary.headline());
    let failures: Vec<String> = summary
        .failed
        .iter()
        .map(|(name, why)| format!("{name}: {why}"))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_suite_holds_our_cases_and_the_fleet_corpus_when_present() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases = cases(crate_dir);
    let own = cases
        .iter()
        .filter(|c| c.name.starts_with("cases/"))
        .count();
    assert!(own >= 290, "only {own} own cases");
    if driftless_kustomize::conformance::fleet_root(crate_dir).is_dir() {
        assert!(cases.iter().any(|c| c.name.starts_with("fleets/")));
    }
}
