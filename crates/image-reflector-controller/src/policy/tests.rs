use driftless_api::image::{OrderedPolicy, SemVerPolicy};

use super::*;

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| (*t).to_owned()).collect()
}

fn semver(range: &str) -> ImagePolicyChoice {
    ImagePolicyChoice {
        semver: Some(SemVerPolicy {
            range: range.to_owned(),
        }),
        ..Default::default()
    }
}

fn alphabetical(order: Option<SortOrder>) -> ImagePolicyChoice {
    ImagePolicyChoice {
        alphabetical: Some(OrderedPolicy { order }),
        ..Default::default()
    }
}

fn numerical(order: Option<SortOrder>) -> ImagePolicyChoice {
    ImagePolicyChoice {
        numerical: Some(OrderedPolicy { order }),
        ..Default::default()
    }
}

fn filter(pattern: &str, extract: &str) -> TagFilterSpec {
    TagFilterSpec {
        pattern: Some(pattern.to_owned()),
        extract: (!extract.is_empty()).then(|| extract.to_owned()),
    }
}

fn pick(choice: &ImagePolicyChoice, list: &[&str]) -> Result<String, PolicyError> {
    select(choice, None, &tags(list))
}

#[test]
fn semver_picks_the_highest_version_in_range() {
    let list = ["1.0.0", "1.2.3", "1.10.0", "2.0.0", "0.9.9"];
    assert_eq!(
        pick(&semver(">=1.0.0 <2.0.0"), &list).as_deref(),
        Ok("1.10.0")
    );
    assert_eq!(pick(&semver("1.2.x"), &list).as_deref(), Ok("1.2.3"));
    assert_eq!(pick(&semver("*"), &list).as_deref(), Ok("2.0.0"));
}

#[test]
fn semver_skips_tags_that_are_not_versions() {
    let list = ["latest", "main-abc123", "1.0.0", "sha-1f2e", "1.1"];
    assert_eq!(pick(&semver(">=0.0.0"), &list).as_deref(), Ok("1.0.0"));
}

#[test]
fn semver_accepts_a_v_prefix_and_reports_the_tag_as_written() {
    let list = ["v1.0.0", "v1.2.0", "1.1.0"];
    assert_eq!(pick(&semver("^1"), &list).as_deref(), Ok("v1.2.0"));
}

#[test]
fn semver_needs_three_parts_as_fluxcd_pkg_version_does() {
    // `1.2` is a Masterminds version but not an image tag version for Flux.
    assert_eq!(
        pick(&semver(">=1.0.0"), &["1.2", "1", "1.0.0"]).as_deref(),
        Ok("1.0.0")
    );
    assert_eq!(
        pick(&semver(">=1.0.0"), &["1.2", "1"]),
        Err(PolicyError::NoVersion)
    );
    // Three parts counted by dots, so a pre-release after two parts still reads as a version.
    assert_eq!(
        pick(&semver(">=1.2.0-0"), &["1.2-rc.1"]).as_deref(),
        Ok("1.2-rc.1")
    );
}

#[test]
fn semver_accepts_leading_zeros_in_calendar_versions() {
    assert_eq!(
        pick(
            &semver(">=2025.0.0"),
            &["2025.02.03", "2025.10.01", "2024.12.31"]
        )
        .as_deref(),
        Ok("2025.10.01")
    );
}

#[test]
fn semver_ranges_exclude_pre_releases_unless_they_name_one() {
    let list = ["1.0.0", "1.1.0-rc.1", "1.1.0-alpha"];
    assert_eq!(pick(&semver(">=1.0.0"), &list).as_deref(), Ok("1.0.0"));
    assert_eq!(
        pick(&semver(">=1.0.0-0"), &list).as_deref(),
        Ok("1.1.0-rc.1")
    );
    assert_eq!(pick(&semver("^1.x-0"), &list).as_deref(), Ok("1.1.0-rc.1"));
}

#[test]
fn semver_orders_pre_releases_numerically_then_lexically() {
    let list = ["1.0.0-rc.2", "1.0.0-rc.10", "1.0.0-beta", "1.0.0-rc.a"];
    assert_eq!(
        pick(&semver(">=1.0.0-0"), &list).as_deref(),
        Ok("1.0.0-rc.a")
    );
    let list = ["1.0.0-rc.2", "1.0.0-rc.10"];
    assert_eq!(
        pick(&semver(">=1.0.0-0"), &list).as_deref(),
        Ok("1.0.0-rc.10")
    );
}

#[test]
fn semver_ignores_build_metadata_and_keeps_the_first_of_equals() {
    let list = ["1.0.0+b", "1.0.0+a", "0.9.0"];
    assert_eq!(pick(&semver(">=0.1.0"), &list).as_deref(), Ok("1.0.0+b"));
}

#[test]
fn semver_without_a_match_says_it_could_not_determine_a_version() {
    let err = pick(&semver(">=5.0.0"), &["1.0.0"]).expect_err("nothing in range");
    assert_eq!(
        err.to_string(),
        "unable to determine latest version from provided list"
    );
    assert!(!err.is_invalid_spec());
}

#[test]
fn an_invalid_range_is_an_invalid_policy() {
    let err = pick(&semver("not a range"), &["1.0.0"]).expect_err("range does not parse");
    assert!(err.is_invalid_spec());
    assert!(err.to_string().starts_with("invalid policy: "), "{err}");
}

#[test]
fn alphabetical_ascending_picks_the_last_tag_byte_wise() {
    let list = [
        "RELEASE.2021-01-01",
        "RELEASE.2023-05-05",
        "RELEASE.2022-12-31",
    ];
    assert_eq!(
        pick(&alphabetical(None), &list).as_deref(),
        Ok("RELEASE.2023-05-05")
    );
    assert_eq!(
        pick(&alphabetical(Some(SortOrder::Asc)), &["a", "B", "b", "A"]).as_deref(),
        Ok("b")
    );
}

#[test]
fn alphabetical_descending_picks_the_first_tag() {
    let list = ["b", "a", "c"];
    assert_eq!(
        pick(&alphabetical(Some(SortOrder::Desc)), &list).as_deref(),
        Ok("a")
    );
}

#[test]
fn alphabetical_is_lexical_so_ten_sorts_before_nine() {
    assert_eq!(pick(&alphabetical(None), &["9", "10"]).as_deref(), Ok("9"));
}

#[test]
fn numerical_is_numeric_so_ten_beats_nine() {
    let list = ["9", "10", "2"];
    assert_eq!(pick(&numerical(None), &list).as_deref(), Ok("10"));
    assert_eq!(
        pick(&numerical(Some(SortOrder::Desc)), &list).as_deref(),
        Ok("2")
    );
}

#[test]
fn numerical_reads_fractions_and_exponents_as_go_does() {
    let list = ["1.5", "1e1", "9.99", "-20"];
    assert_eq!(pick(&numerical(None), &list).as_deref(), Ok("1e1"));
    assert_eq!(
        pick(&numerical(Some(SortOrder::Desc)), &list).as_deref(),
        Ok("-20")
    );
}

#[test]
fn numerical_equal_values_pick_the_later_tag() {
    assert_eq!(pick(&numerical(None), &["010", "10"]).as_deref(), Ok("10"));
    assert_eq!(pick(&numerical(None), &["10", "010"]).as_deref(), Ok("010"));
}

#[test]
fn numerical_fails_on_a_tag_that_is_not_a_number_as_flux_does() {
    let err = pick(&numerical(None), &["1", "latest", "2"]).expect_err("latest is no number");
    assert_eq!(
        err.to_string(),
        "failed to parse invalid numeric value 'latest'"
    );
    assert!(!err.is_invalid_spec());
}

#[test]
fn numerical_with_a_digits_filter_skips_words() {
    let got = select(
        &numerical(None),
        Some(&filter("^[0-9]+$", "")),
        &tags(&["1", "latest", "12", "3"]),
    );
    assert_eq!(got.as_deref(), Ok("12"));
}

#[test]
fn an_empty_tag_list_is_an_error() {
    assert_eq!(pick(&alphabetical(None), &[]), Err(PolicyError::Empty));
    assert_eq!(
        PolicyError::Empty.to_string(),
        "version list argument cannot be empty"
    );
}

#[test]
fn a_filter_that_keeps_nothing_leaves_an_empty_list() {
    let got = select(
        &semver("*"),
        Some(&filter("^nomatch$", "")),
        &tags(&["1.0.0"]),
    );
    assert_eq!(got, Err(PolicyError::Empty));
}

#[test]
fn no_policy_choice_is_invalid() {
    let err = pick(&ImagePolicyChoice::default(), &["1"]).expect_err("no choice");
    assert!(err.is_invalid_spec());
    assert_eq!(
        err.to_string(),
        "invalid policy: given ImagePolicyChoice object is invalid"
    );
}

#[test]
fn semver_is_checked_before_alphabetical_when_both_are_set() {
    let mut choice = semver("<2.0.0");
    choice.alphabetical = Some(OrderedPolicy::default());
    assert_eq!(pick(&choice, &["1.0.0", "3.0.0"]).as_deref(), Ok("1.0.0"));
}

#[test]
fn a_filter_selects_release_candidates_for_a_pre_release_range() {
    let got = select(
        &semver("^1.x-0"),
        Some(&filter(".*-rc.*", "")),
        &tags(&["1.0.0", "1.1.0", "1.2.0-rc.1", "1.2.0-rc.2", "1.2.0-beta.1"]),
    );
    assert_eq!(got.as_deref(), Ok("1.2.0-rc.2"));
}

#[test]
fn an_extracted_timestamp_orders_and_the_original_tag_is_reported() {
    let got = select(
        &alphabetical(None),
        Some(&filter("^RELEASE\\.(?P<timestamp>.*)Z$", "$timestamp")),
        &tags(&[
            "RELEASE.2021-02-01T00-00-00Z",
            "RELEASE.2023-01-01T00-00-00Z",
            "latest",
            "RELEASE.2022-06-01T00-00-00Z",
        ]),
    );
    assert_eq!(got.as_deref(), Ok("RELEASE.2023-01-01T00-00-00Z"));
}

#[test]
fn an_extracted_build_number_orders_numerically() {
    let got = select(
        &numerical(None),
        Some(&filter("^main-[a-f0-9]+-(?P<ts>[0-9]+)$", "$ts")),
        &tags(&[
            "main-abc123-9",
            "main-def456-1000",
            "main-0a1b2c-200",
            "feature-x-99999",
        ]),
    );
    assert_eq!(got.as_deref(), Ok("main-def456-1000"));
}

#[test]
fn an_extracted_version_orders_by_semver() {
    let got = select(
        &semver(">=1.0.0"),
        Some(&filter("^app-v(?P<version>.*)$", "$version")),
        &tags(&["app-v1.2.0", "app-v1.10.0", "other-v9.9.9", "app-vlatest"]),
    );
    assert_eq!(got.as_deref(), Ok("app-v1.10.0"));
}

#[test]
fn a_numbered_group_extracts_as_well_as_a_named_one() {
    let got = select(
        &numerical(None),
        Some(&filter("^build-(\\d+)$", "$1")),
        &tags(&["build-7", "build-12"]),
    );
    assert_eq!(got.as_deref(), Ok("build-12"));
}

#[test]
fn an_invalid_filter_pattern_is_an_invalid_policy() {
    let err = select(&semver("*"), Some(&filter("(", "")), &tags(&["1.0.0"]))
        .expect_err("pattern does not compile");
    assert!(err.is_invalid_spec());
    assert!(
        err.to_string()
            .starts_with("failed to filter tags: invalid regular expression pattern '(': "),
        "{err}"
    );
}

#[test]
fn a_filter_without_pattern_matches_everything() {
    let spec = TagFilterSpec {
        pattern: None,
        extract: None,
    };
    let got = select(&alphabetical(None), Some(&spec), &tags(&["a", "c", "b"]));
    assert_eq!(got.as_deref(), Ok("c"));
}

#[test]
fn a_million_tags_select_in_one_pass() {
    let list: Vec<String> = (0..1_000_000).map(|i| format!("1.0.{i}")).collect();
    let got = select(&semver(">=1.0.0"), None, &list);
    assert_eq!(got.as_deref(), Ok("1.0.999999"));
}
