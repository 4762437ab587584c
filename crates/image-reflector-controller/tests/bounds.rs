//! The tag store's bounds and a registry with very many tags, end to end.

mod common;

use common::{Conditions, fixture, fixture_with, latest_tag};
use serde_json::json;
use testkit::oci_registry::RegistryAuth;

#[tokio::test]
async fn a_repository_over_the_store_cap_fails_its_scan_with_a_clear_message() -> anyhow::Result<()>
{
    let metrics_addr = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        format!("127.0.0.1:{}", listener.local_addr()?.port())
    };
    let metrics_flag = format!("--metrics-addr={metrics_addr}");
    let f = fixture_with(
        "bounds-cap",
        RegistryAuth::None,
        &["--storage-max-repository-size=100", &metrics_flag],
    )
    .await?;
    // A repository that fits, so the store-size gauge has something to show.
    f.registry.push_image("small", "1.0.0");
    f.create_repository(
        "small",
        json!({"image": f.image("small"), "interval": "1h", "insecure": true}),
    )
    .await?;
    f.wait_repository("small", "a scan", |r| r.is("Ready", "True"))
        .await?;
    let url = format!("http://{metrics_addr}/metrics");
    testkit::wait::until(common::WAIT, "the store size on /metrics", || {
        let url = url.clone();
        async move {
            let (code, body) = testkit::http_get(&url).await.map_err(|e| e.to_string())?;
            let text = String::from_utf8_lossy(&body).into_owned();
            Ok((code == 200 && text.contains("driftless_image_tag_store_bytes 6")).then_some(()))
        }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    let digest = f.registry.push_image("many", "0");
    f.registry
        .tag_many("many", (1..50).map(|i| i.to_string()), &digest);
    f.create_repository(
        "many",
        json!({"image": f.image("many"), "interval": "1h", "insecure": true}),
    )
    .await?;
    let repo = f
        .wait_repository("many", "Ready=False", |r| r.is("Ready", "False"))
        .await?;
    let ready = repo.ready();
    assert_eq!(ready.reason, "ReadOperationFailed");
    assert_eq!(
        ready.message,
        format!(
            "scan failed: failed to set tags for \"{}\": 50 tags take 140 bytes, over the tag store's limit of 100 bytes per repository",
            f.image("many")
        )
    );
    assert!(
        !f.controller
            .storage
            .path()
            .join(format!("imagerepository/{}/many/tags", f.ns.name()))
            .exists()
    );
    f.finish().await
}

#[tokio::test]
async fn a_million_tags_scan_and_resolve() -> anyhow::Result<()> {
    let f = fixture("bounds-many", RegistryAuth::None).await?;
    let digest = f.registry.push_image("huge", "1.0.0");
    f.registry.tag_many(
        "huge",
        (0..1_000_000).map(|i| format!("1.{}.{}", i / 1000, i % 1000)),
        &digest,
    );
    f.registry.set_default_page_size(Some(50_000));
    f.create_repository(
        "huge",
        json!({"image": f.image("huge"), "interval": "1h", "insecure": true}),
    )
    .await?;
    f.create_policy(
        "huge",
        json!({"imageRepositoryRef": {"name": "huge"}, "policy": {"semver": {"range": "^1.0.0"}}}),
    )
    .await?;
    let policy = f
        .wait_policy("huge", "the highest of a million versions", |p| {
            latest_tag(p) == Some("1.999.999")
        })
        .await?;
    assert!(policy.is("Ready", "True"));
    let repo = f.repos.get("huge").await?;
    let count = repo
        .status
        .and_then(|s| s.last_scan_result)
        .map(|r| r.tag_count);
    // 1.0.0 was pushed first and is one of the generated tags too.
    assert_eq!(count, Some(1_000_000));
    f.finish().await
}

#[tokio::test]
async fn store_entries_of_repositories_deleted_while_stopped_are_swept_at_start()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    common::install_crds(&cluster.client).await?;
    let ns = testkit::TestNamespace::create(&cluster, "bounds-sweep").await?;
    let storage = tempfile::Builder::new().prefix("image-tags-").tempdir()?;
    let ghost = storage
        .path()
        .join(format!("imagerepository/{}/ghost", ns.name()));
    std::fs::create_dir_all(&ghost)?;
    std::fs::write(ghost.join("tags"), "1.0.0\n")?;
    let controller =
        common::RunningController::start_with_storage(&cluster, "bounds-sweep", &[], storage)
            .await?;
    testkit::wait::until(common::WAIT, "the orphaned entry to be swept", || {
        let ghost = ghost.clone();
        async move { Ok((!ghost.exists()).then_some(())) }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    controller.stop().await
}
