//! image-reflector-controller against the local control plane and a loopback registry: scans,
//! policy selection, a new tag moving `latestRef`, digests, events, deletion.

mod common;

use common::{Conditions, WAIT, fixture, latest_tag, scanned_count};
use serde_json::json;
use testkit::oci_registry::RegistryAuth;

#[tokio::test]
async fn pushed_tags_are_scanned_and_a_semver_policy_follows_a_newer_tag() -> anyhow::Result<()> {
    let f = fixture("reflect", RegistryAuth::None).await?;
    let digest = f.registry.push_image("app", "1.2.3");
    for tag in ["1.0.0", "1.2.2", "2.0.0-rc.1", "latest", "sha256-abc.sig"] {
        f.registry.tag("app", tag, &digest);
    }
    f.create_repository(
        "app",
        json!({"image": f.image("app"), "interval": "1h", "insecure": true}),
    )
    .await?;
    let repo = f
        .wait_repository("app", "the scan result", |r| r.is("Ready", "True"))
        .await?;
    let status = repo.status.clone().unwrap_or_default();
    let result = status.last_scan_result.clone().unwrap_or_default();
    // The cosign signature tag is excluded by default.
    assert_eq!(result.tag_count, 5);
    assert_eq!(
        result.latest_tags.unwrap_or_default(),
        ["latest", "2.0.0-rc.1", "1.2.3", "1.2.2", "1.0.0"]
    );
    assert_eq!(status.canonical_image_name, Some(f.image("app")));
    assert_eq!(
        status.observed_exclusion_list,
        Some(vec!["^.*\\.sig$".to_owned()])
    );
    let ready = repo.ready();
    assert_eq!(ready.reason, "Succeeded");
    assert_eq!(
        ready.message,
        format!(
            "successful scan: found 5 tags with checksum {}",
            result.revision.unwrap_or_default()
        )
    );
    assert!(
        f.controller
            .storage
            .path()
            .join(format!("imagerepository/{}/app/tags", f.ns.name()))
            .is_file()
    );

    f.create_policy(
        "app",
        json!({
            "imageRepositoryRef": {"name": "app"},
            "policy": {"semver": {"range": ">=1.0.0"}},
            "digestReflectionPolicy": "IfNotPresent",
        }),
    )
    .await?;
    let policy = f
        .wait_policy("app", "the policy to resolve 1.2.3", |p| {
            latest_tag(p) == Some("1.2.3")
        })
        .await?;
    let status = policy.status.clone().unwrap_or_default();
    let latest = status.latest_ref.clone().unwrap_or_default();
    assert_eq!(latest.name, f.image("app"));
    assert_eq!(latest.digest.as_deref(), Some(digest.as_str()));
    let ready = policy.ready();
    assert_eq!(ready.status, "True");
    assert_eq!(
        ready.message,
        format!(
            "Latest image tag for {} resolved to 1.2.3 with digest {digest}",
            f.image("app")
        )
    );

    // A newer tag lands; the next scan moves latestRef and keeps the old one as previous.
    let newer = f.registry.push_image("app", "1.2.4");
    f.request_scan("app").await?;
    let policy = f
        .wait_policy("app", "the policy to move to 1.2.4", |p| {
            latest_tag(p) == Some("1.2.4")
        })
        .await?;
    let message = policy.ready().message;
    let status = policy.status.unwrap_or_default();
    assert_eq!(
        status.latest_ref.and_then(|r| r.digest),
        Some(newer.clone())
    );
    assert_eq!(
        status.observed_previous_ref.map(|r| r.tag),
        Some("1.2.3".to_owned())
    );
    assert!(message.contains("(previously "), "{message}");
    f.finish().await
}

#[tokio::test]
async fn alphabetical_and_numerical_policies_with_filters_pick_their_tags() -> anyhow::Result<()> {
    let f = fixture("reflect-order", RegistryAuth::None).await?;
    let digest = f.registry.push_image("builds", "main-aaa-9");
    for tag in ["main-bbb-10", "main-ccc-100", "feature-ddd-5000", "latest"] {
        f.registry.tag("builds", tag, &digest);
    }
    f.create_repository(
        "builds",
        json!({"image": f.image("builds"), "interval": "1h", "insecure": true}),
    )
    .await?;
    f.create_policy(
        "numeric",
        json!({
            "imageRepositoryRef": {"name": "builds"},
            "filterTags": {"pattern": "^main-[a-z]+-(?P<n>[0-9]+)$", "extract": "$n"},
            "policy": {"numerical": {"order": "asc"}},
        }),
    )
    .await?;
    f.create_policy(
        "alpha",
        json!({
            "imageRepositoryRef": {"name": "builds"},
            "filterTags": {"pattern": "^main-"},
            "policy": {"alphabetical": {"order": "asc"}},
        }),
    )
    .await?;
    f.wait_policy("numeric", "the highest build number", |p| {
        latest_tag(p) == Some("main-ccc-100")
    })
    .await?;
    // Byte order: "main-ccc-100" > "main-bbb-10" > "main-aaa-9".
    f.wait_policy("alpha", "the last tag alphabetically", |p| {
        latest_tag(p) == Some("main-ccc-100")
    })
    .await?;
    f.finish().await
}

#[tokio::test]
async fn deleting_an_image_repository_removes_its_tags_from_the_store() -> anyhow::Result<()> {
    let f = fixture("reflect-delete", RegistryAuth::None).await?;
    f.registry.push_image("gone", "1.0.0");
    f.create_repository(
        "gone",
        json!({"image": f.image("gone"), "interval": "1h", "insecure": true}),
    )
    .await?;
    f.wait_repository("gone", "a scan", |r| scanned_count(r) == Some(1))
        .await?;
    let file = f
        .controller
        .storage
        .path()
        .join(format!("imagerepository/{}/gone/tags", f.ns.name()));
    assert!(file.is_file());
    f.repos
        .delete("gone", &kube::api::DeleteParams::default())
        .await?;
    testkit::wait::until(WAIT, "the store entry to go", || {
        let file = file.clone();
        async move { Ok((!file.exists()).then_some(())) }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    f.finish().await
}

#[tokio::test]
async fn digest_reflection_always_follows_a_moved_tag_at_the_policy_interval() -> anyhow::Result<()>
{
    let f = fixture("reflect-always", RegistryAuth::None).await?;
    let first = f.registry.push_image("mutable", "latest");
    f.create_repository(
        "mutable",
        json!({"image": f.image("mutable"), "interval": "1h", "insecure": true}),
    )
    .await?;
    f.create_policy(
        "mutable",
        json!({
            "imageRepositoryRef": {"name": "mutable"},
            "filterTags": {"pattern": "^latest$"},
            "policy": {"alphabetical": {}},
            "digestReflectionPolicy": "Always",
            "interval": "1s",
        }),
    )
    .await?;
    let digest_is = |want: String| {
        move |p: &driftless_api::image::ImagePolicy| {
            p.status
                .as_ref()
                .and_then(|s| s.latest_ref.as_ref())
                .and_then(|r| r.digest.as_deref())
                == Some(want.as_str())
        }
    };
    f.wait_policy("mutable", "the first digest", digest_is(first.clone()))
        .await?;
    // `latest` moves to another manifest; no new scan is needed, the interval re-reads it.
    let second = f.registry.push_image("mutable", "other");
    f.registry.tag("mutable", "latest", &second);
    assert_ne!(first, second);
    let policy = f
        .wait_policy("mutable", "the moved digest", digest_is(second.clone()))
        .await?;
    let previous = policy
        .status
        .and_then(|s| s.observed_previous_ref)
        .and_then(|r| r.digest);
    assert_eq!(previous, Some(first));
    f.finish().await
}

#[tokio::test]
async fn a_resolved_policy_records_fluxs_succeeded_event() -> anyhow::Result<()> {
    let f = fixture("reflect-events", RegistryAuth::None).await?;
    f.registry.push_image("evt", "3.1.0");
    f.create_repository(
        "evt",
        json!({"image": f.image("evt"), "interval": "1h", "insecure": true}),
    )
    .await?;
    f.create_policy(
        "evt",
        json!({"imageRepositoryRef": {"name": "evt"}, "policy": {"semver": {"range": "3.x"}}}),
    )
    .await?;
    f.wait_policy("evt", "3.1.0", |p| latest_tag(p) == Some("3.1.0"))
        .await?;
    let events: kube::Api<k8s_openapi::api::core::v1::Event> =
        kube::Api::namespaced(f.cluster.client.clone(), f.ns.name());
    let want = format!("Latest image tag for {} resolved to 3.1.0", f.image("evt"));
    testkit::wait::until(WAIT, "the Succeeded event of the policy", || {
        let (events, want) = (events.clone(), want.clone());
        async move {
            let list = events
                .list(&Default::default())
                .await
                .map_err(|e| e.to_string())?;
            let found = list.items.iter().any(|e| {
                e.involved_object.kind.as_deref() == Some("ImagePolicy")
                    && e.reason.as_deref() == Some("Succeeded")
                    && e.type_.as_deref() == Some("Normal")
                    && e.message.as_deref() == Some(want.as_str())
            });
            Ok(found.then_some(()))
        }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    f.finish().await
}
