use driftless_runtime::draft::DraftInput;
use jiff::Timestamp;

use super::*;

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| (*t).to_owned()).collect()
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).expect("small timestamps are in range")
}

fn draft(requested: Option<&str>, handled: Option<&str>) -> StatusDraft {
    StatusDraft::begin(
        DraftInput {
            generation: Some(1),
            observed_generation: Some(1),
            requested_at: requested.map(str::to_owned),
            last_handled_reconcile_at: handled.map(str::to_owned),
            ..DraftInput::default()
        },
        Time(at(0)),
    )
}

fn scanned(at_second: i64) -> ImageRepositoryStatus {
    ImageRepositoryStatus {
        canonical_image_name: Some("ghcr.io/org/app".into()),
        observed_exclusion_list: Some(tags(DEFAULT_EXCLUSION_LIST)),
        last_scan_result: Some(ScanResult {
            scan_time: Some(Time(at(at_second))),
            tag_count: 1,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn reason(
    status: &ImageRepositoryStatus,
    draft: &StatusDraft,
    has_tags: bool,
    now: i64,
) -> Result<&'static str, Duration> {
    scan_reason(
        status,
        draft,
        "ghcr.io/org/app",
        &tags(DEFAULT_EXCLUSION_LIST),
        has_tags,
        Duration::from_secs(60),
        at(now),
    )
}

#[test]
fn a_repository_never_scanned_is_scanned_first() {
    let status = ImageRepositoryStatus::default();
    assert_eq!(
        reason(&status, &draft(None, None), true, 0),
        Ok("first scan")
    );
}

#[test]
fn a_recent_scan_waits_for_the_rest_of_the_interval() {
    assert_eq!(
        reason(&scanned(100), &draft(None, None), true, 130),
        Err(Duration::from_secs(30))
    );
}

#[test]
fn an_elapsed_interval_triggers_a_scan() {
    assert_eq!(
        reason(&scanned(100), &draft(None, None), true, 160),
        Ok("triggered by interval")
    );
    // Less than a second left counts as due, as in Flux.
    assert_eq!(
        reason(&scanned(100), &draft(None, None), true, 159),
        Err(Duration::from_secs(1))
    );
}

#[test]
fn a_reconcile_request_scans_at_once() {
    assert_eq!(
        reason(
            &scanned(100),
            &draft(Some("now"), Some("before")),
            true,
            101
        ),
        Ok("reconcile requested")
    );
    assert!(reason(&scanned(100), &draft(Some("now"), Some("now")), true, 101).is_err());
}

#[test]
fn a_new_image_name_or_exclusion_list_scans_at_once() {
    let mut renamed = scanned(100);
    renamed.canonical_image_name = Some("ghcr.io/org/old".into());
    assert_eq!(
        reason(&renamed, &draft(None, None), true, 101),
        Ok("new image name")
    );
    let mut excluded = scanned(100);
    excluded.observed_exclusion_list = Some(tags(&["^latest$"]));
    assert_eq!(
        reason(&excluded, &draft(None, None), true, 101),
        Ok("updated exclusion list")
    );
}

#[test]
fn an_empty_store_entry_scans_at_once() {
    assert_eq!(
        reason(&scanned(100), &draft(None, None), false, 101),
        Ok("no tags in database")
    );
}

#[test]
fn the_default_exclusion_list_drops_cosign_signatures() {
    let repo = ImageRepository::new("r", Default::default());
    let kept = exclude(
        tags(&["1.0.0", "sha256-abc.sig", "sha256-abc.att", "sig"]),
        &exclusion_list(&repo),
    )
    .expect("default patterns compile");
    assert_eq!(kept, tags(&["1.0.0", "sha256-abc.att", "sig"]));
}

#[test]
fn an_explicit_exclusion_list_replaces_the_default() {
    let mut repo = ImageRepository::new("r", Default::default());
    repo.spec.exclusion_list = Some(tags(&["^1\\.0\\.2$", "1.1.1|1.0.0"]));
    let kept = exclude(
        tags(&["1.0.0", "1.0.1", "1.0.2", "1.1.1", "x.sig"]),
        &exclusion_list(&repo),
    )
    .expect("patterns compile");
    assert_eq!(kept, tags(&["1.0.1", "x.sig"]));
    repo.spec.exclusion_list = Some(Vec::new());
    assert_eq!(exclusion_list(&repo), Vec::<String>::new());
}

#[test]
fn an_exclusion_pattern_that_does_not_compile_fails_the_scan() {
    let err = exclude(tags(&["1"]), &tags(&["("])).expect_err("bad pattern");
    assert!(
        err.to_string()
            .starts_with("scan failed: failed to compile regex (: "),
        "{err}"
    );
}

#[test]
fn latest_tags_are_the_ten_highest_in_reverse_byte_order() {
    let mut list: Vec<String> = (0..15).map(|i| format!("1.0.{i}")).collect();
    list.push("latest".into());
    let latest = sort_and_latest(&mut list);
    assert_eq!(
        latest,
        tags(&[
            "latest", "1.0.9", "1.0.8", "1.0.7", "1.0.6", "1.0.5", "1.0.4", "1.0.3", "1.0.2",
            "1.0.14"
        ])
    );
    assert_eq!(list.len(), 16);
    assert_eq!(list.last().map(String::as_str), Some("1.0.0"));
}

#[test]
fn fewer_than_ten_tags_are_all_latest() {
    let mut list = tags(&["a", "c", "b"]);
    assert_eq!(sort_and_latest(&mut list), tags(&["c", "b", "a"]));
}

#[test]
fn tags_that_are_not_oci_tags_are_left_out() {
    let long = "x".repeat(129);
    let (valid, dropped) = valid_tags(tags(&[
        "1.0.0",
        "two\nlines",
        "",
        ".hidden",
        "-dash",
        &long,
        "ok_tag-1.2",
    ]));
    assert_eq!(valid, tags(&["1.0.0", "ok_tag-1.2"]));
    assert_eq!(dropped, 5);
}
