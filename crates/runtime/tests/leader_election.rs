//! Two electors on one Lease against the real local control plane: one leads, the other takes
//! over when the first stops.

use std::time::Duration;

use driftless_runtime::leader::{LeaderConfig, elect, identity};
use driftless_runtime::metrics::Metrics;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;

fn config(namespace: &str, release_on_cancel: bool) -> LeaderConfig {
    LeaderConfig {
        lease_name: "source-controller-leader-election".to_owned(),
        namespace: namespace.to_owned(),
        identity: identity(),
        // Short timings keep the test quick; Flux's are 35s/30s.
        lease_duration: Duration::from_secs(4),
        renew_deadline: Duration::from_secs(2),
        release_on_cancel,
    }
}

async fn holder(api: &Api<Lease>) -> Option<String> {
    api.get_opt("source-controller-leader-election")
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

async fn takeover(release_on_cancel: bool) -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = testkit::TestNamespace::create(&cluster, "runtime-leader").await?;
    let leases: Api<Lease> = Api::namespaced(cluster.client.clone(), ns.name());
    let metrics = Metrics::new()?;

    let first_config = config(ns.name(), release_on_cancel);
    let second_config = config(ns.name(), release_on_cancel);
    let mut first = elect(cluster.client.clone(), &first_config, Some(metrics.clone())).await?;
    tokio::time::timeout(Duration::from_secs(60), first.acquired()).await?;
    let mut second = elect(cluster.client.clone(), &second_config, None).await?;

    // While the first renews, the second never leads.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(first.is_leader());
        assert!(!second.is_leader(), "two leaders at once");
        assert_eq!(
            holder(&leases).await.as_deref(),
            Some(first_config.identity.as_str())
        );
    }
    assert!(
        metrics.render()?.contains(
            "leader_election_master_status{name=\"source-controller-leader-election\"} 1"
        )
    );

    first.stop().await;
    let took_over = tokio::time::timeout(Duration::from_secs(60), second.acquired()).await?;
    assert!(took_over, "the second elector's task ended without leading");
    assert_eq!(
        holder(&leases).await.as_deref(),
        Some(second_config.identity.as_str())
    );
    assert!(
        metrics.render()?.contains(
            "leader_election_master_status{name=\"source-controller-leader-election\"} 0"
        )
    );
    second.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_second_elector_takes_over_when_the_leader_releases_the_lease() -> anyhow::Result<()> {
    takeover(true).await
}

#[tokio::test]
async fn the_second_elector_takes_over_when_the_leader_vanishes_without_releasing()
-> anyhow::Result<()> {
    takeover(false).await
}
