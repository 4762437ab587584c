//! The Go tool cache: a corrupt entry is rebuilt, a failing build is a clear
//! error with the compiler's words. Each test builds a pinned tool into a
//! throw-away cache.

use testkit::Cache;
use testkit::gotools::{EntryState, GoToolError, pinned_tool};

#[test]
fn a_corrupt_cache_entry_is_detected_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    // kustomize: the cheapest pinned tool to build from a cold Go cache (CI drops Go's caches
    // once the tools are built, so this rebuild compiles from scratch there).
    let tool = pinned_tool("kustomize").unwrap();
    let built = tool.ensure(&cache).unwrap();
    let binary = built.path("kustomize");
    let good = std::fs::read(&binary).unwrap();

    // Truncate the binary, as a disk-full or an interrupted copy would.
    std::fs::write(&binary, &good[..good.len() / 2]).unwrap();
    assert!(matches!(
        tool.entry_state(&built.dir),
        EntryState::Corrupt(_)
    ));

    let rebuilt = tool.ensure(&cache).unwrap();
    assert_eq!(tool.entry_state(&rebuilt.dir), EntryState::Valid);
    assert_eq!(
        std::fs::metadata(rebuilt.path("kustomize")).unwrap().len(),
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
