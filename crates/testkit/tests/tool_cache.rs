//! The Go tool cache: a corrupt entry is rebuilt, a failing build is a clear
//! error with the compiler's words. Uses kwok (small, already pinned) in a
//! throw-away cache; Go's own build cache keeps the rebuilds short.

use testkit::Cache;
use testkit::gotools::{EntryState, GoToolError, pinned_tool};

#[test]
fn a_corrupt_cache_entry_is_detected_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let kwok = pinned_tool("kwok").unwrap();
    let built = kwok.ensure(&cache).unwrap();
    let binary = built.path("kwok");
    let good = std::fs::read(&binary).unwrap();

    // Truncate the binary, as a disk-full or an interrupted copy would.
    std::fs::write(&binary, &good[..good.len() / 2]).unwrap();
    assert!(matches!(
        kwok.entry_state(&built.dir),
        EntryState::Corrupt(_)
    ));

    let rebuilt = kwok.ensure(&cache).unwrap();
    assert_eq!(kwok.entry_state(&rebuilt.dir), EntryState::Valid);
    assert_eq!(
        std::fs::metadata(rebuilt.path("kwok")).unwrap().len(),
        good.len() as u64
    );
}

#[test]
fn a_failing_go_build_is_an_error_that_quotes_the_go_command() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let mut broken = pinned_tool("kwok").unwrap();
    broken.name = "kwok-broken".into();
    broken.packages = vec!["cmd/no-such-command".into()];
    broken.assets.clear();

    let err = broken.ensure(&cache).unwrap_err();
    let GoToolError::BuildFailed {
        step, tail, log, ..
    } = &err
    else {
        panic!("expected BuildFailed, got {err}");
    };
    assert!(step.starts_with("go build"), "{step}");
    assert!(tail.contains("no-such-command"), "{tail}");
    assert!(log.is_file());
    // Nothing half-built is left to be mistaken for a cache entry.
    let leftovers: Vec<_> = std::fs::read_dir(cache.tools_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
