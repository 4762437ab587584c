//! Names, labels and buckets as Flux's dashboards query them.

use driftless_api::source::GitRepository;
use serde_json::json;

use super::*;
use crate::summary::Next;

fn repo() -> GitRepository {
    serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "podinfo", "namespace": "flux-system"},
        "spec": {"url": "https://example.invalid/repo", "interval": "1m0s"}
    }))
    .expect("valid GitRepository")
}

#[test]
fn gotk_buckets_run_exponentially_from_ten_milliseconds_to_half_an_hour() {
    let buckets = gotk_duration_buckets();
    assert_eq!(buckets.len(), 10);
    assert!((buckets[0] - 0.01).abs() < 1e-12);
    assert!((buckets[9] - 1800.0).abs() < 1e-6, "{}", buckets[9]);
    for pair in buckets.windows(2) {
        assert!((pair[1] / pair[0] - buckets[1] / buckets[0]).abs() < 1e-9);
    }
}

#[test]
fn every_result_of_a_registered_controller_starts_at_zero() {
    let metrics = Metrics::new().expect("metrics");
    metrics.register_controller("gitrepository", 2);
    let text = metrics.render().expect("renders");
    for result in ["success", "error", "requeue", "requeue_after"] {
        let line = format!(
            "controller_runtime_reconcile_total{{controller=\"gitrepository\",result=\"{result}\"}} 0"
        );
        assert!(text.contains(&line), "missing {line}\n{text}");
    }
    assert!(
        text.contains("controller_runtime_reconcile_errors_total{controller=\"gitrepository\"} 0")
    );
    assert!(
        text.contains(
            "controller_runtime_max_concurrent_reconciles{controller=\"gitrepository\"} 2"
        )
    );
    assert!(text.contains("controller_runtime_active_workers{controller=\"gitrepository\"} 0"));
    assert!(text.contains(
        "workqueue_longest_running_processor_seconds{controller=\"gitrepository\",name=\"gitrepository\"} 0"
    ));
}

#[test]
fn a_finished_reconcile_records_gotk_duration_for_the_object_and_the_result() {
    let metrics = Metrics::new().expect("metrics");
    metrics.register_controller("gitrepository", 2);
    metrics
        .start("gitrepository", &repo())
        .finish(Next::Interval(std::time::Duration::from_secs(60)));
    metrics.start("gitrepository", &repo()).finish(Next::Retry);
    let text = metrics.render().expect("renders");
    assert!(
        text.contains(
            "gotk_reconcile_duration_seconds_count{kind=\"GitRepository\",name=\"podinfo\",namespace=\"flux-system\"} 2"
        ),
        "{text}"
    );
    assert!(text.contains("gotk_reconcile_duration_seconds_bucket{kind=\"GitRepository\",name=\"podinfo\",namespace=\"flux-system\",le=\"0.01\"}"));
    assert!(text.contains("controller_runtime_reconcile_total{controller=\"gitrepository\",result=\"requeue_after\"} 1"));
    assert!(text.contains(
        "controller_runtime_reconcile_total{controller=\"gitrepository\",result=\"error\"} 1"
    ));
    assert!(
        text.contains("controller_runtime_reconcile_errors_total{controller=\"gitrepository\"} 1")
    );
    assert!(text.contains("controller_runtime_reconcile_time_seconds_bucket{controller=\"gitrepository\",le=\"0.005\"}"));
    assert!(text.contains("controller_runtime_active_workers{controller=\"gitrepository\"} 0"));

    metrics.delete_object(&repo());
    let text = metrics.render().expect("renders");
    assert!(
        !text.contains(
            "gotk_reconcile_duration_seconds_count{kind=\"GitRepository\",name=\"podinfo\""
        )
    );
}

#[test]
fn a_reconcile_in_flight_counts_as_an_active_worker_and_a_dropped_timer_as_an_error() {
    let metrics = Metrics::new().expect("metrics");
    metrics.register_controller("gitrepository", 2);
    let timer = metrics.start("gitrepository", &repo());
    let text = metrics.render().expect("renders");
    assert!(text.contains("controller_runtime_active_workers{controller=\"gitrepository\"} 1"));
    drop(timer);
    let text = metrics.render().expect("renders");
    assert!(text.contains(
        "controller_runtime_reconcile_total{controller=\"gitrepository\",result=\"error\"} 1"
    ));
}

#[test]
fn results_are_labelled_as_controller_runtime_labels_them() {
    assert_eq!(result_label(Next::Retry), "error");
    assert_eq!(
        result_label(Next::Interval(std::time::Duration::from_secs(1))),
        "requeue_after"
    );
    assert_eq!(
        result_label(Next::After(std::time::Duration::from_secs(1))),
        "requeue_after"
    );
    assert_eq!(result_label(Next::AwaitChange), "success");
}

#[test]
fn the_leader_gauge_is_named_after_the_lease() {
    let metrics = Metrics::new().expect("metrics");
    metrics.set_leader("source-controller-leader-election", true);
    let text = metrics.render().expect("renders");
    assert!(
        text.contains(
            "leader_election_master_status{name=\"source-controller-leader-election\"} 1"
        )
    );
}
