//! The Helm action settings a HelmRelease spells out, with Flux's defaults: timeouts (the
//! action's, else `spec.timeout`, else 5m), waits, hooks, CRD policies (install `Create`,
//! upgrade `Skip`), remediation retries and strategy, tests.

use std::time::Duration;

use driftless_api::helm::{
    ActionStrategyName, CrdsPolicy, HelmRelease, ReleaseAction, RemediationStrategy,
};
use driftless_helm::release::{Common, CrdPolicy, TestFilters};

use crate::error::ReconcileError;

/// Helm's and Flux's default action timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// A spec duration.
pub fn duration(value: &str, field: &'static str) -> Result<Duration, ReconcileError> {
    value
        .parse::<driftless_runtime::flags::GoDuration>()
        .map(|d| d.get())
        .map_err(|e| ReconcileError::InvalidDuration {
            field,
            value: value.to_owned(),
            problem: e.to_string(),
        })
}

/// `spec.timeout`, 5m when unset.
pub fn timeout(hr: &HelmRelease) -> Result<Duration, ReconcileError> {
    match hr.spec.timeout.as_deref() {
        Some(v) => duration(v, "spec.timeout"),
        None => Ok(DEFAULT_TIMEOUT),
    }
}

fn action_timeout(
    hr: &HelmRelease,
    value: Option<&str>,
    field: &'static str,
) -> Result<Duration, ReconcileError> {
    match value {
        Some(v) => duration(v, field),
        None => timeout(hr),
    }
}

fn crd_policy(policy: Option<CrdsPolicy>, default: CrdPolicy) -> CrdPolicy {
    match policy {
        Some(CrdsPolicy::Skip) => CrdPolicy::Skip,
        Some(CrdsPolicy::Create) => CrdPolicy::Create,
        Some(CrdsPolicy::CreateReplace) => CrdPolicy::CreateReplace,
        None => default,
    }
}

/// Install options: common settings, CRD policy, whether to create the target namespace.
pub fn install(hr: &HelmRelease) -> Result<(Common, CrdPolicy, bool), ReconcileError> {
    let install = hr.spec.install.clone().unwrap_or_default();
    let common = Common {
        wait: !install.disable_wait.unwrap_or(false),
        timeout: action_timeout(hr, install.timeout.as_deref(), "spec.install.timeout")?,
        disable_hooks: install.disable_hooks.unwrap_or(false),
        ..Common::default()
    };
    let crds = if install.skip_crds.unwrap_or(false) {
        CrdPolicy::Skip
    } else {
        crd_policy(install.crds, CrdPolicy::Create)
    };
    Ok((common, crds, install.create_namespace.unwrap_or(false)))
}

/// Upgrade options: common settings and CRD policy.
pub fn upgrade(hr: &HelmRelease) -> Result<(Common, CrdPolicy), ReconcileError> {
    let upgrade = hr.spec.upgrade.clone().unwrap_or_default();
    let common = Common {
        wait: !upgrade.disable_wait.unwrap_or(false),
        timeout: action_timeout(hr, upgrade.timeout.as_deref(), "spec.upgrade.timeout")?,
        disable_hooks: upgrade.disable_hooks.unwrap_or(false),
        force: upgrade.force.unwrap_or(false),
        cleanup_on_fail: upgrade.cleanup_on_fail.unwrap_or(false),
        ..Common::default()
    };
    Ok((common, crd_policy(upgrade.crds, CrdPolicy::Skip)))
}

/// Rollback options.
pub fn rollback(hr: &HelmRelease) -> Result<Common, ReconcileError> {
    let rollback = hr.spec.rollback.clone().unwrap_or_default();
    Ok(Common {
        wait: !rollback.disable_wait.unwrap_or(false),
        timeout: action_timeout(hr, rollback.timeout.as_deref(), "spec.rollback.timeout")?,
        disable_hooks: rollback.disable_hooks.unwrap_or(false),
        force: rollback.force.unwrap_or(false),
        cleanup_on_fail: rollback.cleanup_on_fail.unwrap_or(false),
        ..Common::default()
    })
}

/// Uninstall options and `keepHistory`.
pub fn uninstall(hr: &HelmRelease) -> Result<(Common, bool), ReconcileError> {
    let uninstall = hr.spec.uninstall.clone().unwrap_or_default();
    let common = Common {
        wait: !uninstall.disable_wait.unwrap_or(false),
        timeout: action_timeout(hr, uninstall.timeout.as_deref(), "spec.uninstall.timeout")?,
        disable_hooks: uninstall.disable_hooks.unwrap_or(false),
        ..Common::default()
    };
    Ok((common, uninstall.keep_history.unwrap_or(false)))
}

/// How the tests after an install or upgrade run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tests {
    /// `spec.test.timeout`, else `spec.timeout`.
    pub timeout: Duration,
    /// A failure neither fails the action nor is remediated: the action's
    /// `remediation.ignoreTestFailures`, else `spec.test.ignoreFailures`.
    pub ignore_failures: bool,
    /// `spec.test.filters` by hook name.
    pub filters: TestFilters,
}

/// Whether tests run after `action` (an install or upgrade), and how.
pub fn test(hr: &HelmRelease, action: ReleaseAction) -> Result<Option<Tests>, ReconcileError> {
    let Some(test) = hr.spec.test.clone().filter(|t| t.enable.unwrap_or(false)) else {
        return Ok(None);
    };
    let timeout = action_timeout(hr, test.timeout.as_deref(), "spec.test.timeout")?;
    let per_action = match action {
        ReleaseAction::Install => hr
            .spec
            .install
            .as_ref()
            .and_then(|i| i.remediation.as_ref())
            .and_then(|r| r.ignore_test_failures),
        ReleaseAction::Upgrade => hr
            .spec
            .upgrade
            .as_ref()
            .and_then(|u| u.remediation.as_ref())
            .and_then(|r| r.ignore_test_failures),
    };
    let mut filters = TestFilters::default();
    for f in test.filters.iter().flatten() {
        if f.exclude.unwrap_or(false) {
            filters.exclude.push(f.name.clone());
        } else {
            filters.include.push(f.name.clone());
        }
    }
    Ok(Some(Tests {
        timeout,
        ignore_failures: per_action.unwrap_or(test.ignore_failures.unwrap_or(false)),
        filters,
    }))
}

/// Whether TestSuccess counts towards Ready: tests enabled and `spec.test.ignoreFailures`
/// off (Flux looks at the test block only, not at the actions' `ignoreTestFailures`).
pub fn tests_count_for_ready(hr: &HelmRelease) -> bool {
    hr.spec
        .test
        .as_ref()
        .is_some_and(|t| t.enable.unwrap_or(false) && !t.ignore_failures.unwrap_or(false))
}

/// `RetryOnFailure`'s default `retryInterval`.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(300);

/// The retry interval when `action`'s `strategy.name` is `RetryOnFailure`: a failure is not
/// remediated and never exhausts retries; the release is retried (a failed install with an
/// upgrade) after the interval. `None` for `RemediateOnFailure`, the default.
pub fn retry_on_failure(
    hr: &HelmRelease,
    action: ReleaseAction,
) -> Result<Option<Duration>, ReconcileError> {
    let strategy = match action {
        ReleaseAction::Install => hr.spec.install.as_ref().and_then(|i| {
            i.strategy
                .as_ref()
                .map(|s| (s.name, s.retry_interval.as_deref()))
        }),
        ReleaseAction::Upgrade => hr.spec.upgrade.as_ref().and_then(|u| {
            u.strategy
                .as_ref()
                .map(|s| (s.name, s.retry_interval.as_deref()))
        }),
    };
    match strategy {
        Some((ActionStrategyName::RetryOnFailure, Some(interval))) => {
            let field = match action {
                ReleaseAction::Install => "spec.install.strategy.retryInterval",
                ReleaseAction::Upgrade => "spec.upgrade.strategy.retryInterval",
            };
            duration(interval, field).map(Some)
        }
        Some((ActionStrategyName::RetryOnFailure, None)) => Ok(Some(DEFAULT_RETRY_INTERVAL)),
        _ => Ok(None),
    }
}

/// How failures of one action are remediated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remediation {
    /// Retries after the first failure; negative retries for ever.
    pub retries: i64,
    /// Remediate the failure that exhausted the retries too.
    pub remediate_last_failure: bool,
    /// Roll back (upgrade default) or uninstall (always for an install).
    pub uninstall: bool,
}

impl Remediation {
    /// Whether `failures` used up the retries.
    pub fn exhausted(&self, failures: i64) -> bool {
        self.retries >= 0 && failures > self.retries
    }

    /// Whether the failure number `failures` is remediated.
    pub fn remediates(&self, failures: i64) -> bool {
        !self.exhausted(failures) || self.remediate_last_failure
    }
}

/// Install remediation: uninstall; `remediateLastFailure` off unless set.
pub fn install_remediation(hr: &HelmRelease) -> Remediation {
    let r = hr
        .spec
        .install
        .as_ref()
        .and_then(|i| i.remediation.clone())
        .unwrap_or_default();
    Remediation {
        retries: r.retries.unwrap_or(0),
        remediate_last_failure: r.remediate_last_failure.unwrap_or(false),
        uninstall: true,
    }
}

/// Upgrade remediation: rollback unless `strategy: uninstall`; `remediateLastFailure` on when
/// retries are set, unless set.
pub fn upgrade_remediation(hr: &HelmRelease) -> Remediation {
    let r = hr
        .spec
        .upgrade
        .as_ref()
        .and_then(|u| u.remediation.clone())
        .unwrap_or_default();
    let retries = r.retries.unwrap_or(0);
    Remediation {
        retries,
        remediate_last_failure: r.remediate_last_failure.unwrap_or(retries > 0),
        uninstall: r.strategy == Some(RemediationStrategy::Uninstall),
    }
}

#[cfg(test)]
mod tests {
    use driftless_api::helm::{HelmReleaseSpec, Upgrade, UpgradeRemediation};

    use super::*;

    fn hr(spec: HelmReleaseSpec) -> HelmRelease {
        HelmRelease::new("web", spec)
    }

    #[test]
    fn defaults_wait_five_minutes_create_crds_on_install_and_skip_them_on_upgrade() {
        let hr = hr(HelmReleaseSpec::default());
        let (common, crds, create_ns) = install(&hr).expect("defaults");
        assert!(common.wait);
        assert_eq!(common.timeout, DEFAULT_TIMEOUT);
        assert_eq!(crds, CrdPolicy::Create);
        assert!(!create_ns);
        assert_eq!(upgrade(&hr).expect("defaults").1, CrdPolicy::Skip);
        assert_eq!(test(&hr, ReleaseAction::Install).expect("defaults"), None);
    }

    #[test]
    fn test_failures_are_ignored_per_action_else_as_the_test_block_says_and_filters_split() {
        let spec: HelmReleaseSpec = serde_json::from_value(serde_json::json!({
            "interval": "1m",
            "test": {
                "enable": true,
                "ignoreFailures": true,
                "filters": [{"name": "a"}, {"name": "b", "exclude": true}, {"name": "c", "exclude": false}],
            },
            "upgrade": {"remediation": {"ignoreTestFailures": false}},
        }))
        .expect("spec");
        let hr = hr(spec);
        let install = test(&hr, ReleaseAction::Install)
            .expect("valid")
            .expect("enabled");
        assert!(install.ignore_failures);
        assert_eq!(install.filters.include, vec!["a", "c"]);
        assert_eq!(install.filters.exclude, vec!["b"]);
        let upgrade = test(&hr, ReleaseAction::Upgrade)
            .expect("valid")
            .expect("enabled");
        assert!(!upgrade.ignore_failures);
        assert!(!tests_count_for_ready(&hr));
    }

    #[test]
    fn retry_on_failure_waits_its_interval_five_minutes_by_default_and_remediate_does_not() {
        let spec = |install: serde_json::Value, upgrade: serde_json::Value| {
            hr(serde_json::from_value(serde_json::json!({
                "interval": "1m", "install": install, "upgrade": upgrade,
            }))
            .expect("spec"))
        };
        let r = spec(
            serde_json::json!({"strategy": {"name": "RetryOnFailure"}}),
            serde_json::json!({"strategy": {"name": "RetryOnFailure", "retryInterval": "30s"}}),
        );
        assert_eq!(
            retry_on_failure(&r, ReleaseAction::Install).expect("valid"),
            Some(DEFAULT_RETRY_INTERVAL)
        );
        assert_eq!(
            retry_on_failure(&r, ReleaseAction::Upgrade).expect("valid"),
            Some(Duration::from_secs(30))
        );
        let r = spec(
            serde_json::json!({"strategy": {"name": "RemediateOnFailure"}}),
            serde_json::json!({}),
        );
        assert_eq!(
            retry_on_failure(&r, ReleaseAction::Install).expect("valid"),
            None
        );
        assert_eq!(
            retry_on_failure(&r, ReleaseAction::Upgrade).expect("valid"),
            None
        );
        let r = spec(
            serde_json::json!({}),
            serde_json::json!({"strategy": {"name": "RetryOnFailure", "retryInterval": "soon"}}),
        );
        assert!(retry_on_failure(&r, ReleaseAction::Upgrade).is_err());
    }

    #[test]
    fn retries_bound_remediation_and_upgrade_remediates_the_last_failure_when_retrying() {
        let install = install_remediation(&hr(HelmReleaseSpec::default()));
        assert!(install.exhausted(1));
        assert!(!install.remediates(1));
        let upgrade = upgrade_remediation(&hr(HelmReleaseSpec {
            upgrade: Some(Upgrade {
                remediation: Some(UpgradeRemediation {
                    retries: Some(2),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }));
        assert!(!upgrade.uninstall);
        assert!(!upgrade.exhausted(2));
        assert!(upgrade.exhausted(3));
        assert!(upgrade.remediates(3));
        let forever = Remediation {
            retries: -1,
            remediate_last_failure: false,
            uninstall: true,
        };
        assert!(!forever.exhausted(1000));
    }
}
