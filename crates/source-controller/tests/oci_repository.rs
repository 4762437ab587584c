//! OCIRepository end to end: the controller in-process against the local control plane and
//! testkit's loopback registry, with artifacts pushed as `flux push artifact` lays them out.

mod common;

use std::collections::BTreeMap;

use anyhow::Context as _;
use base64::Engine as _;
use common::{RunningController, SHARD_LABEL, WAIT, wait_event};
use driftless_api::source::OCIRepository;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use testkit::TestNamespace;
use testkit::oci_registry::{OciRegistry, RegistryAuth, tar_gz};

const CRD: &str = "ocirepositories.source.toolkit.fluxcd.io";

async fn install_crd(client: &kube::Client) -> anyhow::Result<()> {
    let crd = driftless_api::crds()
        .into_iter()
        .find(|c| c.metadata.name.as_deref() == Some(CRD))
        .context("driftless_api::crds() has the OCIRepository CRD")?;
    testkit::install_crd(client, &crd, "driftless-source-controller-tests").await
}

async fn create(
    api: &Api<OCIRepository>,
    name: &str,
    shard: &str,
    spec: Value,
) -> anyhow::Result<()> {
    let mut spec = spec;
    spec["interval"] = json!("1h");
    let object: OCIRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "OCIRepository",
        "metadata": {"name": name, "labels": {SHARD_LABEL: shard}},
        "spec": spec,
    }))?;
    api.create(&PostParams::default(), &object).await?;
    Ok(())
}

fn condition<'a>(repo: &'a OCIRepository, type_: &str) -> Option<&'a Condition> {
    repo.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

async fn wait_for(
    api: &Api<OCIRepository>,
    name: &str,
    what: &str,
    check: impl Fn(&OCIRepository) -> bool,
) -> anyhow::Result<OCIRepository> {
    testkit::wait::object(api, name, WAIT, what, check).await
}

async fn wait_ready(api: &Api<OCIRepository>, name: &str) -> anyhow::Result<OCIRepository> {
    wait_for(api, name, &format!("{name} Ready=True"), |r| {
        condition(r, "Ready").is_some_and(|c| c.status == "True")
            && r.status.as_ref().and_then(|s| s.observed_generation) == r.metadata.generation
    })
    .await
}

async fn wait_failing(
    api: &Api<OCIRepository>,
    name: &str,
    reason: &str,
) -> anyhow::Result<OCIRepository> {
    wait_for(api, name, &format!("{name} Ready=False {reason}"), |r| {
        condition(r, "Ready").is_some_and(|c| c.status == "False" && c.reason == reason)
    })
    .await
}

fn revision(repo: &OCIRepository) -> Option<&str> {
    Some(repo.status.as_ref()?.artifact.as_ref()?.revision.as_str())
}

/// The file names inside the stored artifact of `repo`.
fn artifact_files(
    controller: &RunningController,
    repo: &OCIRepository,
) -> anyhow::Result<Vec<String>> {
    let artifact = repo
        .status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .context("an artifact")?;
    let file = std::fs::File::open(controller.storage.path().join(&artifact.path))?;
    let dest = tempfile::tempdir()?;
    driftless_artifact::extract_tar_gz(file, dest.path(), &Default::default())?;
    common::files_under(dest.path())
}

#[tokio::test]
async fn an_artifact_pulled_by_tag_becomes_ready_with_fluxs_revision_and_metadata()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "oci-tag").await?;
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    let layer = tar_gz(&[
        ("deploy/app.yaml", b"kind: ConfigMap\n"),
        ("docs/README.md", b"ignored\n"),
    ])?;
    let pushed = registry.push_artifact(
        "manifests/app",
        "v1",
        layer,
        "https://github.com/org/app",
        "main@sha1:abc",
    );
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<OCIRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let spec = json!({"url": registry.oci_url("manifests/app"), "ref": {"tag": "v1"},
        "insecure": true, "ignore": "/docs\n"});
    create(&api, "app", &controller.shard, spec).await?;

    let ready = wait_ready(&api, "app").await?;
    let expected = format!("v1@{}", pushed.digest);
    assert_eq!(revision(&ready), Some(expected.as_str()));
    let status = ready.status.as_ref().context("status")?;
    let artifact = status.artifact.as_ref().context("artifact")?;
    assert_eq!(
        artifact.path,
        format!("ocirepository/{}/app/{}.tar.gz", ns.name(), pushed.digest)
    );
    let metadata = artifact.metadata.clone().unwrap_or_default();
    assert_eq!(
        metadata["org.opencontainers.image.revision"],
        "main@sha1:abc"
    );
    assert_eq!(
        condition(&ready, "Ready").map(|c| c.message.as_str()),
        Some(format!("stored artifact for digest '{expected}'").as_str())
    );
    assert!(
        status
            .url
            .as_deref()
            .is_some_and(|u| u.ends_with("/latest.tar.gz"))
    );
    assert_eq!(artifact_files(&controller, &ready)?, ["deploy/app.yaml"]);
    let (code, body) = common::http_get(&artifact.url).await?;
    assert_eq!(code, 200);
    assert_eq!(common::sha256(&body), artifact.digest);
    let (event, _) = wait_event(&cluster.client, ns.name(), "a NewArtifact event", |e| {
        e.reason.as_deref() == Some("NewArtifact")
    })
    .await?;
    assert_eq!(
        event.message.as_deref(),
        Some(
            format!(
                "stored artifact with revision '{expected}' from '{}', origin source 'https://github.com/org/app', origin revision 'main@sha1:abc'",
                registry.oci_url("manifests/app")
            )
            .as_str()
        )
    );
    controller.stop().await
}

#[tokio::test]
async fn a_semver_range_follows_a_newly_pushed_tag_and_a_digest_pins_one() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "oci-semver").await?;
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    let push = |tag: &str| -> anyhow::Result<String> {
        let layer = tar_gz(&[("version.txt", tag.as_bytes())])?;
        Ok(registry.push_artifact("app", tag, layer, "s", tag).digest)
    };
    let first = push("1.0.0")?;
    let second = push("1.1.0")?;
    push("2.0.0-rc.1")?;
    push("latest")?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<OCIRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let url = registry.oci_url("app");
    create(
        &api,
        "ranged",
        &controller.shard,
        json!({"url": url, "ref": {"semver": ">=1.0.0 <2.0.0"}, "insecure": true}),
    )
    .await?;
    create(
        &api,
        "pinned",
        &controller.shard,
        json!({"url": url, "ref": {"digest": first, "tag": "1.1.0"}, "insecure": true}),
    )
    .await?;

    let ranged = wait_ready(&api, "ranged").await?;
    assert_eq!(revision(&ranged), Some(format!("1.1.0@{second}").as_str()));
    let pinned = wait_ready(&api, "pinned").await?;
    assert_eq!(revision(&pinned), Some(first.as_str()));

    let third = push("1.2.0")?;
    api.patch(
        "ranged",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "1"}}}),
        ),
    )
    .await?;
    let moved = wait_for(&api, "ranged", "ranged at 1.2.0", |r| {
        revision(r) == Some(format!("1.2.0@{third}").as_str())
    })
    .await?;
    assert_eq!(artifact_files(&controller, &moved)?, ["version.txt"]);
    controller.stop().await
}

fn docker_secret(registry: &OciRegistry, name: &str, password: &str) -> Secret {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("bot:{password}"));
    let config = json!({"auths": {registry.host(): {"auth": auth}}}).to_string();
    let mut data = BTreeMap::new();
    data.insert(
        ".dockerconfigjson".to_owned(),
        ByteString(config.into_bytes()),
    );
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        type_: Some("kubernetes.io/dockerconfigjson".to_owned()),
        data: Some(data),
        ..Default::default()
    }
}

#[tokio::test]
async fn wrong_credentials_fail_with_fluxs_reason_and_are_never_shown() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "oci-auth").await?;
    let registry = OciRegistry::start(RegistryAuth::Token {
        username: "bot".into(),
        password: "right-password".into(),
    })
    .await?;
    registry.push_artifact(
        "private/app",
        "v1",
        tar_gz(&[("a.yaml", b"a: 1\n")])?,
        "s",
        "r",
    );
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), ns.name());
    secrets
        .create(
            &PostParams::default(),
            &docker_secret(&registry, "wrong", "hunter2-wrong"),
        )
        .await?;
    secrets
        .create(
            &PostParams::default(),
            &docker_secret(&registry, "right", "right-password"),
        )
        .await?;
    let accounts: Api<ServiceAccount> = Api::namespaced(cluster.client.clone(), ns.name());
    let account: ServiceAccount = serde_json::from_value(json!({
        "metadata": {"name": "puller"}, "imagePullSecrets": [{"name": "right"}],
    }))?;
    accounts.create(&PostParams::default(), &account).await?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<OCIRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let url = registry.oci_url("private/app");
    create(
        &api,
        "via-account",
        &controller.shard,
        json!({"url": url, "ref": {"tag": "v1"}, "insecure": true, "serviceAccountName": "puller"}),
    )
    .await?;
    create(
        &api,
        "denied",
        &controller.shard,
        json!({"url": url, "ref": {"tag": "v1"},
        "insecure": true, "secretRef": {"name": "wrong"}}),
    )
    .await?;
    create(
        &api,
        "allowed",
        &controller.shard,
        json!({"url": url, "ref": {"tag": "v1"},
        "insecure": true, "secretRef": {"name": "right"}}),
    )
    .await?;

    let denied = wait_failing(&api, "denied", "OCIArtifactPullFailed").await?;
    let message = condition(&denied, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.starts_with("failed to determine artifact digest: "),
        "{message}"
    );
    assert!(message.contains("UNAUTHORIZED"), "{message}");
    assert_eq!(
        condition(&denied, "FetchFailed").map(|c| c.reason.as_str()),
        Some("OCIArtifactPullFailed")
    );
    wait_ready(&api, "allowed").await?;
    wait_ready(&api, "via-account").await?;
    let objects = serde_json::to_string(&api.list(&ListParams::default()).await?.items)?;
    assert!(!objects.contains("hunter2") && !objects.contains("right-password"));
    let (_, events) = wait_event(
        &cluster.client,
        ns.name(),
        "an OCIArtifactPullFailed event",
        |e| e.reason.as_deref() == Some("OCIArtifactPullFailed"),
    )
    .await?;
    let events = serde_json::to_string(&events)?;
    assert!(!events.contains("hunter2") && !events.contains("right-password"));
    controller.stop().await
}

#[tokio::test]
async fn a_layer_that_does_not_match_its_digest_is_refused_and_nothing_is_stored()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "oci-tamper").await?;
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    let pushed = registry.push_artifact("app", "v1", tar_gz(&[("a.yaml", b"a: 1\n")])?, "s", "r");
    registry.corrupt_blob(
        "app",
        &pushed.layer_digest,
        tar_gz(&[("evil.yaml", b"x: 1\n")])?,
    );
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<OCIRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    create(
        &api,
        "app",
        &controller.shard,
        json!({"url": registry.oci_url("app"), "ref": {"tag": "v1"}, "insecure": true}),
    )
    .await?;

    let failed = wait_failing(&api, "app", "OCIArtifactPullFailed").await?;
    let message = condition(&failed, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(message.contains("failed verification"), "{message}");
    assert!(revision(&failed).is_none());
    assert!(!controller.storage.path().join("ocirepository").join(ns.name()).join("app")
        .read_dir().map(|mut d| d.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "gz"))))
        .unwrap_or(false));
    controller.stop().await
}

#[tokio::test]
async fn copy_keeps_the_layer_verify_stalls_and_a_tagged_url_is_invalid() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "oci-spec").await?;
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    let layer = tar_gz(&[("chart/Chart.yaml", b"name: x\n")])?;
    registry.push_artifact("app", "v1", layer.clone(), "s", "r");
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<OCIRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let url = registry.oci_url("app");
    create(&api, "copied", &controller.shard, json!({"url": url, "ref": {"tag": "v1"},
        "insecure": true, "layerSelector": {"mediaType": "application/vnd.cncf.flux.content.v1.tar+gzip",
        "operation": "copy"}})).await?;
    create(
        &api,
        "verified",
        &controller.shard,
        json!({"url": url, "insecure": true,
        "verify": {"provider": "cosign"}}),
    )
    .await?;
    create(
        &api,
        "tagged",
        &controller.shard,
        json!({"url": format!("{url}:v1"), "insecure": true}),
    )
    .await?;
    create(
        &api,
        "wrong-layer",
        &controller.shard,
        json!({"url": url, "ref": {"tag": "v1"},
        "insecure": true, "layerSelector": {"mediaType": "application/x-other"}}),
    )
    .await?;

    let copied = wait_ready(&api, "copied").await?;
    let artifact = copied
        .status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .context("artifact")?;
    assert_eq!(
        std::fs::read(controller.storage.path().join(&artifact.path))?,
        layer
    );
    let verified = wait_failing(&api, "verified", "VerificationError").await?;
    assert_eq!(
        condition(&verified, "SourceVerified").map(|c| c.status.as_str()),
        Some("False")
    );
    assert_eq!(
        condition(&verified, "Stalled").map(|c| c.status.as_str()),
        Some("True")
    );
    let tagged = wait_failing(&api, "tagged", "URLInvalid").await?;
    assert!(condition(&tagged, "Ready").is_some_and(|c| c.message.contains("remove ':v1'")));
    let wrong = wait_failing(&api, "wrong-layer", "OCIArtifactLayerOperationFailed").await?;
    assert!(
        condition(&wrong, "Ready").is_some_and(|c| c.message
            == "failed to find layer with media type 'application/x-other' in artifact")
    );
    controller.stop().await
}

#[tokio::test]
async fn an_unresponsive_registry_fails_within_spec_timeout() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "oci-silent").await?;
    let silent = testkit::git_server::SilentServer::start().await?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<OCIRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let url = format!("oci://{}/app", silent.addr);
    create(
        &api,
        "app",
        &controller.shard,
        json!({"url": url, "ref": {"tag": "v1"}, "insecure": true, "timeout": "1s"}),
    )
    .await?;
    let failed = wait_failing(&api, "app", "OCIArtifactPullFailed").await?;
    let message = condition(&failed, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert_eq!(
        message,
        format!("failed to pull artifact from '{url}': timed out after 1s (spec.timeout)")
    );
    controller.stop().await
}
