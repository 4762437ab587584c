//! When a side's objects became Ready during the timed run, and when the objects its
//! controllers derive from them (HelmCharts of HelmReleases) were created and became Ready:
//! a wall time alone does not say whether a side was slow to start, slow throughout, or held
//! up by a few stragglers, nor which of its two controllers held it up.

use std::collections::HashMap;
use std::time::Instant;

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, ListParams};

/// First time each timed object was seen Ready by the run's poll, from the clock's start.
pub(super) struct Timeline {
    started: Instant,
    started_wall: Timestamp,
    ready: HashMap<String, f64>,
}

impl Timeline {
    pub(super) fn start() -> Self {
        Self {
            started: Instant::now(),
            started_wall: Timestamp::now(),
            ready: HashMap::new(),
        }
    }

    pub(super) fn started(&self) -> Instant {
        self.started
    }

    /// Notes `name` Ready at this poll unless it was seen Ready before.
    pub(super) fn seen_ready(&mut self, name: &str) {
        if !self.ready.contains_key(name) {
            let at = self.started.elapsed().as_secs_f64();
            self.ready.insert(name.to_owned(), at);
        }
    }

    /// Prints the timed objects' Ready percentiles, then for each kind in `derived` when its
    /// objects in `namespace` were created and last turned Ready (the API server's
    /// timestamps, whole seconds).
    pub(super) async fn print(
        &self,
        label: &str,
        client: &kube::Client,
        namespace: &str,
        derived: &[kube::discovery::ApiResource],
    ) {
        let ready: Vec<f64> = self.ready.values().copied().collect();
        eprintln!(
            "bench: {label}: timed objects Ready at {}",
            percentiles(ready)
        );
        for resource in derived {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
            let Ok(list) = api.list(&ListParams::default()).await else {
                continue;
            };
            let since = |at: Timestamp| (at - self.started_wall).get_seconds() as f64;
            let created: Vec<f64> = list
                .items
                .iter()
                .filter_map(|o| o.metadata.creation_timestamp.as_ref())
                .map(|t| since(t.0))
                .collect();
            let ready: Vec<f64> = list
                .items
                .iter()
                .filter_map(ready_since)
                .map(since)
                .collect();
            eprintln!(
                "bench: {label}: {} created at {}; Ready at {}",
                resource.plural,
                percentiles(created),
                percentiles(ready)
            );
        }
    }
}

/// When `object`'s Ready condition last became True.
fn ready_since(object: &DynamicObject) -> Option<Timestamp> {
    object.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready" && c["status"] == "True")?["lastTransitionTime"]
        .as_str()?
        .parse()
        .ok()
}

/// "p10 x s, p50 y s, p90 z s, max w s (n objects)" of seconds since the start.
fn percentiles(mut seconds: Vec<f64>) -> String {
    if seconds.is_empty() {
        return "(none)".to_owned();
    }
    seconds.sort_by(f64::total_cmp);
    let at = |p: usize| seconds[(seconds.len() - 1) * p / 100];
    format!(
        "p10 {:.1} s, p50 {:.1} s, p90 {:.1} s, max {:.1} s ({} objects)",
        at(10),
        at(50),
        at(90),
        at(100),
        seconds.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_read_from_the_sorted_times() {
        let times = (1..=11).rev().map(f64::from).collect();
        assert_eq!(
            percentiles(times),
            "p10 2.0 s, p50 6.0 s, p90 10.0 s, max 11.0 s (11 objects)"
        );
        assert_eq!(percentiles(Vec::new()), "(none)");
    }

    #[test]
    fn an_object_is_dated_by_its_ready_condition_turning_true() {
        let object: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "X", "metadata": {"name": "a"},
            "status": {"conditions": [
                {"type": "Reconciling", "status": "True", "lastTransitionTime": "2026-11-27T00:00:01Z"},
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-27T00:00:05Z"},
            ]},
        }))
        .expect("object");
        assert_eq!(
            ready_since(&object).map(|t| t.to_string()),
            Some("2026-11-27T00:00:05Z".to_owned())
        );
    }
}
