//! Which of a release's rendered objects its wait reads, and how, beyond their status: Helm's
//! and Flux's waits leave a paused Deployment out (it never rolls out), and Flux's counts a Job
//! with `ttlSecondsAfterFinished` as done when it is gone (its TTL controller deletes it once
//! finished, possibly before the wait reads it).

use serde_json::Value;

use super::cluster::ObjectKey;

/// How the wait treats one rendered object, beyond its status.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum WaitRule {
    Wait,
    /// A paused Deployment never rolls out: Helm and Flux leave it out of the wait.
    Skip,
    /// A Job with `ttlSecondsAfterFinished` may be deleted once finished: gone counts as done.
    CurrentWhenGone,
}

pub(super) fn wait_rule(key: &ObjectKey, rendered: &Value) -> WaitRule {
    match (key.group.as_str(), key.kind.as_str()) {
        ("apps", "Deployment") if rendered["spec"]["paused"].as_bool() == Some(true) => {
            WaitRule::Skip
        }
        ("batch", "Job") if !rendered["spec"]["ttlSecondsAfterFinished"].is_null() => {
            WaitRule::CurrentWhenGone
        }
        _ => WaitRule::Wait,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(group: &str, kind: &str) -> ObjectKey {
        ObjectKey {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: "apps".into(),
            name: "x".into(),
            keep: false,
        }
    }

    #[test]
    fn paused_deployments_are_not_waited_for_and_ttl_jobs_may_be_gone() {
        let deployment = key("apps", "Deployment");
        let job = key("batch", "Job");
        assert_eq!(
            wait_rule(&deployment, &json!({"spec": {"paused": true}})),
            WaitRule::Skip
        );
        assert_eq!(
            wait_rule(&deployment, &json!({"spec": {"replicas": 1}})),
            WaitRule::Wait
        );
        assert_eq!(
            wait_rule(&job, &json!({"spec": {"ttlSecondsAfterFinished": 0}})),
            WaitRule::CurrentWhenGone
        );
        assert_eq!(wait_rule(&job, &json!({"spec": {}})), WaitRule::Wait);
        // Only those kinds: a custom kind with the same fields is waited for as usual.
        assert_eq!(
            wait_rule(
                &key("example.com", "Job"),
                &json!({"spec": {"ttlSecondsAfterFinished": 0}})
            ),
            WaitRule::Wait
        );
    }
}
