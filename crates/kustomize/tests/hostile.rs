//! Hostile inputs: each is refused with an error naming the file, and the
//! build's peak memory stays bounded. Large inputs are generated here into a
//! temporary directory (nothing big is committed). The bounds are our
//! limits (file size, nesting depth, document and node counts, kustomization
//! depth), not timings. Path escape, symlink escape, cycles and the alias
//! bomb also have conformance cases under tests/cases/.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use driftless_kustomize::Error;
use driftless_kustomize::yaml::YamlError;

/// Peak memory is process-wide: the tests measure one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Growth of the peak resident set a hostile build may cause. The largest
/// legitimate cost is a file at the node budget (a million nodes).
const MAX_PEAK_GROWTH_KB: u64 = 256 * 1024;

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// Builds `dir`, returning the error and how much the peak RSS grew.
fn build_failing(dir: &Path) -> (Error, u64) {
    let before = peak_rss_kb();
    let result = driftless_kustomize::build(dir);
    let grown = peak_rss_kb().saturating_sub(before);
    eprintln!("{}: peak RSS grew by {grown} kB", dir.display());
    (result.expect_err("the hostile build must fail"), grown)
}

fn case_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let real = tmp.path().canonicalize().expect("canonical temp dir");
    (tmp, real)
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write test file");
}

/// A kustomization listing one resource file `file` holding `text`.
fn one_file_case(file: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = case_dir();
    write(
        &dir.join("kustomization.yaml"),
        &format!("resources:\n- {file}\n"),
    );
    write(&dir.join(file), text);
    (tmp, dir)
}

/// Builds `dir`, expecting the YAML reader to refuse `file` as `want` says,
/// within the memory bound.
fn expect_yaml_refusal(dir: &Path, file: &str, want: fn(&YamlError) -> bool, what: &str) {
    let (err, grown) = build_failing(dir);
    assert!(
        matches!(&err, Error::Yaml { source, .. } if want(source)),
        "expected {what}, got {err}"
    );
    if let Error::Yaml { path, .. } = &err {
        assert_eq!(path, &dir.join(file));
    }
    assert!(err.to_string().contains(file), "{err}");
    assert!(grown < MAX_PEAK_GROWTH_KB, "peak RSS grew by {grown} kB");
}

#[test]
fn a_100_mb_resource_file_is_refused_by_size_without_reading_it_all() {
    let _serial = ONE_AT_A_TIME.lock();
    let (_tmp, dir) = case_dir();
    write(&dir.join("kustomization.yaml"), "resources:\n- big.yaml\n");
    let big = dir.join("big.yaml");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&big).expect("create"));
    file.write_all(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n")
        .expect("write");
    let line = format!("  k: {}\n", "x".repeat(1000));
    for i in 0..110 * 1024 {
        file.write_all(line.replace("k:", &format!("k{i}:")).as_bytes())
            .expect("write");
    }
    file.flush().expect("flush");
    drop(file);
    assert!(std::fs::metadata(&big).expect("metadata").len() >= 100 * 1024 * 1024);

    let (err, grown) = build_failing(&dir);
    match &err {
        Error::TooLarge { path, limit } => {
            assert_eq!(path, &big);
            assert_eq!(*limit, driftless_kustomize::fsys::MAX_FILE_BYTES);
        }
        other => panic!("expected a size refusal, got {other}"),
    }
    assert!(err.to_string().contains("big.yaml"), "{err}");
    assert!(grown < 64 * 1024, "peak RSS grew by {grown} kB");
}

#[test]
fn a_hundred_thousand_nested_flow_sequences_are_refused_by_depth() {
    let _serial = ONE_AT_A_TIME.lock();
    let n = 100_000;
    let text = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  k: {}{}\n",
        "[".repeat(n),
        "]".repeat(n)
    );
    let (_tmp, dir) = one_file_case("deep.yaml", &text);
    let too_deep = |e: &YamlError| matches!(e, YamlError::TooDeep);
    expect_yaml_refusal(&dir, "deep.yaml", too_deep, "a depth refusal");
}

#[test]
fn deeply_nested_block_mappings_in_a_kustomization_are_refused_by_depth() {
    let _serial = ONE_AT_A_TIME.lock();
    let (_tmp, dir) = case_dir();
    let mut text = String::from("commonAnnotations:\n");
    for level in 1..=1000 {
        text.push_str(&format!("{}a:\n", "  ".repeat(level)));
    }
    write(&dir.join("kustomization.yaml"), &text);

    let (err, grown) = build_failing(&dir);
    assert!(
        err.to_string().contains("kustomization.yaml") && err.to_string().contains("deeper"),
        "{err}"
    );
    assert!(grown < MAX_PEAK_GROWTH_KB, "peak RSS grew by {grown} kB");
}

#[test]
fn ten_thousand_kustomizations_including_each_other_stop_at_the_depth_limit() {
    let _serial = ONE_AT_A_TIME.lock();
    let (_tmp, root) = case_dir();
    let n = 10_000;
    // Siblings k0 -> k1 -> … -> k9999: a chain this deep as nested
    // directories would exceed PATH_MAX before it reached us.
    for i in 0..n {
        let dir = root.join(format!("k{i}"));
        std::fs::create_dir(&dir).expect("mkdir");
        let text = if i + 1 < n {
            format!("resources:\n- ../k{}\nnamePrefix: p{i}-\n", i + 1)
        } else {
            "resources:\n- cm.yaml\n".to_string()
        };
        write(&dir.join("kustomization.yaml"), &text);
    }
    write(
        &root.join(format!("k{}/cm.yaml", n - 1)),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );

    let (err, grown) = build_failing(&root.join("k0"));
    let limit = driftless_kustomize::MAX_KUSTOMIZATION_DEPTH;
    match &err {
        Error::TooDeep { path, limit: l } => {
            assert_eq!(*l, limit);
            assert_eq!(path, &root.join(format!("k{limit}/kustomization.yaml")));
        }
        other => panic!("expected a nesting refusal, got {other}"),
    }
    assert!(grown < MAX_PEAK_GROWTH_KB, "peak RSS grew by {grown} kB");
}

#[test]
fn a_file_of_a_million_empty_documents_is_refused_by_document_count() {
    let _serial = ONE_AT_A_TIME.lock();
    // Just under the 5 MB file limit: over a million `---` lines.
    let (_tmp, dir) = one_file_case("many.yaml", &"---\n".repeat(1_200_000));
    let too_many = |e: &YamlError| matches!(e, YamlError::TooManyDocuments);
    expect_yaml_refusal(&dir, "many.yaml", too_many, "a document-count refusal");
}

#[test]
fn an_alias_bomb_is_refused_by_the_node_budget_in_bounded_memory() {
    let _serial = ONE_AT_A_TIME.lock();
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..12 {
        let p = i - 1;
        let refs = vec![format!("*a{p}"); 10].join(", ");
        text.push_str(&format!("  a{i}: &a{i} [{refs}]\n"));
    }
    let (_tmp, dir) = one_file_case("bomb.yaml", &text);
    let budget = |e: &YamlError| matches!(e, YamlError::TooManyNodes);
    expect_yaml_refusal(&dir, "bomb.yaml", budget, "the node budget to stop it");
}

#[test]
fn a_symlinked_directory_pointing_outside_the_root_is_refused_for_files() {
    let _serial = ONE_AT_A_TIME.lock();
    let (_tmp, root) = case_dir();
    let outside = root.join("outside");
    let dir = root.join("app");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::create_dir_all(&dir).expect("mkdir");
    write(
        &outside.join("secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n",
    );
    std::os::unix::fs::symlink(&outside, dir.join("linked")).expect("symlink");
    write(
        &dir.join("kustomization.yaml"),
        "resources:\n- linked/secret.yaml\n",
    );

    let (err, _) = build_failing(&dir);
    assert!(matches!(err, Error::OutsideRoot { .. }), "{err}");
    assert!(err.to_string().contains("linked/secret.yaml"), "{err}");
}
