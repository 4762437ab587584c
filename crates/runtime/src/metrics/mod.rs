//! Prometheus metrics with Flux's names, labels and buckets: `gotk_reconcile_duration_seconds`
//! (fluxcd/pkg/runtime/metrics), the controller-runtime reconcile and workqueue series Flux's
//! dashboards query, `leader_election_master_status`, and `process_*`. Every
//! `controller_runtime_reconcile_total` result starts at 0 so "errors" panels show 0, not
//! "No data".

mod process;
mod recorder;

pub use process::ProcessCollector;
pub use recorder::{Metrics, ReconcileTimer, result_label};

/// `gotk_reconcile_duration_seconds` buckets: Go's `ExponentialBucketsRange(0.01, 1800, 10)`.
pub fn gotk_duration_buckets() -> Vec<f64> {
    let (min, max, count) = (0.01f64, 1800f64, 10);
    let factor = (max / min).powf(1.0 / f64::from(count - 1));
    (0..count).map(|i| min * factor.powi(i)).collect()
}

/// `controller_runtime_reconcile_time_seconds` buckets, as controller-runtime defines them.
pub const RECONCILE_TIME_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0,
];

/// `workqueue_*_duration_seconds` buckets: controller-runtime's `ExponentialBuckets(10e-9, 10, 12)`.
pub fn workqueue_buckets() -> Vec<f64> {
    (0..12).map(|i| 1e-8 * 10f64.powi(i)).collect()
}

#[cfg(test)]
mod tests;
