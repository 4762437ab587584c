//! Storage: Flux's layout, atomic writes, digests, locking, garbage collection and removal.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::{self, File};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime};

use common::{Tree, sha256};
use driftless_artifact::layout::{self, LATEST_TAR_GZ};
use driftless_artifact::{IgnoreRules, ObjectKey, Retention, Storage};

fn key() -> ObjectKey {
    ObjectKey::new("GitRepository", "flux-system", "podinfo").unwrap()
}

#[test]
fn a_stored_archive_lands_at_flux_path_with_digest_and_size_of_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    Tree::at(&src).file("deploy.yaml", "kind: Deployment");
    let storage = Storage::new(
        tmp.path().join("data"),
        "source-controller.flux-system.svc.cluster.local.",
    );
    let lock = storage.lock(&key()).unwrap();
    let rules = IgnoreRules::for_source(&src, None).unwrap();
    let file = layout::git_repository_file(&"ab".repeat(20));
    let artifact = lock
        .store_archive(&file, "main@sha1:abab", &src, &rules)
        .unwrap();

    assert_eq!(
        artifact.path,
        format!("gitrepository/flux-system/podinfo/{file}")
    );
    assert_eq!(
        artifact.url,
        format!(
            "http://source-controller.flux-system.svc.cluster.local./{}",
            artifact.path
        )
    );
    let bytes = fs::read(storage.local_path(&artifact).unwrap()).unwrap();
    assert_eq!(artifact.digest, sha256(&bytes));
    assert_eq!(artifact.size, Some(bytes.len() as i64));
    assert_eq!(artifact.revision, "main@sha1:abab");
    assert_eq!(
        storage.stored_digest(&artifact).unwrap().to_string(),
        artifact.digest
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &fs::metadata(storage.local_path(&artifact).unwrap())
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_write_leaves_no_temp_files_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::new(tmp.path(), "h");
    let lock = storage.lock(&key()).unwrap();
    lock.store_bytes("a.tar.gz", "r1", b"one").unwrap();
    let listed: Vec<_> = fs::read_dir(lock.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(listed, ["a.tar.gz"]);
}

#[test]
fn a_failed_archive_keeps_the_previous_artifact_and_leaves_no_partial_file() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::new(tmp.path().join("data"), "h");
    let lock = storage.lock(&key()).unwrap();
    let previous = lock.store_bytes("a.tar.gz", "r1", b"one").unwrap();
    let rules = IgnoreRules::for_source(tmp.path(), None).unwrap();
    let err = lock
        .store_archive("a.tar.gz", "r2", &tmp.path().join("missing"), &rules)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("archiving into 'gitrepository/flux-system/podinfo/a.tar.gz'"),
        "{err}"
    );
    assert_eq!(
        fs::read(storage.local_path(&previous).unwrap()).unwrap(),
        b"one"
    );
    assert_eq!(fs::read_dir(lock.dir()).unwrap().count(), 1);
}

#[test]
fn the_latest_symlink_points_at_the_newest_artifact_and_is_replaced_atomically() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::new(tmp.path(), "h:9090");
    let key = ObjectKey::new("HelmChart", "ns", "podinfo").unwrap();
    let lock = storage.lock(&key).unwrap();
    let first = lock
        .store_bytes("podinfo-1.0.0.tgz", "1.0.0", b"v1")
        .unwrap();
    let url = lock.symlink(&first, LATEST_TAR_GZ).unwrap();
    assert_eq!(url, "http://h:9090/helmchart/ns/podinfo/latest.tar.gz");
    let second = lock
        .store_bytes("podinfo-1.0.1.tgz", "1.0.1", b"v2")
        .unwrap();
    lock.symlink(&second, LATEST_TAR_GZ).unwrap();
    let link = lock.dir().join(LATEST_TAR_GZ);
    assert_eq!(
        fs::read_link(&link).unwrap().to_str(),
        Some("podinfo-1.0.1.tgz")
    );
    assert_eq!(fs::read(link).unwrap(), b"v2");
}

fn age(lock: &driftless_artifact::ObjectLock, name: &str, secs_ago: u64, now: SystemTime) {
    let file = File::options()
        .write(true)
        .open(lock.dir().join(name))
        .unwrap();
    file.set_modified(now - Duration::from_secs(secs_ago))
        .unwrap();
}

#[test]
fn garbage_collection_keeps_the_current_and_the_newest_unexpired_up_to_the_record_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::new(tmp.path(), "h");
    let lock = storage.lock(&key()).unwrap();
    let now = SystemTime::now();
    for (name, secs_ago) in [
        ("a.tar.gz", 50),
        ("b.tar.gz", 40),
        ("c.tar.gz", 30),
        ("d.tar.gz", 20),
    ] {
        lock.store_bytes(name, name, name.as_bytes()).unwrap();
        age(&lock, name, secs_ago, now);
    }
    let current = lock.store_bytes("e.tar.gz", "e", b"e").unwrap();
    lock.symlink(&current, LATEST_TAR_GZ).unwrap();
    let removed = lock
        .garbage_collect_at(&current, &Retention::default(), now)
        .unwrap();
    assert_eq!(
        removed,
        ["a", "b", "c"].map(|n| format!("gitrepository/flux-system/podinfo/{n}.tar.gz"))
    );
    let mut left: Vec<_> = fs::read_dir(lock.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["d.tar.gz", "e.tar.gz", "latest.tar.gz"]);
}

#[test]
fn garbage_collection_removes_previous_artifacts_once_past_the_ttl() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::new(tmp.path(), "h");
    let lock = storage.lock(&key()).unwrap();
    let now = SystemTime::now();
    lock.store_bytes("old.tar.gz", "old", b"o").unwrap();
    age(&lock, "old.tar.gz", 61, now);
    let current = lock.store_bytes("new.tar.gz", "new", b"n").unwrap();
    age(&lock, "new.tar.gz", 3600, now);
    let removed = lock
        .garbage_collect_at(&current, &Retention::default(), now)
        .unwrap();
    assert_eq!(removed, ["gitrepository/flux-system/podinfo/old.tar.gz"]);
    assert!(
        storage.artifact_exists(&current),
        "the current artifact is never collected"
    );
    let keep_many = Retention {
        records: 10,
        ttl: Duration::from_secs(60),
    };
    assert!(
        lock.garbage_collect_at(&current, &keep_many, now)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn removing_an_object_deletes_all_its_artifacts_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::new(tmp.path(), "h");
    let other = ObjectKey::new("GitRepository", "flux-system", "other").unwrap();
    let kept = storage
        .lock(&other)
        .unwrap()
        .store_bytes("x.tar.gz", "x", b"x")
        .unwrap();
    {
        let lock = storage.lock(&key()).unwrap();
        lock.store_bytes("a.tar.gz", "a", b"a").unwrap();
        lock.store_bytes("b.tar.gz", "b", b"b").unwrap();
    }
    assert!(storage.remove_object(&key()).unwrap());
    assert!(
        !tmp.path()
            .join("gitrepository/flux-system/podinfo")
            .exists()
    );
    assert!(
        !tmp.path()
            .join("gitrepository/flux-system/.podinfo.lock")
            .exists()
    );
    assert!(storage.artifact_exists(&kept));
    assert!(
        !storage.remove_object(&key()).unwrap(),
        "removing twice is a no-op"
    );
}

#[test]
fn concurrent_reconciles_of_one_object_never_hold_the_lock_together() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::new(tmp.path(), "h");
    let inside = Arc::new(AtomicUsize::new(0));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (storage, inside, overlaps, start) = (
                storage.clone(),
                inside.clone(),
                overlaps.clone(),
                start.clone(),
            );
            std::thread::spawn(move || {
                start.wait();
                for round in 0..5 {
                    let lock = storage.lock(&key()).unwrap();
                    if inside.fetch_add(1, Ordering::SeqCst) != 0 {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    let name = format!("{i}-{round}.tar.gz");
                    let artifact = lock.store_bytes(&name, &name, name.as_bytes()).unwrap();
                    assert_eq!(
                        fs::read(storage.local_path(&artifact).unwrap()).unwrap(),
                        name.as_bytes()
                    );
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(overlaps.load(Ordering::SeqCst), 0);
}

#[test]
fn artifact_paths_that_are_not_four_safe_segments_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::new(tmp.path(), "h");
    let lock = storage.lock(&key()).unwrap();
    let mut artifact = lock.store_bytes("a.tar.gz", "a", b"a").unwrap();
    for bad in [
        "../../etc/passwd",
        "gitrepository/flux-system/podinfo/../x",
        "a/b/c",
        "/gitrepository/a/b/c",
    ] {
        artifact.path = bad.to_owned();
        assert!(storage.local_path(&artifact).is_err(), "{bad} accepted");
    }
}
