//! `--kube-api-qps`/`--kube-api-burst` against the real API server: requests beyond the burst
//! wait for their resource's bucket, other resources do not queue behind them, and zero QPS
//! means no limit.

use std::time::{Duration, Instant};

use driftless_runtime::ratelimit::{self, Limits};
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, ListParams};

#[tokio::test]
async fn requests_beyond_the_burst_are_paced_at_the_qps_per_resource() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let config = cluster.plane.config().await?;
    let client = ratelimit::client(config, Limits { qps: 5.0, burst: 2 })?;
    let configmaps: Api<ConfigMap> = Api::namespaced(client, "default");

    // Burst of 2, then 3 more at 5/s: the fifth request cannot start before 0.6 s.
    let started = Instant::now();
    for _ in 0..5 {
        configmaps.list(&ListParams::default().limit(1)).await?;
    }
    let paced = started.elapsed();
    assert!(
        paced >= Duration::from_millis(550),
        "five ConfigMap lists with burst 2 at 5 qps took only {paced:?}"
    );

    Ok(())
}

#[tokio::test]
async fn a_resource_with_a_backlog_does_not_hold_up_other_resources() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let config = cluster.plane.config().await?;
    let client = ratelimit::client(config, Limits { qps: 1.0, burst: 1 })?;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let services: Api<Service> = Api::namespaced(client, "default");

    // Ten ConfigMap lists at 1 qps: the last cannot finish before 9 s.
    let backlog: Vec<_> = (0..10)
        .map(|_| {
            let configmaps = configmaps.clone();
            tokio::spawn(async move { configmaps.list(&ListParams::default().limit(1)).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    services.list(&ListParams::default().limit(1)).await?;
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "a Service list waited {waited:?} behind the ConfigMap backlog"
    );
    for request in backlog {
        request.abort();
    }
    Ok(())
}

#[tokio::test]
async fn zero_qps_leaves_requests_unlimited() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let config = cluster.plane.config().await?;
    let client = ratelimit::client(config, Limits { qps: 0.0, burst: 0 })?;
    let configmaps: Api<ConfigMap> = Api::namespaced(client, "default");
    let started = Instant::now();
    for _ in 0..10 {
        configmaps.list(&ListParams::default().limit(1)).await?;
    }
    // Were a zero QPS taken literally, no request after the first would ever start.
    assert!(started.elapsed() < Duration::from_secs(5));
    Ok(())
}
