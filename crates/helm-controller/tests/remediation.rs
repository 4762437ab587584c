//! Failures and recovery: a failing install remediated by uninstall until the retries run out
//! (then Stalled with RetriesExceeded, and released again once the values are fixed); a failing
//! upgrade rolled back; a release a crash left `pending-upgrade` unlocked and upgraded instead
//! of wedging in "another operation is in progress".

mod common;

use common::*;

use driftless_helm::release::{KubeSecrets, Status, Storage};

use serde_json::json;

#[tokio::test]
async fn a_failing_install_is_uninstalled_retried_then_stalls_and_a_fix_releases_it()
-> anyhow::Result<()> {
    let f = Fixture::start("hc-install-fail").await?;
    let (cluster, ns, api) = (&f.cluster, f.ns.clone(), &f.api);
    f.create(
        "bad",
        json!({
            "values": {"broken": true},
            "install": {"remediation": {"retries": 1}},
        }),
    )
    .await?;

    let hr = wait_failing(api, "bad", "RetriesExceeded").await?;
    let status = hr.status.clone().expect("status");
    assert_eq!(status.install_failures, Some(2));
    let stalled = condition(&hr, "Stalled").expect("Stalled");
    assert_eq!(stalled.status, "True");
    assert!(
        stalled
            .message
            .contains("Failed to install after 2 attempt(s)"),
        "{}",
        stalled.message
    );
    let released = condition(&hr, "Released").expect("Released");
    assert_eq!(
        (released.status.as_str(), released.reason.as_str()),
        ("False", "InstallFailed")
    );
    assert!(
        released.message.starts_with(&format!(
            "Helm install failed for release {ns}/bad with chart demo@0.1.0"
        )),
        "{}",
        released.message
    );
    let remediated = condition(&hr, "Remediated").expect("Remediated");
    assert_eq!(
        (remediated.status.as_str(), remediated.reason.as_str()),
        ("True", "UninstallSucceeded")
    );
    // The last failure is not remediated (remediateLastFailure defaults to false on install).
    let storage = Storage::new(KubeSecrets::new(cluster.client.clone(), &ns));
    let last = storage
        .last("bad")
        .await?
        .expect("the failed release is kept");
    assert_eq!(last.status(), Status::Failed);
    // The server-side dry-run refused the set: nothing of the failed release was applied.
    assert_eq!(greeting(&cluster.client, &ns, "bad-cfg").await?, None);

    // A fixed spec is a new generation: counters reset, the failed release is upgraded.
    merge(api, "bad", json!({"spec": {"values": {"broken": false}}})).await?;
    let hr = wait_for(api, "bad", "bad Ready after the fix", |hr| {
        condition(hr, "Ready").is_some_and(|c| c.status == "True")
    })
    .await?;
    assert_eq!(
        condition(&hr, "Ready").expect("Ready").reason,
        "UpgradeSucceeded"
    );
    assert!(condition(&hr, "Stalled").is_none());
    assert!(condition(&hr, "Remediated").is_none());
    assert_eq!(hr.status.as_ref().and_then(|s| s.install_failures), None);

    f.finish(&["bad"]).await
}

#[tokio::test]
async fn a_failing_upgrade_is_rolled_back_to_the_last_good_release() -> anyhow::Result<()> {
    let f = Fixture::start("hc-rollback").await?;
    let (cluster, ns, api) = (&f.cluster, f.ns.clone(), &f.api);
    f.create(
        "app",
        json!({
            "values": {"greeting": "good"},
            "upgrade": {"remediation": {"retries": 1}},
        }),
    )
    .await?;
    wait_released(api, "app", 1).await?;

    merge(
        api,
        "app",
        json!({"spec": {"values": {"greeting": "bad", "broken": true}}}),
    )
    .await?;
    let hr = wait_failing(api, "app", "RetriesExceeded").await?;
    assert_eq!(hr.status.as_ref().and_then(|s| s.upgrade_failures), Some(2));
    let remediated = condition(&hr, "Remediated").expect("Remediated");
    assert_eq!(
        (remediated.status.as_str(), remediated.reason.as_str()),
        ("True", "RollbackSucceeded")
    );
    assert!(
        remediated
            .message
            .starts_with(&format!("Helm rollback to previous release {ns}/app.v")),
        "{}",
        remediated.message
    );
    // Two failed upgrades, each rolled back (remediateLastFailure is on with retries).
    let storage = Storage::new(KubeSecrets::new(cluster.client.clone(), &ns));
    let statuses = revisions(&storage, "app").await?;
    assert_eq!(
        statuses,
        vec![
            (1, Status::Superseded),
            (2, Status::Failed),
            (3, Status::Superseded),
            (4, Status::Failed),
            (5, Status::Deployed),
        ]
    );
    assert_eq!(
        greeting(&cluster.client, &ns, "app-cfg").await?.as_deref(),
        Some("good")
    );

    f.finish(&["app"]).await
}

#[tokio::test]
async fn a_release_left_pending_by_a_crash_is_unlocked_and_upgraded() -> anyhow::Result<()> {
    let f = Fixture::start("hc-pending").await?;
    let (cluster, ns, api) = (&f.cluster, f.ns.clone(), &f.api);
    f.create("stuck", json!({})).await?;
    wait_released(api, "stuck", 1).await?;

    // What a controller killed mid-upgrade leaves: the newest revision pending-upgrade.
    let storage = Storage::new(KubeSecrets::new(cluster.client.clone(), &ns));
    let mut pending = storage.last("stuck").await?.expect("stored");
    pending.version = 2;
    pending.set_status(Status::PendingUpgrade, "Preparing upgrade");
    storage.create(&pending).await?;

    merge(
        api,
        "stuck",
        json!({"spec": {"values": {"greeting": "after-crash"}}}),
    )
    .await?;
    let hr = wait_released(api, "stuck", 3).await?;
    assert_eq!(
        condition(&hr, "Ready").expect("Ready").reason,
        "UpgradeSucceeded"
    );
    let statuses = revisions(&storage, "stuck").await?;
    assert_eq!(
        statuses,
        vec![
            (1, Status::Superseded),
            (2, Status::Failed),
            (3, Status::Deployed)
        ]
    );
    assert_eq!(
        greeting(&cluster.client, &ns, "stuck-cfg")
            .await?
            .as_deref(),
        Some("after-crash")
    );

    f.finish(&["stuck"]).await
}

/// (revision, status) of every stored revision of `name`, oldest first.
async fn revisions(
    storage: &Storage<KubeSecrets>,
    name: &str,
) -> anyhow::Result<Vec<(u32, Status)>> {
    Ok(storage
        .history(name)
        .await?
        .iter()
        .map(|r| (r.version, r.status()))
        .collect())
}
