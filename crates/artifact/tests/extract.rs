//! Extraction refuses tampered, escaping and oversized archives with clear errors.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;

use common::{EvilTar, Tree, sha256};
use driftless_artifact::{
    ExtractError, ExtractLimits, SymlinkPolicy, extract_tar_gz, extract_verified,
};

fn extract(bytes: &[u8], dest: &Path) -> Result<driftless_artifact::ExtractSummary, ExtractError> {
    extract_tar_gz(bytes, dest, &ExtractLimits::default())
}

fn is_empty(dir: &Path) -> bool {
    !dir.exists() || fs::read_dir(dir).unwrap().next().is_none()
}

#[test]
fn a_tampered_artifact_is_refused_before_anything_is_extracted() {
    let tmp = tempfile::tempdir().unwrap();
    let good = EvilTar::new()
        .file("deploy.yaml", b"kind: Deployment")
        .tar_gz();
    let published = sha256(&good);
    let tampered = EvilTar::new().file("deploy.yaml", b"kind: Evil").tar_gz();
    let file = tmp.path().join("artifact.tar.gz");
    fs::write(&file, &tampered).unwrap();
    let dest = tmp.path().join("out");
    let err = extract_verified(&file, &published, &dest, &ExtractLimits::default()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ExtractError::DigestMismatch { .. }));
    assert!(
        message.contains(&published) && message.contains(&sha256(&tampered)),
        "{message}"
    );
    assert!(is_empty(&dest));

    fs::write(&file, &good).unwrap();
    let summary = extract_verified(&file, &published, &dest, &ExtractLimits::default()).unwrap();
    assert_eq!(summary.files, 1);
}

#[test]
fn entries_climbing_out_with_dot_dot_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let bytes = EvilTar::new()
        .file("ok.yaml", b"ok")
        .file("a/../../escaped", b"x")
        .tar_gz();
    let err = extract(&bytes, &dest).unwrap_err();
    assert!(matches!(err, ExtractError::PathEscape { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("'a/../../escaped' escapes the destination"),
        "{err}"
    );
    assert!(!tmp.path().join("escaped").exists());
}

#[test]
fn absolute_entry_names_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("abs-target");
    let bytes = EvilTar::new().file(target.to_str().unwrap(), b"x").tar_gz();
    let err = extract(&bytes, &tmp.path().join("out")).unwrap_err();
    assert!(matches!(err, ExtractError::PathEscape { .. }), "{err}");
    assert!(!target.exists());
}

#[test]
fn symlinks_are_skipped_by_default_so_nothing_can_be_written_through_them() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let dest = tmp.path().join("out");
    let bytes = EvilTar::new()
        .symlink("link", outside.to_str().unwrap())
        .file("link/planted", b"x")
        .tar_gz();
    let summary = extract(&bytes, &dest).unwrap();
    assert_eq!(summary.skipped_symlinks, 1);
    assert!(
        is_empty(&outside),
        "a file was written outside the destination"
    );
    assert!(
        fs::symlink_metadata(dest.join("link")).unwrap().is_dir(),
        "the link was not created"
    );
}

#[test]
fn symlinks_pointing_outside_are_refused_when_symlinks_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let keep = ExtractLimits {
        symlinks: SymlinkPolicy::KeepInside,
        ..ExtractLimits::default()
    };
    for target in ["/etc/passwd", "../outside", "sub/../../outside"] {
        let bytes = EvilTar::new().symlink("link", target).tar_gz();
        let err = extract_tar_gz(&bytes[..], &tmp.path().join("out"), &keep).unwrap_err();
        assert!(
            matches!(err, ExtractError::SymlinkEscape { .. }),
            "{target}: {err}"
        );
        assert!(err.to_string().contains(target), "{err}");
    }
}

#[test]
fn a_chain_of_inside_symlinks_that_resolves_outside_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let keep = ExtractLimits {
        symlinks: SymlinkPolicy::KeepInside,
        ..ExtractLimits::default()
    };
    // `a` is the root itself, so `a/..` is the destination's parent although each name looks inside.
    let bytes = EvilTar::new()
        .dir("d")
        .symlink("d/a", "..")
        .symlink("b", "d/a/..")
        .tar_gz();
    let err = extract_tar_gz(&bytes[..], &tmp.path().join("out"), &keep).unwrap_err();
    assert!(matches!(err, ExtractError::SymlinkEscape { .. }), "{err}");
}

#[test]
fn symlinks_inside_the_destination_are_kept_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let keep = ExtractLimits {
        symlinks: SymlinkPolicy::KeepInside,
        ..ExtractLimits::default()
    };
    let dest = tmp.path().join("out");
    let bytes = EvilTar::new()
        .file("dir/real.yaml", b"r")
        .symlink("dir/alias.yaml", "real.yaml")
        .tar_gz();
    let summary = extract_tar_gz(&bytes[..], &dest, &keep).unwrap();
    assert_eq!(summary.symlinks, 1);
    assert_eq!(fs::read(dest.join("dir/alias.yaml")).unwrap(), b"r");
}

#[test]
fn hardlinks_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = EvilTar::new()
        .file("a", b"a")
        .hardlink("b", "/etc/passwd")
        .tar_gz();
    let err = extract(&bytes, &tmp.path().join("out")).unwrap_err();
    assert!(
        matches!(err, ExtractError::UnsupportedEntry { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("'b' has unsupported type Link"),
        "{err}"
    );
}

#[test]
fn archives_over_the_untar_limit_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let limits = ExtractLimits {
        max_untar_size: Some(1024),
        ..ExtractLimits::default()
    };
    let bytes = EvilTar::new().zeros("a", 600).zeros("b", 600).tar_gz();
    let err = extract_tar_gz(&bytes[..], &tmp.path().join("out"), &limits).unwrap_err();
    assert!(
        matches!(err, ExtractError::TooLarge { limit: 1024 }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "archive content exceeds the untar limit of 1024 bytes"
    );
    assert!(!tmp.path().join("out/b").exists());
}

#[test]
fn the_default_untar_limit_is_flux_100_mib() {
    let tmp = tempfile::tempdir().unwrap();
    // Refused on the declared size, before any of the content is read.
    let bytes = EvilTar::new()
        .header_only("big", 100 * 1024 * 1024 + 1)
        .tar_gz();
    let err = extract(&bytes, &tmp.path().join("out")).unwrap_err();
    assert!(
        matches!(err, ExtractError::TooLarge { limit: 104_857_600 }),
        "{err}"
    );
}

#[test]
fn archives_with_too_many_entries_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let limits = ExtractLimits {
        max_entries: 3,
        ..ExtractLimits::default()
    };
    let mut tar = EvilTar::new();
    for i in 0..4 {
        tar = tar.file(&format!("f{i}"), b"");
    }
    let err = extract_tar_gz(&tar.tar_gz()[..], &tmp.path().join("out"), &limits).unwrap_err();
    assert!(
        matches!(err, ExtractError::TooManyEntries { limit: 3 }),
        "{err}"
    );
}

#[test]
fn a_gzip_bomb_is_stopped_by_the_decompressed_limit_before_it_is_buffered() {
    let tmp = tempfile::tempdir().unwrap();
    let limits = ExtractLimits {
        max_untar_size: Some(1024),
        max_entries: 4,
        ..ExtractLimits::default()
    };
    // A long-name extension the tar reader would hold in memory whole: 8 MiB of one byte,
    // a hundred times the stream budget these limits allow.
    let bytes = EvilTar::new()
        .long_name_bomb(8 * 1024 * 1024)
        .file("a", b"a")
        .tar_gz();
    assert!(bytes.len() < 256 * 1024, "the bomb should compress well");
    let err = extract_tar_gz(&bytes[..], &tmp.path().join("out"), &limits).unwrap_err();
    assert!(
        matches!(err, ExtractError::DecompressionBomb { .. }),
        "{err}"
    );
}

#[test]
fn garbage_is_reported_as_a_malformed_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let err = extract(b"not a gzip stream at all", &tmp.path().join("out")).unwrap_err();
    assert!(matches!(err, ExtractError::Malformed(_)), "{err}");
}

#[test]
fn a_file_cannot_replace_a_directory_or_pass_through_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = EvilTar::new().file("a", b"a").file("a/b", b"b").tar_gz();
    let err = extract(&bytes, &tmp.path().join("out")).unwrap_err();
    assert!(matches!(err, ExtractError::Conflict { .. }), "{err}");
}

#[test]
fn a_tree_archived_by_storage_extracts_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    Tree::at(&src)
        .file("x/y.yaml", "y")
        .file("z.yaml", "z")
        .dir("empty");
    let rules = driftless_artifact::IgnoreRules::for_source(&src, None).unwrap();
    let bytes = driftless_artifact::write_tar_gz(&src, &rules, Vec::new()).unwrap();
    let dest = tmp.path().join("out");
    let summary = extract(&bytes, &dest).unwrap();
    assert_eq!((summary.files, summary.dirs), (2, 2));
    assert!(dest.join("empty").is_dir());
    assert_eq!(common::files_in(&src), common::files_in(&dest));
}

mod hostile_archives {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Entry {
        File(String),
        Dir(String),
        Symlink(String, String),
    }

    fn name() -> impl Strategy<Value = String> {
        proptest::collection::vec(prop_oneof!["a", "b", "..", ".", "/", "/tmp"], 1..5)
            .prop_map(|parts| parts.join("/"))
    }

    fn entry() -> impl Strategy<Value = Entry> {
        prop_oneof![
            name().prop_map(Entry::File),
            name().prop_map(Entry::Dir),
            (name(), name()).prop_map(|(n, t)| Entry::Symlink(n, t)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn no_archive_of_hostile_names_writes_outside_the_destination(
            entries in proptest::collection::vec(entry(), 1..8),
            keep_symlinks in any::<bool>(),
        ) {
            let tmp = tempfile::tempdir().unwrap();
            let dest = tmp.path().join("jail/out");
            let mut tar = EvilTar::new();
            for e in &entries {
                tar = match e {
                    Entry::File(n) => tar.file(n, b"x"),
                    Entry::Dir(n) => tar.dir(n),
                    Entry::Symlink(n, t) => tar.symlink(n, t),
                };
            }
            let policy = if keep_symlinks { SymlinkPolicy::KeepInside } else { SymlinkPolicy::Skip };
            let limits = ExtractLimits { symlinks: policy, ..ExtractLimits::default() };
            let _ = extract_tar_gz(&tar.tar_gz()[..], &dest, &limits);
            // Only `jail/out` may exist next to the destination, and nothing above it.
            let above: Vec<_> = fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            prop_assert_eq!(above, vec![std::ffi::OsString::from("jail")]);
            let beside: Vec<_> = fs::read_dir(tmp.path().join("jail")).unwrap().map(|e| e.unwrap().file_name()).collect();
            prop_assert_eq!(beside, vec![std::ffi::OsString::from("out")]);
        }
    }
}
