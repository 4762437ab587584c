//! The registry and the handles controllers record into.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kube::Resource;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use super::{ProcessCollector, RECONCILE_TIME_BUCKETS, gotk_duration_buckets, workqueue_buckets};
use crate::summary::Next;

/// controller-runtime's `result` label values.
const RESULTS: [&str; 4] = ["success", "error", "requeue", "requeue_after"];

/// The `result` label controller-runtime would record for a reconcile that ends in `next`:
/// returning an error (our backoff retry) is `error`, any `RequeueAfter` (interval, dependency
/// wait, retry interval) is `requeue_after`, and waiting for a change is `success`.
pub fn result_label(next: Next) -> &'static str {
    match next {
        Next::Retry => "error",
        Next::Interval(_) | Next::After(_) => "requeue_after",
        Next::AwaitChange => "success",
    }
}

/// Every metric a controller process exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    reconcile_duration: HistogramVec,
    reconcile_total: IntCounterVec,
    reconcile_errors: IntCounterVec,
    reconcile_time: HistogramVec,
    max_concurrent: IntGaugeVec,
    active_workers: IntGaugeVec,
    workqueue_depth: IntGaugeVec,
    workqueue_adds: IntCounterVec,
    workqueue_retries: IntCounterVec,
    workqueue_queue_duration: HistogramVec,
    workqueue_work_duration: HistogramVec,
    workqueue_unfinished: GaugeVec,
    workqueue_longest: GaugeVec,
    leader: IntGaugeVec,
    in_flight: Arc<Mutex<HashMap<(String, String), Instant>>>,
}

fn histogram(
    name: &str,
    help: &str,
    buckets: Vec<f64>,
    labels: &[&str],
) -> Result<HistogramVec, prometheus::Error> {
    HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
}

impl Metrics {
    /// A registry with every series registered (process metrics included).
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let m = Self {
            reconcile_duration: histogram(
                "gotk_reconcile_duration_seconds",
                "The duration in seconds of a GitOps Toolkit resource reconciliation.",
                gotk_duration_buckets(),
                &["kind", "name", "namespace"],
            )?,
            reconcile_total: IntCounterVec::new(
                Opts::new(
                    "controller_runtime_reconcile_total",
                    "Total number of reconciliations per controller",
                ),
                &["controller", "result"],
            )?,
            reconcile_errors: IntCounterVec::new(
                Opts::new(
                    "controller_runtime_reconcile_errors_total",
                    "Total number of reconciliation errors per controller",
                ),
                &["controller"],
            )?,
            reconcile_time: histogram(
                "controller_runtime_reconcile_time_seconds",
                "Length of time per reconciliation per controller",
                RECONCILE_TIME_BUCKETS.to_vec(),
                &["controller"],
            )?,
            max_concurrent: IntGaugeVec::new(
                Opts::new(
                    "controller_runtime_max_concurrent_reconciles",
                    "Maximum number of concurrent reconciles per controller",
                ),
                &["controller"],
            )?,
            active_workers: IntGaugeVec::new(
                Opts::new(
                    "controller_runtime_active_workers",
                    "Number of currently used workers per controller",
                ),
                &["controller"],
            )?,
            workqueue_depth: IntGaugeVec::new(
                Opts::new("workqueue_depth", "Current depth of workqueue"),
                &["controller", "name"],
            )?,
            workqueue_adds: IntCounterVec::new(
                Opts::new(
                    "workqueue_adds_total",
                    "Total number of adds handled by workqueue",
                ),
                &["controller", "name"],
            )?,
            workqueue_retries: IntCounterVec::new(
                Opts::new(
                    "workqueue_retries_total",
                    "Total number of retries handled by workqueue",
                ),
                &["controller", "name"],
            )?,
            workqueue_queue_duration: histogram(
                "workqueue_queue_duration_seconds",
                "How long in seconds an item stays in workqueue before being requested",
                workqueue_buckets(),
                &["controller", "name"],
            )?,
            workqueue_work_duration: histogram(
                "workqueue_work_duration_seconds",
                "How long in seconds processing an item from workqueue takes.",
                workqueue_buckets(),
                &["controller", "name"],
            )?,
            workqueue_unfinished: GaugeVec::new(
                Opts::new(
                    "workqueue_unfinished_work_seconds",
                    "How many seconds of work has been done that is in progress and hasn't been observed by work_duration.",
                ),
                &["controller", "name"],
            )?,
            workqueue_longest: GaugeVec::new(
                Opts::new(
                    "workqueue_longest_running_processor_seconds",
                    "How many seconds has the longest running processor for workqueue been running.",
                ),
                &["controller", "name"],
            )?,
            leader: IntGaugeVec::new(
                Opts::new(
                    "leader_election_master_status",
                    "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease.",
                ),
                &["name"],
            )?,
            in_flight: Arc::new(Mutex::new(HashMap::new())),
            registry,
        };
        for collector in [
            Box::new(m.reconcile_duration.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.reconcile_total.clone()),
            Box::new(m.reconcile_errors.clone()),
            Box::new(m.reconcile_time.clone()),
            Box::new(m.max_concurrent.clone()),
            Box::new(m.active_workers.clone()),
            Box::new(m.workqueue_depth.clone()),
            Box::new(m.workqueue_adds.clone()),
            Box::new(m.workqueue_retries.clone()),
            Box::new(m.workqueue_queue_duration.clone()),
            Box::new(m.workqueue_work_duration.clone()),
            Box::new(m.workqueue_unfinished.clone()),
            Box::new(m.workqueue_longest.clone()),
            Box::new(m.leader.clone()),
            Box::new(ProcessCollector::new()?),
        ] {
            m.registry.register(collector)?;
        }
        Ok(m)
    }

    /// The registry, for crates that add their own series.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Declares a controller (lower-case kind, e.g. `gitrepository`) and its `--concurrent`:
    /// every per-controller series exists from start-up, at 0.
    pub fn register_controller(&self, controller: &str, max_concurrent: usize) {
        for result in RESULTS {
            self.reconcile_total
                .with_label_values(&[controller, result]);
        }
        self.reconcile_errors.with_label_values(&[controller]);
        self.reconcile_time.with_label_values(&[controller]);
        self.max_concurrent
            .with_label_values(&[controller])
            .set(i64::try_from(max_concurrent).unwrap_or(i64::MAX));
        self.active_workers.with_label_values(&[controller]).set(0);
        let queue = [controller, controller];
        self.workqueue_depth.with_label_values(&queue).set(0);
        self.workqueue_adds.with_label_values(&queue);
        self.workqueue_retries.with_label_values(&queue);
        self.workqueue_queue_duration.with_label_values(&queue);
        self.workqueue_work_duration.with_label_values(&queue);
        self.workqueue_unfinished.with_label_values(&queue).set(0.0);
        self.workqueue_longest.with_label_values(&queue).set(0.0);
    }

    /// Starts timing one reconcile of `obj` by `controller`; the returned guard records
    /// `gotk_reconcile_duration_seconds`, the reconcile time and the active workers when it is
    /// finished (or dropped, e.g. on a panic or cancellation, as "error").
    pub fn start<K: Resource<DynamicType = ()>>(
        &self,
        controller: &str,
        obj: &K,
    ) -> ReconcileTimer {
        let key = crate::object::object_key(obj);
        let started = Instant::now();
        self.active_workers.with_label_values(&[controller]).inc();
        self.workqueue_adds
            .with_label_values(&[controller, controller])
            .inc();
        if let Ok(mut in_flight) = self.in_flight.lock() {
            in_flight.insert((controller.to_owned(), key), started);
        }
        ReconcileTimer {
            metrics: self.clone(),
            controller: controller.to_owned(),
            kind: K::kind(&()).into_owned(),
            name: obj.meta().name.clone().unwrap_or_default(),
            namespace: obj.meta().namespace.clone().unwrap_or_default(),
            started,
            result: None,
        }
    }

    /// Removes the `gotk_reconcile_duration_seconds` series of a deleted object, as Flux does.
    pub fn delete_object<K: Resource<DynamicType = ()>>(&self, obj: &K) {
        let kind = K::kind(&());
        let name = obj.meta().name.clone().unwrap_or_default();
        let namespace = obj.meta().namespace.clone().unwrap_or_default();
        let _ = self.reconcile_duration.remove_label_values(&[
            kind.as_ref(),
            name.as_str(),
            namespace.as_str(),
        ]);
    }

    /// Sets `leader_election_master_status{name=<lease>}`.
    pub fn set_leader(&self, lease: &str, leading: bool) {
        self.leader
            .with_label_values(&[lease])
            .set(i64::from(leading));
    }

    /// Sets `workqueue_depth` for a controller (the number of objects waiting).
    pub fn set_queue_depth(&self, controller: &str, depth: usize) {
        self.workqueue_depth
            .with_label_values(&[controller, controller])
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// The text exposition of every series, in-flight work measured now.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        self.refresh_in_flight();
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }

    fn refresh_in_flight(&self) {
        let Ok(in_flight) = self.in_flight.lock() else {
            return;
        };
        let mut per_controller: HashMap<&str, (f64, f64)> = HashMap::new();
        for ((controller, _), started) in in_flight.iter() {
            let age = started.elapsed().as_secs_f64();
            let entry = per_controller.entry(controller.as_str()).or_default();
            entry.0 += age;
            entry.1 = entry.1.max(age);
        }
        for (controller, (unfinished, longest)) in per_controller {
            let queue = [controller, controller];
            self.workqueue_unfinished
                .with_label_values(&queue)
                .set(unfinished);
            self.workqueue_longest
                .with_label_values(&queue)
                .set(longest);
        }
    }

    fn finish(&self, timer: &ReconcileTimer, result: &str) {
        let seconds = timer.started.elapsed().as_secs_f64();
        let controller = timer.controller.as_str();
        self.reconcile_duration
            .with_label_values(&[&timer.kind, &timer.name, &timer.namespace])
            .observe(seconds);
        self.reconcile_time
            .with_label_values(&[controller])
            .observe(seconds);
        self.workqueue_work_duration
            .with_label_values(&[controller, controller])
            .observe(seconds);
        self.reconcile_total
            .with_label_values(&[controller, result])
            .inc();
        if result == "error" {
            self.reconcile_errors.with_label_values(&[controller]).inc();
            self.workqueue_retries
                .with_label_values(&[controller, controller])
                .inc();
        }
        self.active_workers.with_label_values(&[controller]).dec();
        if let Ok(mut in_flight) = self.in_flight.lock() {
            let key = format!("{}/{}", timer.namespace, timer.name);
            in_flight.remove(&(controller.to_owned(), key));
            if !in_flight.keys().any(|(c, _)| c == controller) {
                let queue = [controller, controller];
                self.workqueue_unfinished.with_label_values(&queue).set(0.0);
                self.workqueue_longest.with_label_values(&queue).set(0.0);
            }
        }
    }
}

/// Times one reconcile; see [`Metrics::start`].
pub struct ReconcileTimer {
    metrics: Metrics,
    controller: String,
    kind: String,
    name: String,
    namespace: String,
    started: Instant,
    result: Option<&'static str>,
}

impl ReconcileTimer {
    /// Records the reconcile as ending in `next`.
    pub fn finish(mut self, next: Next) {
        self.result = Some(result_label(next));
    }
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        let result = self.result.unwrap_or("error");
        self.metrics.finish(self, result);
    }
}
