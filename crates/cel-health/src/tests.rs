//! Table-driven tests of the CEL health and readiness rules.

use serde_json::json;

use super::*;

fn check(kind: Option<&str>, current: &str, failed: &str, in_progress: &str) -> CustomHealthCheck {
    CustomHealthCheck {
        api_version: "example.com/v1".into(),
        kind: kind.map(Into::into),
        current: current.into(),
        failed: Some(failed.to_owned()).filter(|e| !e.is_empty()),
        in_progress: Some(in_progress.to_owned()).filter(|e| !e.is_empty()),
    }
}

fn object(phase: &str, generation: i64, observed: Option<i64>) -> Value {
    let mut status = json!({ "phase": phase });
    if let Some(observed) = observed {
        status["observedGeneration"] = json!(observed);
    }
    json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": { "name": "w", "generation": generation },
        "status": status,
    })
}

#[test]
fn health_expressions_are_tried_in_progress_then_failed_then_current() {
    let evaluator = StatusEvaluator::new(&check(
        Some("Widget"),
        "status.phase == 'Ready' || status.phase == 'Both'",
        "status.phase == 'Broken' || status.phase == 'Both'",
        "status.phase == 'Busy' || status.phase == 'Broken'",
    ))
    .expect("parses");
    let table = [
        ("Ready", Status::Current),
        ("Busy", Status::InProgress),
        // inProgress is evaluated before failed, failed before current.
        ("Broken", Status::InProgress),
        ("Both", Status::Failed),
        // None true: still in progress.
        ("Pending", Status::InProgress),
    ];
    for (phase, want) in table {
        let got = evaluator.evaluate(&object(phase, 1, Some(1)));
        assert_eq!(got, Ok(want), "phase {phase}");
    }
}

#[test]
fn an_unobserved_generation_is_in_progress_without_evaluating() {
    let evaluator =
        StatusEvaluator::new(&check(None, "status.missing.field", "", "")).expect("parses");
    assert_eq!(
        evaluator.evaluate(&object("Ready", 2, Some(1))),
        Ok(Status::InProgress)
    );
    // Observed generation equal (or absent): the expressions decide, here with an error.
    assert!(evaluator.evaluate(&object("Ready", 2, Some(2))).is_err());
    assert!(evaluator.evaluate(&object("Ready", 2, None)).is_err());
}

#[test]
fn a_missing_field_or_a_non_boolean_is_an_error_naming_the_expression() {
    let table = [
        (
            "status.conditions.exists(c, c.type == 'Ready')",
            "No such key: conditions",
        ),
        ("spec.replicas > 0", "Undeclared reference to 'spec'"),
        (
            "status.phase",
            "failed to evaluate CEL expression as boolean: 'status.phase'",
        ),
    ];
    for (expr, want) in table {
        let evaluator = StatusEvaluator::new(&check(None, expr, "", "")).expect("parses");
        let err = evaluator
            .evaluate(&object("Ready", 1, None))
            .expect_err(expr)
            .to_string();
        assert!(err.contains(expr), "{err}");
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn has_guards_a_field_that_may_be_missing() {
    let evaluator = StatusEvaluator::new(&check(
        None,
        "has(status.conditions) && status.conditions.all(c, c.status == 'True')",
        "",
        "",
    ))
    .expect("parses");
    assert_eq!(
        evaluator.evaluate(&object("Ready", 1, None)),
        Ok(Status::InProgress)
    );
    let mut ready = object("Ready", 1, None);
    ready["status"]["conditions"] = json!([{ "type": "Ready", "status": "True" }]);
    assert_eq!(evaluator.evaluate(&ready), Ok(Status::Current));
}

#[test]
fn an_expression_that_does_not_parse_names_the_entry_and_the_field() {
    let table = [
        (
            check(None, "foo.", "", ""),
            "healthchecks[1]: failed to parse the expression Current: failed to parse the CEL expression 'foo.': ERROR: <input>:1:",
        ),
        (
            check(None, "true", "", "foo."),
            "healthchecks[1]: failed to parse the expression InProgress: failed to parse the CEL expression 'foo.'",
        ),
        (
            check(None, "true", "(", ""),
            "healthchecks[1]: failed to parse the expression Failed",
        ),
        (
            check(None, "", "", ""),
            "healthchecks[1]: expression Current not specified",
        ),
    ];
    for (bad, want) in table {
        let err = HealthRules::new(&[check(Some("Other"), "true", "", ""), bad]).expect_err(want);
        assert!(
            err.starts_with("failed to create custom status reader for "),
            "{err}"
        );
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn a_kind_entry_wins_over_a_group_entry_and_the_first_duplicate_wins() {
    let rules = HealthRules::new(&[
        check(None, "false", "true", ""),
        check(Some("Widget"), "true", "", ""),
        check(Some("Widget"), "false", "true", ""),
    ])
    .expect("parses");
    let ready = object("Ready", 1, None);
    let widget = rules
        .for_kind("example.com", "Widget")
        .expect("widget rule");
    assert_eq!(widget.evaluate(&ready), Ok(Status::Current));
    let gadget = rules.for_kind("example.com", "Gadget").expect("group rule");
    assert_eq!(gadget.evaluate(&ready), Ok(Status::Failed));
    assert!(rules.for_kind("other.com", "Widget").is_none());
    assert!(rules.for_kind("", "ConfigMap").is_none());
    assert!(HealthRules::new(&[]).expect("empty").is_empty());
}

#[test]
fn compiled_expressions_reject_undeclared_variables_but_not_comprehension_ones() {
    let table = [
        (
            "dep.status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')",
            None,
        ),
        (
            "self.metadata.labels['v'] == dep.metadata.labels['v']",
            None,
        ),
        ("[1, 2].exists(x, x == 2) && {'a': dep}.size() == 1", None),
        ("other.field == 1", Some("undeclared reference to 'other'")),
        ("[1].all(x, x > y)", Some("undeclared reference to 'y'")),
    ];
    for (expr, want) in table {
        match (Expression::compile(expr, &["self", "dep"]), want) {
            (Ok(_), None) => {}
            (Err(err), Some(want)) => assert!(err.to_string().contains(want), "{err}"),
            (got, want) => panic!("{expr}: got {got:?}, want error {want:?}"),
        }
    }
}

#[test]
fn numbers_compare_as_kubernetes_integers_and_strings_extensions_are_there() {
    let dep = json!({ "metadata": { "generation": 3, "name": "Infra" },
                      "status": { "observedGeneration": 3, "ratio": 0.5 } });
    let table = [
        (
            "dep.metadata.generation == dep.status.observedGeneration",
            true,
        ),
        (
            "dep.metadata.generation == 3 && dep.status.ratio < 1.0",
            true,
        ),
        ("dep.metadata.name.lowerAscii() == 'infra'", true),
        ("dep.metadata.name.startsWith('X')", false),
        // cel-go's CrossTypeNumericComparisons, which Flux enables.
        (
            "dep.status.ratio < 1 && dep.metadata.generation > 2.5",
            true,
        ),
    ];
    for (expr, want) in table {
        let compiled = Expression::compile(expr, &["dep"]).expect(expr);
        assert_eq!(compiled.evaluate_bool(&[("dep", &dep)]), Ok(want), "{expr}");
    }
}

#[test]
fn as_a_status_reader_the_rules_cover_their_group_ignoring_the_version_and_judge_by_cel() {
    let mut group_only = check(
        None,
        "status.phase == 'Ready'",
        "status.phase == 'Broken'",
        "",
    );
    group_only.api_version = "example.com/v2".into();
    let rules = HealthRules::new(&[group_only]).expect("valid");
    let reader: &dyn StatusReader = &rules;
    assert!(reader.covers("example.com", "Widget"));
    assert!(!reader.covers("apps", "Deployment"));
    let ready = object("Ready", 1, Some(1));
    assert_eq!(
        reader.status("example.com", "Widget", &ready),
        (Status::Current, String::new())
    );
    let broken = object("Broken", 1, Some(1));
    assert_eq!(
        reader.status("example.com", "Widget", &broken).0,
        Status::Failed
    );
    let no_status = json!({"metadata": {"name": "w"}});
    let (status, message) = reader.status("example.com", "Widget", &no_status);
    assert_eq!(status, Status::Unknown);
    assert!(message.contains("status.phase == 'Broken'"), "{message}");
}
