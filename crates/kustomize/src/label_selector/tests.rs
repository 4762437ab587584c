use super::*;

fn selects(selector: &str, labels: &[(&str, &str)]) -> bool {
    let parsed =
        LabelSelector::parse(selector).unwrap_or_else(|e| panic!("{selector:?} should parse: {e}"));
    parsed.matches(|key| labels.iter().find(|(k, _)| *k == key).map(|(_, v)| *v))
}

fn rejected(selector: &str) -> String {
    match LabelSelector::parse(selector) {
        Ok(parsed) => panic!("{selector:?} should not parse: {parsed:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn equality_terms_select_by_value_and_inequality_also_selects_a_missing_key() {
    assert!(selects("app=web", &[("app", "web")]));
    assert!(selects("app==web", &[("app", "web")]));
    assert!(!selects("app=web", &[("app", "db")]));
    assert!(!selects("app=web", &[]));
    assert!(selects("app!=web", &[("app", "db")]));
    assert!(selects("app!=web", &[]));
    assert!(!selects("app!=web", &[("app", "web")]));
}

#[test]
fn set_terms_select_by_membership_and_notin_also_selects_a_missing_key() {
    let in_set = "env in (prod, staging)";
    assert!(selects(in_set, &[("env", "prod")]));
    assert!(selects(in_set, &[("env", "staging")]));
    assert!(!selects(in_set, &[("env", "dev")]));
    assert!(!selects(in_set, &[]));
    let not_in = "env notin (prod,staging)";
    assert!(selects(not_in, &[("env", "dev")]));
    assert!(selects(not_in, &[]));
    assert!(!selects(not_in, &[("env", "prod")]));
}

#[test]
fn a_bare_key_needs_it_present_and_a_negated_key_needs_it_absent() {
    assert!(selects("legacy", &[("legacy", "")]));
    assert!(!selects("legacy", &[]));
    assert!(selects("!legacy", &[]));
    assert!(selects(" ! legacy ", &[]));
    assert!(!selects("!legacy", &[("legacy", "x")]));
}

#[test]
fn greater_and_less_than_compare_integer_values_and_need_the_key() {
    assert!(selects("replicas>2", &[("replicas", "3")]));
    assert!(!selects("replicas>2", &[("replicas", "2")]));
    assert!(!selects("replicas>2", &[("replicas", "many")]));
    assert!(!selects("replicas>2", &[]));
    assert!(selects("replicas < 10", &[("replicas", "-1")]));
    assert!(rejected("replicas>two").contains("must be an integer"));
}

#[test]
fn every_requirement_must_hold() {
    let selector = "env in (prod),!legacy,tier!=db,team";
    assert!(selects(
        selector,
        &[("env", "prod"), ("tier", "web"), ("team", "a")]
    ));
    assert!(!selects(
        selector,
        &[("env", "prod"), ("team", "a"), ("legacy", "1")]
    ));
    assert!(!selects(
        selector,
        &[("env", "prod"), ("tier", "db"), ("team", "a")]
    ));
    assert!(!selects(selector, &[("env", "prod")]));
}

#[test]
fn an_empty_selector_selects_everything() {
    assert!(selects("", &[]));
    assert!(selects("  ", &[("a", "b")]));
    assert!(
        LabelSelector::parse("")
            .expect("parses")
            .requirements()
            .is_empty()
    );
}

#[test]
fn empty_values_are_values() {
    assert!(selects("a=", &[("a", "")]));
    assert!(!selects("a=", &[("a", "x")]));
    assert!(selects("a in ()", &[("a", "")]));
    assert!(selects("a in (x,)", &[("a", "")]));
    assert!(selects("a in (,x)", &[("a", "x")]));
    assert!(selects("a notin (x,,y)", &[("a", "z")]));
    assert!(!selects("a notin (x,,y)", &[("a", "")]));
}

#[test]
fn in_and_notin_are_words_where_a_value_is_expected() {
    assert!(selects("a in (in, notin)", &[("a", "notin")]));
    assert!(selects("a=in", &[("a", "in")]));
}

#[test]
fn prefixed_keys_are_qualified_names() {
    assert!(selects(
        "kustomize.toolkit.fluxcd.io/ssa=ignore",
        &[("kustomize.toolkit.fluxcd.io/ssa", "ignore")]
    ));
    assert!(selects(
        "app.kubernetes.io/name",
        &[("app.kubernetes.io/name", "x")]
    ));
    assert!(rejected("Example.com/a=b").contains("qualified name"));
    assert!(rejected("a/b/c=d").contains("qualified name"));
    assert!(rejected("-a=b").contains("qualified name"));
    assert!(rejected(&format!("{}=b", "k".repeat(64))).contains("qualified name"));
}

#[test]
fn values_must_be_label_values() {
    assert!(rejected("a=b c").contains("expected: ',' or 'end of string'"));
    assert!(rejected("a=-x").contains("a valid label must be"));
    assert!(rejected("a in (ok, no/slash)").contains("a valid label must be"));
    assert!(rejected(&format!("a={}", "v".repeat(64))).contains("a valid label must be"));
}

#[test]
fn malformed_selectors_are_errors_in_the_api_machinerys_words() {
    assert_eq!(
        rejected("env in prod"),
        "unable to parse requirement: found 'prod' expected: '('"
    );
    assert_eq!(rejected("a,"), "found '', expected: identifier after ','");
    assert_eq!(
        rejected(",a"),
        "found ',', expected: !, identifier, or 'end of string'"
    );
    assert!(rejected("a in (b").starts_with("unable to parse requirement: found ''"));
    assert!(rejected("!a=b").contains("found '=', expected: ',' or 'end of string'"));
    assert!(rejected("a b").contains("expected: in, notin, =, ==, !=, gt, lt"));
    assert!(rejected("a in (b c)").contains("expected: ',' or ')'"));
    assert!(rejected("a=(b)").contains("found '(', expected: identifier"));
}
