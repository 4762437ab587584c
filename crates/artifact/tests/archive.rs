//! Archives are normalised like Flux's: content-only digests, ignore rules, no symlinks.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::{self, File};
use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{Tree, sha256};
use driftless_artifact::{IgnoreRules, write_tar_gz};
use proptest::prelude::*;

fn archive(root: &Path, spec_ignore: Option<&str>) -> Vec<u8> {
    let rules = IgnoreRules::for_source(root, spec_ignore).unwrap();
    write_tar_gz(root, &rules, Vec::new()).unwrap()
}

/// (name, mode, uid, gid, mtime, type) of every entry, in archive order.
fn entries(tar_gz: &[u8]) -> Vec<(String, u32, u64, u64, u64, tar::EntryType)> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tar_gz));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            (
                name,
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mtime().unwrap(),
                h.entry_type(),
            )
        })
        .collect()
}

fn names(tar_gz: &[u8]) -> Vec<String> {
    entries(tar_gz).into_iter().map(|e| e.0).collect()
}

#[test]
fn identical_trees_give_identical_digests_regardless_of_creation_order_and_mtimes() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    Tree::at(&a)
        .file("apps/one.yaml", "1")
        .file("apps/two.yaml", "2")
        .file("README.md", "r");
    Tree::at(&b)
        .file("README.md", "r")
        .file("apps/two.yaml", "2")
        .file("apps/one.yaml", "1");
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    File::options()
        .write(true)
        .open(b.join("apps/one.yaml"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    assert_eq!(sha256(&archive(&a, None)), sha256(&archive(&b, None)));
}

#[test]
fn changing_one_byte_changes_the_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = Tree::at(tmp.path());
    tree.file("a.yaml", "x");
    let before = sha256(&archive(tmp.path(), None));
    tree.file("a.yaml", "y");
    assert_ne!(before, sha256(&archive(tmp.path(), None)));
}

#[test]
fn headers_are_normalised_as_flux_writes_them() {
    let tmp = tempfile::tempdir().unwrap();
    Tree::at(tmp.path())
        .file("dir/plain.yaml", "p")
        .executable("run.sh", "#!/bin/sh");
    let listed = entries(&archive(tmp.path(), None));
    let expected: Vec<(&str, u32, tar::EntryType)> = vec![
        (".", 0o750, tar::EntryType::Directory),
        ("dir", 0o750, tar::EntryType::Directory),
        ("dir/plain.yaml", 0o600, tar::EntryType::Regular),
        ("run.sh", 0o700, tar::EntryType::Regular),
    ];
    assert_eq!(listed.len(), expected.len(), "{listed:?}");
    for (entry, (name, mode, kind)) in listed.iter().zip(expected) {
        assert_eq!((entry.0.as_str(), entry.1, entry.5), (name, mode, kind));
        assert_eq!(
            (entry.2, entry.3, entry.4),
            (0, 0, 0),
            "{} has owner or time set",
            entry.0
        );
    }
}

#[test]
fn the_gzip_header_has_no_name_no_mtime_and_an_unknown_os() {
    let tmp = tempfile::tempdir().unwrap();
    Tree::at(tmp.path()).file("a", "a");
    let bytes = archive(tmp.path(), None);
    // ID1 ID2 CM FLG MTIME(4) XFL OS
    assert_eq!(&bytes[..4], &[0x1f, 0x8b, 8, 0]);
    assert_eq!(&bytes[4..8], &[0, 0, 0, 0]);
    assert_eq!(bytes[9], 255);
}

#[test]
fn symlinks_are_left_out_including_ones_pointing_outside() {
    let tmp = tempfile::tempdir().unwrap();
    Tree::at(tmp.path())
        .file("real.yaml", "r")
        .symlink("passwd", "/etc/passwd")
        .symlink("alias.yaml", "real.yaml");
    assert_eq!(names(&archive(tmp.path(), None)), [".", "real.yaml"]);
}

#[test]
fn vcs_metadata_and_default_exclusions_are_absent() {
    let tmp = tempfile::tempdir().unwrap();
    Tree::at(tmp.path())
        .file(".git/config", "[core]")
        .file(".gitignore", "x")
        .file(".github/workflows/ci.yaml", "on: push")
        .file("logo.png", "png")
        .file("charts/app-1.0.0.tar.gz", "gz")
        .file("clusters/.sops.yaml", "creation_rules: []")
        .file("clusters/prod/kustomization.yaml", "k");
    assert_eq!(
        names(&archive(tmp.path(), None)),
        // `charts` stays, emptied: only the archive inside it matched.
        [
            ".",
            "charts",
            "clusters",
            "clusters/prod",
            "clusters/prod/kustomization.yaml"
        ]
    );
}

#[test]
fn sourceignore_files_at_any_level_and_spec_ignore_are_applied() {
    let tmp = tempfile::tempdir().unwrap();
    Tree::at(tmp.path())
        .file(".sourceignore", "/docs/\n")
        .file("docs/index.md", "d")
        .file("apps/.sourceignore", "*.txt\n")
        .file("apps/notes.txt", "n")
        .file("apps/app.yaml", "a")
        .file("notes.txt", "kept: the apps/ rule is scoped to apps/")
        .file("secret.env", "s")
        .file("logo.png", "kept: user patterns drop the defaults");
    let listed = names(&archive(tmp.path(), Some("*.env\n")));
    assert_eq!(
        listed,
        [
            ".",
            ".sourceignore",
            "apps",
            "apps/.sourceignore",
            "apps/app.yaml",
            "logo.png",
            "notes.txt"
        ]
    );
}

#[test]
fn spec_ignore_can_re_include_what_a_sourceignore_excluded() {
    let tmp = tempfile::tempdir().unwrap();
    Tree::at(tmp.path())
        .file(".sourceignore", "*.yaml\n")
        .file("drop.yaml", "d")
        .file("keep.yaml", "k");
    let listed = names(&archive(tmp.path(), Some("!keep.yaml")));
    assert_eq!(listed, [".", ".sourceignore", "keep.yaml"]);
}

#[test]
fn a_missing_source_directory_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let rules = IgnoreRules::for_source(tmp.path(), None).unwrap();
    let err = write_tar_gz(&missing, &rules, Vec::new()).unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");
}

#[test]
fn the_archive_extracts_back_to_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    Tree::at(&src)
        .file("a/b/c.yaml", "c")
        .file("top.yaml", "t")
        .executable("bin/tool", "#!");
    let bytes = archive(&src, None);
    let out = tmp.path().join("out");
    driftless_artifact::extract_tar_gz(&bytes[..], &out, &Default::default()).unwrap();
    assert_eq!(common::files_in(&src), common::files_in(&out));
    let mut content = String::new();
    File::open(out.join("a/b/c.yaml"))
        .unwrap()
        .read_to_string(&mut content)
        .unwrap();
    assert_eq!(content, "c");
    assert!(
        fs::metadata(out.join("bin/tool"))
            .unwrap()
            .permissions()
            .mode()
            & 0o100
            != 0
    );
}

use std::os::unix::fs::PermissionsExt;

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_tree_written_in_any_order_archives_to_the_same_bytes(
        files in proptest::collection::btree_map("[a-c]{1,2}(/[a-c]{1,2}){0,2}\\.yaml", "[a-z]{0,16}", 1..8),
        seed in any::<u64>(),
    ) {
        // Skip maps where one name is a directory prefix of another file name.
        let names: Vec<&String> = files.keys().collect();
        let clash = names.iter().any(|a| names.iter().any(|b| b.starts_with(&format!("{a}/"))));
        prop_assume!(!clash);
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        let ta = Tree::at(&a);
        for (name, content) in &files {
            ta.file(name, content);
        }
        let mut shuffled: Vec<_> = files.iter().collect();
        let len = shuffled.len();
        shuffled.rotate_left((seed % len as u64) as usize);
        if seed % 2 == 0 {
            shuffled.reverse();
        }
        let tb = Tree::at(&b);
        for (name, content) in shuffled {
            tb.file(name, content);
        }
        prop_assert_eq!(sha256(&archive(&a, None)), sha256(&archive(&b, None)));
    }
}
