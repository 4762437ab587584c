//! What goes wrong, end to end: credentials (right, wrong, missing, from a ServiceAccount), a
//! registry answering garbage, specs that stall or wait, and cross-namespace access.

mod common;

use common::{Conditions, WAIT, fixture, latest_tag, scanned_count};
use driftless_api::image::ImageRepository;
use serde_json::json;
use testkit::oci_registry::RegistryAuth;

#[tokio::test]
async fn credentials_from_a_pull_secret_scan_a_private_registry_and_bad_ones_fail_clearly()
-> anyhow::Result<()> {
    let auth = RegistryAuth::Token {
        username: "reflector".into(),
        password: "s3cret-pass".into(),
    };
    let f = fixture("reflect-auth", auth).await?;
    f.registry.push_image("private", "0.1.0");
    f.create_pull_secret("good", "reflector", "s3cret-pass")
        .await?;
    f.create_pull_secret("bad", "reflector", "wrong-pa55word")
        .await?;
    f.create_repository(
        "good",
        json!({"image": f.image("private"), "interval": "1h", "insecure": true, "secretRef": {"name": "good"}}),
    )
    .await?;
    f.create_repository(
        "bad",
        json!({"image": f.image("private"), "interval": "1h", "insecure": true, "secretRef": {"name": "bad"}}),
    )
    .await?;
    f.create_repository(
        "missing",
        json!({"image": f.image("private"), "interval": "1h", "insecure": true, "secretRef": {"name": "nope"}}),
    )
    .await?;
    let good = f
        .wait_repository("good", "a scan with the right credentials", |r| {
            scanned_count(r) == Some(1)
        })
        .await?;
    assert!(good.is("Ready", "True"));

    let bad = f
        .wait_repository("bad", "Ready=False", |r| r.is("Ready", "False"))
        .await?;
    let ready = bad.ready();
    assert_eq!(ready.reason, "ReadOperationFailed");
    assert!(
        ready.message.starts_with("scan failed: "),
        "{}",
        ready.message
    );
    assert!(
        ready.message.contains("UNAUTHORIZED") || ready.message.contains("token"),
        "{}",
        ready.message
    );
    for secret in ["wrong-pa55word", "s3cret-pass"] {
        assert!(!ready.message.contains(secret), "{}", ready.message);
    }

    // A ServiceAccount's image pull secrets authenticate too.
    let accounts: kube::Api<k8s_openapi::api::core::v1::ServiceAccount> =
        kube::Api::namespaced(f.cluster.client.clone(), f.ns.name());
    let account = serde_json::from_value(json!({
        "metadata": {"name": "puller"},
        "imagePullSecrets": [{"name": "good"}],
    }))?;
    accounts.create(&Default::default(), &account).await?;
    f.create_repository(
        "by-account",
        json!({"image": f.image("private"), "interval": "1h", "insecure": true, "serviceAccountName": "puller"}),
    )
    .await?;
    f.wait_repository("by-account", "a scan with the account's pull secret", |r| {
        scanned_count(r) == Some(1)
    })
    .await?;

    let missing = f
        .wait_repository("missing", "Ready=False", |r| r.is("Ready", "False"))
        .await?;
    let ready = missing.ready();
    assert_eq!(ready.reason, "AuthenticationFailed");
    assert_eq!(
        ready.message,
        "failed to configure authentication options: secrets \"nope\" not found"
    );
    f.finish().await
}

#[tokio::test]
async fn bad_specs_stall_or_wait_with_flux_reasons() -> anyhow::Result<()> {
    let f = fixture("reflect-bad", RegistryAuth::None).await?;
    f.create_repository(
        "tagged",
        json!({"image": format!("{}:1.0", f.image("app")), "interval": "1h"}),
    )
    .await?;
    f.create_repository(
        "cloud",
        json!({"image": f.image("app"), "interval": "1h", "provider": "aws"}),
    )
    .await?;
    f.create_policy(
        "orphan",
        json!({"imageRepositoryRef": {"name": "absent"}, "policy": {"semver": {"range": "*"}}}),
    )
    .await?;
    let stalled = |r: &ImageRepository| r.condition("Stalled").is_some_and(|c| c.status == "True");
    let tagged = f.wait_repository("tagged", "Stalled", stalled).await?;
    let ready = tagged.ready();
    assert_eq!(ready.reason, "ImageURLInvalid");
    assert!(
        ready
            .message
            .contains("should not include a tag; remove ':1.0'"),
        "{}",
        ready.message
    );
    let cloud = f.wait_repository("cloud", "Stalled", stalled).await?;
    let ready = cloud.ready();
    assert_eq!(ready.reason, "ProviderNotSupported");
    assert!(
        ready.message.contains("'aws' is not supported yet"),
        "{}",
        ready.message
    );

    let orphan = f
        .wait_policy("orphan", "DependencyNotReady", |p| {
            p.condition("Ready")
                .is_some_and(|c| c.reason == "DependencyNotReady")
        })
        .await?;
    let ready = orphan.ready();
    assert_eq!(
        ready.message,
        "failed to get the referred ImageRepository: referenced ImageRepository does not exist: imagerepositories.image.toolkit.fluxcd.io \"absent\" not found"
    );
    f.finish().await
}

/// A "registry" on loopback that answers every request with 200 and a body that is no tag list.
async fn garbage_registry() -> anyhow::Result<std::net::SocketAddr> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = vec![0u8; 8192];
                let _ = socket.read(&mut request).await;
                let body = "<html>{\"tags\": [not json";
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(addr)
}

#[tokio::test]
async fn a_registry_answering_garbage_fails_the_scan_with_a_clear_message() -> anyhow::Result<()> {
    let f = fixture("reflect-garbage", RegistryAuth::None).await?;
    let addr = garbage_registry().await?;
    f.create_repository(
        "garbage",
        json!({"image": format!("{addr}/garbage"), "interval": "1h", "insecure": true}),
    )
    .await?;
    let repo = f
        .wait_repository("garbage", "Ready=False", |r| r.is("Ready", "False"))
        .await?;
    let ready = repo.ready();
    assert_eq!(ready.reason, "ReadOperationFailed");
    assert!(
        ready.message.starts_with("scan failed: ") && ready.message.contains("tag list"),
        "{}",
        ready.message
    );
    assert!(repo.status.and_then(|s| s.last_scan_result).is_none());
    f.finish().await
}

#[tokio::test]
async fn a_policy_in_another_namespace_needs_the_repositorys_access_from() -> anyhow::Result<()> {
    let f = fixture("reflect-acl", RegistryAuth::None).await?;
    let other = testkit::TestNamespace::create(&f.cluster, "reflect-acl-images").await?;
    f.registry.push_image("shared", "1.0.0");
    let image = f.image("shared");
    f.create_repository_in(
        other.name(),
        "shared",
        json!({"image": image, "interval": "1h", "insecure": true,
               "accessFrom": {"namespaceSelectors": [{"matchLabels": {"images": "granted"}}]}}),
    )
    .await?;
    f.create_repository_in(
        other.name(),
        "closed",
        json!({"image": image, "interval": "1h", "insecure": true}),
    )
    .await?;
    for (name, repo) in [("shared", "shared"), ("closed", "closed")] {
        f.create_policy(
            name,
            json!({"imageRepositoryRef": {"name": repo, "namespace": other.name()},
                   "policy": {"semver": {"range": "*"}}}),
        )
        .await?;
    }
    let denied = |p: &driftless_api::image::ImagePolicy| {
        p.condition("Ready")
            .is_some_and(|c| c.reason == "AccessDenied")
    };
    let closed = f.wait_policy("closed", "AccessDenied", denied).await?;
    assert_eq!(
        closed.ready().message,
        format!(
            "failed to get the referred ImageRepository: access denied: '{}/closed' can't be accessed due to missing ACL labels on 'accessFrom'",
            other.name()
        )
    );
    let shared = f.wait_policy("shared", "AccessDenied", denied).await?;
    assert!(
        shared.ready().message.ends_with(&format!(
            "can't be accessed due to labels mismatch on namespace '{}'",
            f.ns.name()
        )),
        "{}",
        shared.ready().message
    );

    // Labelling the policy's namespace grants access; the retry picks it up.
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(f.cluster.client.clone());
    let patch = json!({"metadata": {"labels": {"images": "granted"}}});
    namespaces
        .patch(
            f.ns.name(),
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await?;
    f.wait_policy("shared", "access granted", |p| {
        latest_tag(p) == Some("1.0.0")
    })
    .await?;

    let repos: kube::Api<driftless_api::image::ImageRepository> =
        kube::Api::namespaced(f.cluster.client.clone(), other.name());
    repos
        .delete_collection(&Default::default(), &Default::default())
        .await?;
    testkit::wait::until(WAIT, "the other namespace's repositories to go", || {
        let repos = repos.clone();
        async move {
            let left = repos
                .list(&Default::default())
                .await
                .map_err(|e| e.to_string())?;
            Ok(left.items.is_empty().then_some(()))
        }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    f.finish().await
}
