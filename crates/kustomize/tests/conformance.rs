//! Conformance: every case under tests/cases/ and every kustomization in the
//! reference fleet repositories is built by the real `kustomize` binary
//! (pinned in crates/testkit/tools.toml) and by us; the outputs must be
//! byte-identical, or both builds must fail.
#![allow(clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::gotools::{GoToolError, pinned_tool};

fn oracle() -> Option<PathBuf> {
    match pinned_tool("kustomize").and_then(|t| t.ensure(&testkit::Cache::from_env())) {
        Ok(built) => Some(built.path("kustomize")),
        Err(GoToolError::GoMissing(e)) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIP kustomize conformance: the Go toolchain is missing ({e})");
            None
        }
        Err(e) => panic!("cannot build the kustomize oracle: {e}"),
    }
}

enum Outcome {
    Same,
    BothFailed(String),
    Differ(String),
}

/// A case may say how our build must fail: `expect-error` holds text our
/// error message must contain. With `skip-oracle` (its text says why) the
/// oracle is not run, e.g. where it would fetch a remote base over the
/// network: the refusal is ours alone.
fn compare_case(kustomize: &Path, dir: &Path) -> Outcome {
    let expected = std::fs::read_to_string(dir.join("expect-error")).ok();
    let skip_oracle = dir.join("skip-oracle").is_file();
    let outcome = if skip_oracle {
        match driftless_kustomize::build(dir) {
            Ok(_) => Outcome::Differ("we succeeded where a refusal is expected".into()),
            Err(e) => Outcome::BothFailed(e.to_string()),
        }
    } else {
        compare(kustomize, dir)
    };
    match (expected, outcome) {
        (Some(want), Outcome::BothFailed(ours)) if !ours.contains(want.trim()) => {
            Outcome::Differ(format!("our error {ours:?} does not say {:?}", want.trim()))
        }
        (Some(_), Outcome::Same) => {
            Outcome::Differ("both succeeded where a failure is expected".into())
        }
        (_, outcome) => outcome,
    }
}

fn compare(kustomize: &Path, dir: &Path) -> Outcome {
    let want = Command::new(kustomize)
        .arg("build")
        .arg(dir)
        .output()
        .expect("run kustomize");
    let got = driftless_kustomize::build(dir);
    match (want.status.success(), got) {
        (true, Ok(ours)) => {
            let theirs = String::from_utf8_lossy(&want.stdout).into_owned();
            if theirs == ours {
                Outcome::Same
            } else {
                Outcome::Differ(first_difference(&theirs, &ours))
            }
        }
        (false, Err(e)) => Outcome::BothFailed(e.to_string()),
        (true, Err(e)) => Outcome::Differ(format!("kustomize succeeded, we failed: {e}")),
        (false, Ok(_)) => Outcome::Differ(format!(
            "kustomize failed ({}), we succeeded",
            String::from_utf8_lossy(&want.stderr).trim()
        )),
    }
}

fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let at = w
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(g.len()));
    let window = |lines: &[&str]| lines[at.saturating_sub(3)..(at + 3).min(lines.len())].join("\n");
    format!(
        "first difference at line {}:\n--- kustomize\n{}\n--- driftless\n{}",
        at + 1,
        window(&w),
        window(&g)
    )
}

fn case_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Kustomizations in the reference fleets that have no remote bases.
fn fleet_dirs() -> Vec<PathBuf> {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/corpus/fleets");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "kustomization.yaml") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if !text.contains("://") && !text.contains("github.com/") {
                    out.push(dir.clone());
                }
            }
        }
    }
    out.sort();
    out
}

/// Directories that still differ, with the reason; listed so the suite stays
/// green for everyone else while the gap is open. A listed directory that
/// starts matching fails the test, so this list only shrinks.
const KNOWN_GAPS: &[(&str, &str)] = &[];

fn known_gap(dir: &Path) -> Option<&'static str> {
    let text = dir.to_string_lossy();
    KNOWN_GAPS
        .iter()
        .find(|(suffix, _)| text.ends_with(suffix))
        .map(|(_, why)| *why)
}

#[test]
fn every_case_builds_exactly_as_kustomize_builds_it() {
    let Some(kustomize) = oracle() else { return };
    let mut failures = Vec::new();
    let dirs: Vec<PathBuf> = case_dirs().into_iter().chain(fleet_dirs()).collect();
    let mut passed = 0;
    for dir in &dirs {
        let outcome = compare_case(&kustomize, dir);
        if let Some(why) = known_gap(dir) {
            match outcome {
                Outcome::Differ(_) => eprintln!("known gap: {}: {why}", dir.display()),
                _ => failures.push(format!(
                    "{}: now matches; remove it from KNOWN_GAPS",
                    dir.display()
                )),
            }
            continue;
        }
        match outcome {
            Outcome::Same => passed += 1,
            Outcome::BothFailed(ours) => {
                passed += 1;
                eprintln!("both failed as expected: {}: {ours}", dir.display());
            }
            Outcome::Differ(why) => failures.push(format!("{}: {why}", dir.display())),
        }
    }
    eprintln!(
        "kustomize conformance: {passed} passed, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
