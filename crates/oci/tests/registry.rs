//! The client against testkit's loopback registry: anonymous, Basic and Bearer-token access,
//! paginated tag lists, manifests by tag and digest, verified and bounded blobs.

use driftless_oci::{Client, ClientOptions, Credential, DockerConfig, ManifestKind, Reference};
use testkit::oci_registry::{OciRegistry, RegistryAuth, tar_gz};

fn insecure() -> ClientOptions {
    ClientOptions {
        insecure: true,
        ..ClientOptions::default()
    }
}

fn reference(registry: &OciRegistry, repo: &str) -> Reference {
    Reference::parse(&format!("{}/{repo}", registry.host())).expect("reference")
}

fn basic(registry: &OciRegistry, username: &str, password: &str) -> DockerConfig {
    DockerConfig::single(
        &registry.host(),
        Credential::Basic {
            username: username.into(),
            password: password.into(),
        },
    )
}

#[tokio::test]
async fn tags_are_listed_across_pages_following_link_headers() -> anyhow::Result<()> {
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    let digest = registry.push_image("app", "1.0.0");
    registry.tag_many("app", (0..25).map(|i| format!("v{i:03}")), &digest);
    registry.set_default_page_size(Some(10));
    let client = Client::new(insecure(), DockerConfig::default())?;
    let tags = client.list_tags(&reference(&registry, "app")).await?;
    assert_eq!(tags.len(), 26);
    assert_eq!(tags.first().map(String::as_str), Some("1.0.0"));
    let pages = registry
        .requests()
        .iter()
        .filter(|r| r.contains("/tags/list"))
        .count();
    assert_eq!(pages, 3, "{:?}", registry.requests());
    Ok(())
}

#[tokio::test]
async fn the_client_page_size_is_sent_as_n() -> anyhow::Result<()> {
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    let digest = registry.push_image("app", "a");
    registry.tag_many("app", ["b", "c", "d"].map(String::from), &digest);
    let client = Client::new(
        ClientOptions {
            tag_page_limit: Some(2),
            ..insecure()
        },
        DockerConfig::default(),
    )?;
    let tags = client.list_tags(&reference(&registry, "app")).await?;
    assert_eq!(tags, ["a", "b", "c", "d"]);
    assert!(
        registry
            .requests()
            .contains(&"GET /v2/app/tags/list?n=2&last=b".to_owned()),
        "{:?}",
        registry.requests()
    );
    Ok(())
}

#[tokio::test]
async fn a_tag_list_over_the_bound_is_refused() -> anyhow::Result<()> {
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    let digest = registry.push_image("app", "a");
    registry.tag_many("app", (0..100).map(|i| format!("t{i}")), &digest);
    let client = Client::new(
        ClientOptions {
            max_tags: 50,
            ..insecure()
        },
        DockerConfig::default(),
    )?;
    let err = client
        .list_tags(&reference(&registry, "app"))
        .await
        .expect_err("too many tags");
    assert!(err.to_string().contains("more than 50 tags"), "{err}");
    Ok(())
}

#[tokio::test]
async fn the_bearer_token_flow_gets_a_token_with_basic_credentials() -> anyhow::Result<()> {
    let registry = OciRegistry::start(RegistryAuth::Token {
        username: "bot".into(),
        password: "s3cret".into(),
    })
    .await?;
    registry.push_image("team/app", "1.0.0");
    let client = Client::new(insecure(), basic(&registry, "bot", "s3cret"))?;
    let r = reference(&registry, "team/app");
    assert_eq!(client.list_tags(&r).await?, ["1.0.0"]);
    // The token is cached: a second call does not go back to the realm.
    client.list_tags(&r).await?;
    let token_requests = registry
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /token"))
        .count();
    assert_eq!(token_requests, 1, "{:?}", registry.requests());
    assert!(
        registry
            .requests()
            .iter()
            .any(|r| r.contains("scope=repository%3Ateam%2Fapp%3Apull")),
        "{:?}",
        registry.requests()
    );
    Ok(())
}

#[tokio::test]
async fn wrong_credentials_are_unauthorized_and_never_shown() -> anyhow::Result<()> {
    for auth in [
        RegistryAuth::Token {
            username: "bot".into(),
            password: "right".into(),
        },
        RegistryAuth::Basic {
            username: "bot".into(),
            password: "right".into(),
        },
    ] {
        let registry = OciRegistry::start(auth).await?;
        registry.push_image("app", "1.0.0");
        let client = Client::new(insecure(), basic(&registry, "bot", "hunter2"))?;
        let err = client
            .list_tags(&reference(&registry, "app"))
            .await
            .expect_err("unauthorized");
        assert!(err.is_unauthorized(), "{err}");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let anonymous = Client::new(insecure(), DockerConfig::default())?;
        let err = anonymous
            .list_tags(&reference(&registry, "app"))
            .await
            .expect_err("anonymous refused");
        assert!(err.is_unauthorized(), "{err}");
    }
    Ok(())
}

#[tokio::test]
async fn basic_auth_registries_accept_the_credential() -> anyhow::Result<()> {
    let registry = OciRegistry::start(RegistryAuth::Basic {
        username: "u".into(),
        password: "p".into(),
    })
    .await?;
    registry.push_image("app", "2.0.0");
    let client = Client::new(insecure(), basic(&registry, "u", "p"))?;
    assert_eq!(
        client.list_tags(&reference(&registry, "app")).await?,
        ["2.0.0"]
    );
    Ok(())
}

#[tokio::test]
async fn an_artifact_manifest_and_its_layer_are_fetched_by_tag_and_by_digest() -> anyhow::Result<()>
{
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    let layer = tar_gz(&[("deploy/app.yaml", b"kind: ConfigMap\n")])?;
    let pushed =
        registry.push_artifact("manifests/app", "v1", layer.clone(), "git@x", "main@sha1:1");
    let client = Client::new(insecure(), DockerConfig::default())?;
    let by_tag = client
        .get_manifest(&reference(&registry, "manifests/app").with_tag("v1"))
        .await?;
    assert_eq!(by_tag.digest, pushed.digest);
    let by_digest = client
        .get_manifest(&reference(&registry, "manifests/app").with_digest(&pushed.digest))
        .await?;
    assert_eq!(by_digest, by_tag);
    let ManifestKind::Image(manifest) = by_tag.kind else {
        anyhow::bail!("expected an image manifest");
    };
    assert_eq!(
        manifest.annotations["org.opencontainers.image.revision"],
        "main@sha1:1"
    );
    let r = reference(&registry, "manifests/app");
    let bytes = client
        .pull_blob_bytes(&r, &manifest.layers[0].digest, 1 << 20)
        .await?;
    assert_eq!(bytes, layer);
    assert_eq!(
        client.resolve_digest(&r.with_tag("v1")).await?,
        pushed.digest
    );
    Ok(())
}

#[tokio::test]
async fn a_blob_that_does_not_match_its_digest_or_is_too_large_is_refused() -> anyhow::Result<()> {
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    let pushed = registry.push_artifact("app", "v1", vec![7; 4096], "s", "r");
    let client = Client::new(insecure(), DockerConfig::default())?;
    let r = reference(&registry, "app");
    let err = client
        .pull_blob_bytes(&r, &pushed.layer_digest, 1024)
        .await
        .expect_err("over the limit");
    assert!(
        err.to_string().contains("exceeds the limit of 1024 bytes"),
        "{err}"
    );
    registry.corrupt_blob("app", &pushed.layer_digest, vec![8; 4096]);
    let err = client
        .pull_blob_bytes(&r, &pushed.layer_digest, 1 << 20)
        .await
        .expect_err("mismatch");
    assert!(err.to_string().contains("failed verification"), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_missing_tag_is_not_found() -> anyhow::Result<()> {
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    registry.push_image("app", "1.0.0");
    let client = Client::new(insecure(), DockerConfig::default())?;
    let err = client
        .get_manifest(&reference(&registry, "app").with_tag("nope"))
        .await
        .expect_err("missing");
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("MANIFEST_UNKNOWN"), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_loopback_registry_is_reached_over_plain_http_without_insecure() -> anyhow::Result<()> {
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    registry.push_image("app", "1.0.0");
    let client = Client::new(ClientOptions::default(), DockerConfig::default())?;
    assert_eq!(
        client.list_tags(&reference(&registry, "app")).await?,
        ["1.0.0"]
    );
    Ok(())
}

#[tokio::test]
async fn a_million_tags_are_listed() -> anyhow::Result<()> {
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    let digest = registry.push_image("big", "seed");
    registry.tag_many("big", (0..1_000_000).map(|i| format!("1.0.{i}")), &digest);
    registry.set_default_page_size(Some(100_000));
    let client = Client::new(insecure(), DockerConfig::default())?;
    let tags = client.list_tags(&reference(&registry, "big")).await?;
    assert_eq!(tags.len(), 1_000_001);
    Ok(())
}

#[tokio::test]
async fn an_identity_token_is_exchanged_with_a_refresh_token_grant() -> anyhow::Result<()> {
    let registry = OciRegistry::start(RegistryAuth::Token {
        username: "bot".into(),
        password: "refresh123".into(),
    })
    .await?;
    registry.push_image("app", "1.0.0");
    let json = format!(
        r#"{{"auths":{{"{}":{{"username":"bot","identitytoken":"refresh123"}}}}}}"#,
        registry.host()
    );
    let client = Client::new(insecure(), DockerConfig::parse(json.as_bytes())?)?;
    assert_eq!(
        client.list_tags(&reference(&registry, "app")).await?,
        ["1.0.0"]
    );
    assert!(
        registry.requests().iter().any(|r| r == "POST /token"),
        "{:?}",
        registry.requests()
    );
    Ok(())
}
