use super::*;

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| (*t).to_owned()).collect()
}

fn store(dir: &Path, per_repository: u64, total: u64) -> TagStore {
    TagStore::open(
        dir,
        Limits {
            per_repository,
            total,
        },
    )
    .expect("store opens")
}

#[test]
fn stored_tags_read_back_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(dir.path(), 1 << 20, 1 << 20);
    store
        .set_tags("apps", "podinfo", &tags(&["6.0.1", "6.0.0", "latest"]))
        .expect("tags stored");
    assert_eq!(
        store.tags("apps", "podinfo").expect("tags read"),
        tags(&["6.0.1", "6.0.0", "latest"])
    );
    assert!(
        dir.path()
            .join("imagerepository/apps/podinfo/tags")
            .is_file()
    );
}

#[test]
fn an_unknown_repository_has_no_tags() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(dir.path(), 1 << 20, 1 << 20);
    assert!(store.tags("apps", "nothing").expect("read").is_empty());
}

#[test]
fn a_new_scan_replaces_the_list_and_its_usage() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(dir.path(), 1 << 20, 1 << 20);
    store
        .set_tags("a", "r", &tags(&["1", "2", "3"]))
        .expect("first scan");
    store
        .set_tags("a", "r", &tags(&["4"]))
        .expect("second scan");
    assert_eq!(store.tags("a", "r").expect("read"), tags(&["4"]));
    assert_eq!(store.total_bytes(), 2);
}

#[test]
fn the_revision_is_fluxs_adler32_of_the_json_list() {
    assert_eq!(adler32(b"Wikipedia"), 300_286_872);
    assert_eq!(adler32(&[b'x'; 100_000]), 2_116_691_386);
    assert_eq!(revision(&tags(&["1.0.0", "0.9.0"])), "497091407");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(dir.path(), 1 << 20, 1 << 20);
    let rev = store
        .set_tags("a", "r", &tags(&["1.0.0", "0.9.0"]))
        .expect("stored");
    assert_eq!(rev, "497091407");
}

#[test]
fn a_list_over_the_per_repository_cap_is_refused_and_the_old_list_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(dir.path(), 10, 1 << 20);
    store
        .set_tags("a", "r", &tags(&["1", "2"]))
        .expect("small list");
    let err = store
        .set_tags("a", "r", &tags(&["10000", "20000"]))
        .expect_err("12 bytes > 10");
    assert_eq!(
        err.to_string(),
        "2 tags take 12 bytes, over the tag store's limit of 10 bytes per repository"
    );
    assert_eq!(store.tags("a", "r").expect("read"), tags(&["1", "2"]));
}

#[test]
fn a_list_that_would_overflow_the_total_cap_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(dir.path(), 100, 10);
    store
        .set_tags("a", "one", &tags(&["1234"]))
        .expect("5 bytes");
    let err = store
        .set_tags("a", "two", &tags(&["123456"]))
        .expect_err("5 + 7 > 10");
    assert!(matches!(
        err,
        StoreError::Full {
            bytes: 7,
            limit: 10
        }
    ));
    assert!(store.tags("a", "two").expect("read").is_empty());
    // Replacing a list counts only the new size against the total.
    store
        .set_tags("a", "one", &tags(&["12345678"]))
        .expect("9 bytes replace 5");
    assert_eq!(store.total_bytes(), 9);
}

#[test]
fn removing_a_repository_deletes_its_file_and_frees_its_bytes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(dir.path(), 100, 10);
    store
        .set_tags("a", "one", &tags(&["12345678"]))
        .expect("9 bytes");
    store.remove("a", "one").expect("removed");
    assert_eq!(store.total_bytes(), 0);
    assert!(!dir.path().join("imagerepository/a").exists());
    store
        .set_tags("a", "two", &tags(&["12345678"]))
        .expect("room again");
    store
        .remove("a", "missing")
        .expect("removing nothing is fine");
}

#[test]
fn reopening_measures_existing_entries_and_drops_temporary_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = store(dir.path(), 100, 100);
        store.set_tags("a", "r", &tags(&["123"])).expect("stored");
    }
    let leftover = dir.path().join("imagerepository/a/r/.tags-999");
    fs::write(&leftover, "partial").expect("leftover written");
    let store = store(dir.path(), 100, 100);
    assert_eq!(store.total_bytes(), 4);
    assert!(!leftover.exists());
    assert_eq!(store.tags("a", "r").expect("read"), tags(&["123"]));
}

#[test]
fn retain_sweeps_entries_of_deleted_repositories() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(dir.path(), 100, 100);
    for name in ["keep", "gone", "also-gone"] {
        store.set_tags("a", name, &tags(&["1"])).expect("stored");
    }
    let removed = store.retain(|_, name| name == "keep").expect("swept");
    assert_eq!(removed, 2);
    assert_eq!(store.total_bytes(), 2);
    assert_eq!(store.tags("a", "keep").expect("read"), tags(&["1"]));
}

#[test]
fn keys_that_could_escape_the_store_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(dir.path(), 100, 100);
    for (ns, name) in [("..", "x"), ("a", "../b"), ("", "x"), ("a", "b/c")] {
        assert!(
            matches!(store.set_tags(ns, name, &[]), Err(StoreError::Key(_))),
            "{ns}/{name}"
        );
    }
}

#[test]
fn a_million_tags_fit_the_default_cap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = TagStore::open(dir.path(), Limits::default()).expect("store opens");
    let list: Vec<String> = (0..1_000_000).map(|i| format!("1.0.{i}")).collect();
    store.set_tags("a", "big", &list).expect("fits in 16 MiB");
    assert_eq!(store.tags("a", "big").expect("read").len(), 1_000_000);
}
