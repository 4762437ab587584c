//! The floor: what the workload costs without any controller. One process applies the same
//! N x 3 objects with driftless-ssa's `ResourceManager::apply_all_staged` (dry-run, then
//! server-side apply), one set per Kustomization and as many sets at once as the
//! kustomize-controller's `--concurrent`, each set followed by a wait until kstatus calls its
//! objects Current (polled every 100 ms). No Git fetch, no build, no status writes: a lower bound.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use driftless_ssa::wait::Target;
use driftless_ssa::{ApplyOptions, ResourceManager};

use super::workload;

/// Wall time until every set was applied and Current.
pub(super) async fn measure(
    client: &kube::Client,
    namespace: &str,
    count: usize,
    concurrent: usize,
    replicas: u32,
) -> anyhow::Result<Duration> {
    let options = ApplyOptions {
        default_namespace: namespace.to_owned(),
        poll_interval: Duration::from_millis(100),
        ..ApplyOptions::default()
    };
    let manager = Arc::new(ResourceManager::new(client.clone(), options));
    let sets = (0..count)
        .map(|i| driftless_ssa::decode::decode_yaml(&workload::rendered(i, namespace, replicas)))
        .collect::<Result<Vec<_>, _>>()
        .context("decoding the floor's objects")?;

    let started = Instant::now();
    let mut pending = tokio::task::JoinSet::new();
    let mut sets = sets.into_iter();
    loop {
        while pending.len() < concurrent.max(1) {
            let Some(set) = sets.next() else { break };
            let manager = Arc::clone(&manager);
            // Apply, then wait for this set's health: the same two steps, in the same order, as
            // one Kustomization with `wait: true`.
            pending.spawn(async move {
                let change_set = manager.apply_all_staged(set).await?;
                let targets: Vec<Target> = change_set
                    .entries
                    .into_iter()
                    .map(|e| Target::new(e.object, e.version))
                    .collect();
                manager.wait_for(&targets, Duration::from_secs(60)).await?;
                Ok::<_, driftless_ssa::SsaError>(())
            });
        }
        let Some(done) = pending.join_next().await else {
            break;
        };
        done?.context("floor apply")?;
    }
    Ok(started.elapsed())
}
