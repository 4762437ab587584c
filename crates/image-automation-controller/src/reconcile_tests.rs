use driftless_api::source::GitRepository;
use serde_json::json;

use super::*;

fn repo(reference: serde_json::Value) -> GitRepository {
    let mut spec = json!({"url": "https://git.example/fleet.git", "interval": "1h"});
    if !reference.is_null() {
        spec["ref"] = reference;
    }
    serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "fleet", "namespace": "apps"}, "spec": spec,
    }))
    .expect("GitRepository")
}

fn automation(git: serde_json::Value) -> ImageUpdateAutomation {
    serde_json::from_value(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
        "metadata": {"name": "auto", "namespace": "apps"},
        "spec": {"interval": "5m", "sourceRef": {"kind": "GitRepository", "name": "fleet"}, "git": git},
    }))
    .expect("ImageUpdateAutomation")
}

fn commit() -> serde_json::Value {
    json!({"author": {"email": "bot@example.invalid"}})
}

#[test]
fn the_checkout_branch_comes_from_the_automation_then_the_source_then_master() {
    let source = repo(json!({"branch": "main"}));
    let own = automation(json!({"commit": commit(), "checkout": {"ref": {"branch": "dev"}}}));
    assert_eq!(checkout_branch(&own, &source).expect("own"), "dev");
    let inherited = automation(json!({"commit": commit()}));
    assert_eq!(
        checkout_branch(&inherited, &source).expect("source"),
        "main"
    );
    assert_eq!(
        checkout_branch(&inherited, &repo(serde_json::Value::Null)).expect("default"),
        "master"
    );
    let tag = checkout_branch(&inherited, &repo(json!({"tag": "v1"}))).expect_err("tag");
    assert_eq!(tag.reason(), "InvalidSourceConfiguration");
}

#[test]
fn a_separate_push_branch_is_forced_and_a_refspec_is_pushed_besides_the_branch() {
    let source = repo(json!({"branch": "main"}));
    let same = automation(json!({"commit": commit(), "push": {"branch": "main"}}));
    let targets = push_targets(true, &same, &source).expect("same");
    assert_eq!(targets, vec![PushTarget::branch("main")]);

    let other = automation(json!({"commit": commit(), "push": {"branch": "auto"}}));
    let targets = push_targets(true, &other, &source).expect("other");
    assert_eq!(targets[0].destination, "refs/heads/auto");
    assert!(targets[0].force);
    assert!(!push_targets(false, &other, &source).expect("gate off")[0].force);

    let refspec = automation(json!({
        "commit": commit(),
        "push": {"refspec": "refs/heads/main:refs/heads/review"},
    }));
    let destinations: Vec<String> = push_targets(true, &refspec, &source)
        .expect("refspec")
        .into_iter()
        .map(|t| t.destination)
        .collect();
    assert_eq!(destinations, ["refs/heads/main", "refs/heads/review"]);
}
