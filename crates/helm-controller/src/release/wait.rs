//! How an action's wait judges the release's objects: `spec.waitStrategy` (`poller`, the
//! default, or `legacy`, Helm 3's readiness rules) and `spec.healthCheckExprs`, which apply only
//! under `poller` (Flux's spec: with `legacy` they are ignored). An action with `disableWait`
//! waits for nothing, whatever the strategy.

use std::sync::Arc;

use driftless_api::helm::{HelmRelease, WaitStrategyName};
use driftless_cel_health::HealthRules;
use driftless_helm::release::WaitStrategy;

use crate::error::ReconcileError;

/// The message prefix of a spec that can never reconcile, as Flux words it.
const TERMINAL: &str = "Reconciliation failed terminally due to configuration error";

/// The action whose `disableWaitForJobs` counts under `legacy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitingAction {
    Install,
    Upgrade,
    Rollback,
}

/// `spec.healthCheckExprs`, parsed; None without any. An expression that does not parse stalls
/// the HelmRelease with `InvalidCELExpression` before any action runs, so nothing is applied.
pub fn health_rules(hr: &HelmRelease) -> Result<Option<Arc<HealthRules>>, ReconcileError> {
    let checks = hr.spec.health_check_exprs.as_deref().unwrap_or_default();
    let rules = HealthRules::new(checks).map_err(|message| ReconcileError::InvalidCel {
        message: format!("{TERMINAL}: {message}"),
    })?;
    Ok((!rules.is_empty()).then(|| Arc::new(rules)))
}

/// Whether `spec.waitStrategy.name` is `legacy`.
pub fn legacy(hr: &HelmRelease) -> bool {
    hr.spec.wait_strategy.as_ref().map(|s| s.name) == Some(WaitStrategyName::Legacy)
}

/// The strategy `action` waits by.
pub fn strategy(
    hr: &HelmRelease,
    rules: Option<&Arc<HealthRules>>,
    action: WaitingAction,
) -> WaitStrategy {
    let disable_jobs = match action {
        WaitingAction::Install => hr
            .spec
            .install
            .as_ref()
            .and_then(|a| a.disable_wait_for_jobs),
        WaitingAction::Upgrade => hr
            .spec
            .upgrade
            .as_ref()
            .and_then(|a| a.disable_wait_for_jobs),
        WaitingAction::Rollback => hr
            .spec
            .rollback
            .as_ref()
            .and_then(|a| a.disable_wait_for_jobs),
    };
    let wait_for_jobs = !disable_jobs.unwrap_or(false);
    if legacy(hr) {
        return WaitStrategy::Legacy { wait_for_jobs };
    }
    driftless_helm::release::job_wait::poller(rules.map(|r| Arc::clone(r) as _), wait_for_jobs)
}

#[cfg(test)]
mod tests {
    use driftless_api::conditions::reasons;
    use driftless_api::helm::HelmReleaseSpec;
    use driftless_runtime::error::{Classify, ErrorClass};
    use driftless_ssa::kstatus::Status;

    use super::*;

    fn hr(spec: serde_json::Value) -> HelmRelease {
        let spec: HelmReleaseSpec = serde_json::from_value(spec).expect("spec");
        HelmRelease::new("web", spec)
    }

    #[test]
    fn a_bad_expression_stalls_with_invalid_cel_expression_naming_the_entry() {
        let hr = hr(serde_json::json!({
            "interval": "1m",
            "healthCheckExprs": [{"apiVersion": "example.com/v1", "kind": "Widget", "current": "status.("}],
        }));
        let err = health_rules(&hr).expect_err("does not parse");
        assert_eq!(err.reason(), reasons::INVALID_CEL_EXPRESSION);
        assert_eq!(err.class(), ErrorClass::Stalled);
        let message = err.to_string();
        assert!(
            message.starts_with(
                "Reconciliation failed terminally due to configuration error: failed to create custom status reader for healthchecks[0]: failed to parse the expression Current"
            ),
            "{message}"
        );
    }

    #[test]
    fn expressions_apply_under_poller_and_are_ignored_under_legacy_which_waits_for_jobs_unless_disabled()
     {
        let exprs = serde_json::json!([{"apiVersion": "example.com/v1", "current": "true"}]);
        let poller = hr(serde_json::json!({"interval": "1m", "healthCheckExprs": exprs}));
        let rules = health_rules(&poller).expect("valid");
        assert!(rules.is_some());
        assert!(matches!(
            strategy(&poller, rules.as_ref(), WaitingAction::Install),
            WaitStrategy::PollerWith(_)
        ));
        let plain = hr(serde_json::json!({"interval": "1m"}));
        assert!(health_rules(&plain).expect("valid").is_none());
        assert!(matches!(
            strategy(&plain, None, WaitingAction::Upgrade),
            WaitStrategy::Poller
        ));
        let legacy = hr(serde_json::json!({
            "interval": "1m", "healthCheckExprs": exprs, "waitStrategy": {"name": "legacy"},
            "upgrade": {"disableWaitForJobs": true},
        }));
        let rules = health_rules(&legacy).expect("valid");
        assert!(matches!(
            strategy(&legacy, rules.as_ref(), WaitingAction::Install),
            WaitStrategy::Legacy {
                wait_for_jobs: true
            }
        ));
        assert!(matches!(
            strategy(&legacy, rules.as_ref(), WaitingAction::Upgrade),
            WaitStrategy::Legacy {
                wait_for_jobs: false
            }
        ));
    }

    #[test]
    fn under_poller_an_action_that_does_not_wait_for_jobs_judges_jobs_by_its_own_reader() {
        let spec = serde_json::json!({
            "interval": "1m", "rollback": {"disableWaitForJobs": true},
        });
        let released = hr(spec);
        let WaitStrategy::PollerWith(reader) = strategy(&released, None, WaitingAction::Rollback)
        else {
            panic!("a rollback that does not wait for Jobs needs a Job reader");
        };
        assert!(reader.covers("batch", "Job"));
        assert!(!reader.covers("apps", "Deployment"));
        // A running Job is Current for this action, while kstatus keeps it in progress.
        let running = serde_json::json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "migrate", "generation": 1},
            "status": {"startTime": "2026-11-27T00:00:00Z", "active": 1},
        });
        assert_eq!(reader.status("batch", "Job", &running).0, Status::Current);
        // Install and upgrade still wait for Jobs: plain kstatus.
        assert!(matches!(
            strategy(&released, None, WaitingAction::Install),
            WaitStrategy::Poller
        ));
    }
}
