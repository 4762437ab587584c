//! Turns a [`Next`] into kube-runtime's `Action`: `spec.interval` with Flux's jitter
//! (fluxcd/pkg/runtime/jitter: +/- a random share of `--interval-jitter-percentage`), and the
//! per-object exponential failure backoff Flux gets from controller-runtime's workqueue
//! (`--min-retry-delay` doubling per consecutive failure up to `--max-retry-delay`, forgotten
//! as soon as the object reconciles without error). Also the lifecycle gate in Flux's order:
//! deletion, then finalizer, then `spec.suspend`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::controller::Action;

use crate::summary::Next;

/// `d` scaled by `1 + p * (2r - 1)` for `r` in `[0, 1)`: within +/- `percent` of `d`.
/// Flux applies no jitter when the percentage is 0 or not below 100.
pub fn jitter(d: Duration, percent: u8, r: f64) -> Duration {
    if percent == 0 || percent >= 100 {
        return d;
    }
    let p = f64::from(percent) / 100.0;
    let factor = 1.0 + p * (2.0 * r.clamp(0.0, 1.0) - 1.0);
    d.mul_f64(factor)
}

/// controller-runtime's item exponential failure backoff: `min * 2^failures`, at most `max`.
pub fn backoff_delay(min: Duration, max: Duration, failures: u32) -> Duration {
    let factor = 2f64.powi(i32::try_from(failures).unwrap_or(i32::MAX));
    let nanos = min.as_nanos() as f64 * factor;
    if !nanos.is_finite() || nanos >= max.as_nanos() as f64 {
        return max;
    }
    Duration::from_nanos(nanos as u64)
}

/// Chooses actions for one controller; keeps each object's consecutive failure count.
#[derive(Debug)]
pub struct Scheduler {
    min_retry_delay: Duration,
    max_retry_delay: Duration,
    jitter_percent: u8,
    failures: Mutex<HashMap<String, u32>>,
}

impl Scheduler {
    /// A scheduler with `--min-retry-delay`, `--max-retry-delay` and
    /// `--interval-jitter-percentage`.
    pub fn new(min_retry_delay: Duration, max_retry_delay: Duration, jitter_percent: u8) -> Self {
        Self {
            min_retry_delay,
            max_retry_delay: max_retry_delay.max(min_retry_delay),
            jitter_percent,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The action for `next`; `key` identifies the object (e.g. `namespace/name`).
    pub fn action(&self, key: &str, next: Next) -> Action {
        self.delay(key, next)
            .map_or_else(Action::await_change, Action::requeue)
    }

    /// How long until the next reconcile of `key`, `None` for "only on change".
    pub fn delay(&self, key: &str, next: Next) -> Option<Duration> {
        match next {
            Next::Retry => Some(self.failure(key)),
            Next::Interval(d) => {
                self.forget(key);
                Some(jitter(d, self.jitter_percent, fastrand::f64()))
            }
            Next::After(d) => {
                self.forget(key);
                Some(d)
            }
            Next::AwaitChange => {
                self.forget(key);
                None
            }
        }
    }

    /// The scheduler the runtime flags ask for.
    pub fn from_args(args: &crate::flags::RuntimeArgs) -> Self {
        Self::new(
            args.min_retry_delay.get(),
            args.max_retry_delay.get(),
            args.interval_jitter_percentage,
        )
    }

    /// Records a failure of `key` and returns how long to wait before retrying.
    pub fn failure(&self, key: &str) -> Duration {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = failures.entry(key.to_owned()).or_insert(0);
        let delay = backoff_delay(self.min_retry_delay, self.max_retry_delay, *count);
        *count = count.saturating_add(1);
        delay
    }

    /// Forgets the failures of `key` (on success, and when the object is deleted).
    pub fn forget(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}

/// What a reconcile does before its steps, decided from the object's metadata and spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// The object is being deleted and still carries our finalizer: clean up, then remove it.
    Finalize,
    /// The object is being deleted and our finalizer is gone: nothing to do.
    Gone,
    /// Our finalizer is missing: add it first, then requeue (Flux adds it before any work so a
    /// delete racing the first reconcile cannot leak storage or applied objects).
    AddFinalizer,
    /// `spec.suspend` is true: leave status untouched and wait for a change.
    Suspended,
    /// Run the reconcile steps.
    Reconcile,
}

/// Flux's order: deletion first, then the finalizer, then `spec.suspend`.
pub fn gate(deleting: bool, has_finalizer: bool, suspended: bool) -> Gate {
    match (deleting, has_finalizer, suspended) {
        (true, true, _) => Gate::Finalize,
        (true, false, _) => Gate::Gone,
        (false, false, _) => Gate::AddFinalizer,
        (false, true, true) => Gate::Suspended,
        (false, true, false) => Gate::Reconcile,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_the_percentage_either_side() {
        let d = Duration::from_secs(100);
        assert_eq!(jitter(d, 5, 0.0), Duration::from_secs(95));
        assert_eq!(jitter(d, 5, 0.5), Duration::from_secs(100));
        assert_eq!(jitter(d, 5, 1.0), Duration::from_secs(105));
        assert_eq!(jitter(d, 0, 0.0), d);
        assert_eq!(jitter(d, 100, 0.0), d);
    }

    #[test]
    fn backoff_doubles_from_the_minimum_and_stops_at_the_maximum() {
        let min = Duration::from_millis(750);
        let max = Duration::from_secs(15 * 60);
        let delays: Vec<Duration> = (0..4).map(|n| backoff_delay(min, max, n)).collect();
        assert_eq!(
            delays,
            [
                Duration::from_millis(750),
                Duration::from_millis(1500),
                Duration::from_millis(3000),
                Duration::from_millis(6000)
            ]
        );
        assert_eq!(backoff_delay(min, max, 20), max);
        assert_eq!(backoff_delay(min, max, u32::MAX), max);
    }

    #[test]
    fn failures_back_off_per_object_and_success_forgets_them() {
        let s = Scheduler::new(Duration::from_secs(1), Duration::from_secs(60), 5);
        assert_eq!(s.failure("ns/a"), Duration::from_secs(1));
        assert_eq!(s.failure("ns/a"), Duration::from_secs(2));
        assert_eq!(
            s.failure("ns/b"),
            Duration::from_secs(1),
            "objects back off separately"
        );
        assert_eq!(
            s.action("ns/a", Next::Retry),
            Action::requeue(Duration::from_secs(4))
        );
        assert_eq!(
            s.action("ns/a", Next::After(Duration::from_secs(30))),
            Action::requeue(Duration::from_secs(30))
        );
        assert_eq!(
            s.failure("ns/a"),
            Duration::from_secs(1),
            "success forgot the failures"
        );
    }

    #[test]
    fn stalled_objects_wait_for_a_change_and_intervals_requeue_near_the_interval() {
        let s = Scheduler::new(Duration::from_secs(1), Duration::from_secs(60), 5);
        assert_eq!(s.action("k", Next::AwaitChange), Action::await_change());
        let interval = Duration::from_secs(600);
        let got = s
            .delay("k", Next::Interval(interval))
            .expect("interval requeues");
        assert!(
            got >= Duration::from_secs(570) && got <= Duration::from_secs(630),
            "{got:?}"
        );
    }

    #[test]
    fn the_gate_follows_fluxs_order() {
        assert_eq!(gate(true, true, true), Gate::Finalize);
        assert_eq!(gate(true, false, false), Gate::Gone);
        assert_eq!(gate(false, false, true), Gate::AddFinalizer);
        assert_eq!(gate(false, true, true), Gate::Suspended);
        assert_eq!(gate(false, true, false), Gate::Reconcile);
    }
}
