//! ImageUpdateAutomation pushing over SSH: the GitRepository's Secret carries Flux's SSH keys
//! and a private sshd on loopback serves the test git server's bare repository.

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use driftless_api::image::{ImagePolicy, ImageUpdateAutomation};
use driftless_api::source::GitRepository;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use testkit::git_server::{GitAuth, GitServer};
use testkit::ssh_server::SshServer;
use testkit::{TestCluster, TestNamespace};

const SHARD_LABEL: &str = "driftless.test/shard";
const WAIT: Duration = Duration::from_secs(90);
const CRDS: [&str; 3] = [
    "gitrepositories.source.toolkit.fluxcd.io",
    "imagepolicies.image.toolkit.fluxcd.io",
    "imageupdateautomations.image.toolkit.fluxcd.io",
];

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: driftless_image_automation_controller::Args,
}

async fn install_crds(client: &kube::Client) -> anyhow::Result<()> {
    for name in CRDS {
        let crd = driftless_api::crds()
            .into_iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .with_context(|| format!("{name} is among driftless_api::crds()"))?;
        testkit::install_crd(client, &crd, "driftless-image-automation-tests").await?;
    }
    Ok(())
}

/// Runs the controller on this test's shard until the returned sender is dropped.
async fn start_controller(
    cluster: &TestCluster,
    shard: &str,
) -> anyhow::Result<tokio::sync::oneshot::Sender<()>> {
    let args = Cli::try_parse_from([
        "image-automation-controller".to_string(),
        "--metrics-addr=0".into(),
        "--health-addr=0".into(),
        format!("--watch-label-selector={SHARD_LABEL}={shard}"),
        "--min-retry-delay=100ms".into(),
        "--max-retry-delay=2s".into(),
    ])?
    .args;
    let config = cluster.plane.config().await?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(driftless_image_automation_controller::run(
        args,
        config,
        async move {
            let _ = rx.await;
        },
    ));
    Ok(tx)
}

async fn set_latest(api: &Api<ImagePolicy>, name: &str, tag: &str) -> anyhow::Result<()> {
    let status = json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImagePolicy",
        "status": {"latestRef": {"name": "registry.example/podinfo", "tag": tag}},
    });
    api.patch_status(
        name,
        &PatchParams::apply("image-reflector-controller").force(),
        &Patch::Apply(status),
    )
    .await?;
    Ok(())
}

async fn create<K>(api: &Api<K>, value: Value) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + serde::Serialize,
{
    let obj: K = serde_json::from_value(value)?;
    api.create(&PostParams::default(), &obj).await?;
    Ok(())
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo # keep this comment
spec:
  template:
    spec:
      containers:
        - name: podinfo
          image: \"registry.example/podinfo:1.2.3\" # {\"$imagepolicy\": \"NS:podinfo\"}
";

#[tokio::test(flavor = "multi_thread")]
async fn an_update_is_pushed_over_ssh_with_the_gitrepository_identity_and_known_hosts()
-> anyhow::Result<()> {
    let Some(ssh) = SshServer::start_or_skip()? else {
        return Ok(());
    };
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "iac-ssh").await?;
    let namespace = ns.name().to_string();
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("fleet")?;
    let deployment = DEPLOYMENT.replace("NS", &namespace);
    let base = repo.commit_files("main", &[("podinfo.yaml", deployment.as_str())], "base")?;

    let client = cluster.client.clone();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), &namespace);
    let key = ssh.client_key();
    create(
        &secrets,
        json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "git-ssh"},
            "stringData": {
                "identity": key.private, "identity.pub": key.public,
                "known_hosts": ssh.known_hosts(),
            },
        }),
    )
    .await?;
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), &namespace);
    create(
        &repos,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "fleet"},
            "spec": {"url": ssh.url(&git.repo_path("fleet")), "interval": "1h",
                     "ref": {"branch": "main"}, "secretRef": {"name": "git-ssh"}},
        }),
    )
    .await?;
    let policies: Api<ImagePolicy> = Api::namespaced(client.clone(), &namespace);
    create(
        &policies,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
            "metadata": {"name": "podinfo"},
            "spec": {"imageRepositoryRef": {"name": "podinfo"}, "policy": {"semver": {"range": "1.x"}}},
        }),
    )
    .await?;
    set_latest(&policies, "podinfo", "1.2.4").await?;
    let _stop = start_controller(&cluster, &namespace).await?;
    let automations: Api<ImageUpdateAutomation> = Api::namespaced(client.clone(), &namespace);
    create(
        &automations,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
            "metadata": {"name": "auto", "labels": {SHARD_LABEL: namespace}},
            "spec": {
                "interval": "1h",
                "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                "git": {"commit": {"author": {"email": "bot@example.invalid"}}},
            },
        }),
    )
    .await?;

    let pushed = testkit::wait::object(&automations, "auto", WAIT, "a push over SSH", |a| {
        a.status
            .as_ref()
            .is_some_and(|s| s.last_push_commit.is_some())
    })
    .await?;
    let head = git.git_in_repo("fleet", &["rev-parse", "main"])?;
    assert_ne!(head.trim(), base);
    assert_eq!(
        pushed
            .status
            .as_ref()
            .and_then(|s| s.last_push_commit.as_deref()),
        Some(head.trim())
    );
    assert!(
        git.git_in_repo("fleet", &["show", "main:podinfo.yaml"])?
            .contains("registry.example/podinfo:1.2.4"),
    );
    Ok(())
}
