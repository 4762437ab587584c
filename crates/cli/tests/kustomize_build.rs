//! `driftless kustomize build` run as a process: stdout, stderr and exit status as
//! `kustomize build` gives them (the expected output is the oracle's golden file).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kustomize/tests/cases")
}

fn driftless(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_driftless"))
        .arg("kustomize")
        .arg("build")
        .args(args)
        .output()
        .expect("run driftless")
}

#[test]
fn build_prints_what_kustomize_printed_for_the_case() {
    let case = cases().join("nested-bases-three-levels");
    let expected = std::fs::read_to_string(case.join("expected.yaml")).expect("golden file");
    let out = driftless(&[&case]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).expect("utf-8"), expected);
    assert!(out.stderr.is_empty());
}

#[test]
fn a_failed_build_exits_1_with_kustomizes_error_line_and_no_output() {
    let case = cases().join("missing-resource-file-is-refused");
    assert!(
        case.join("expected-error").is_file(),
        "the oracle fails this case too"
    );
    let out = driftless(&[&case]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert!(stderr.contains("does-not-exist.yaml"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn build_without_a_directory_builds_the_current_one() {
    let case = cases().join("nested-bases-three-levels");
    let expected = std::fs::read_to_string(case.join("expected.yaml")).expect("golden file");
    let out = Command::new(env!("CARGO_BIN_EXE_driftless"))
        .args(["kustomize", "build"])
        .current_dir(&case)
        .output()
        .expect("run driftless");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).expect("utf-8"), expected);
}
