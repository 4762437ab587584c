//! ImageUpdateAutomation with `spec.git.commit.signingKey`: the pushed commit carries an
//! OpenPGP signature that GnuPG (`git verify-commit`) accepts; a wrong passphrase fails the
//! run with a clear reason, pushes nothing and never shows the passphrase or the key.
//! Keys: crates/git/testdata/signing (throwaway, see its README).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use driftless_api::image::{ImagePolicy, ImageUpdateAutomation};
use driftless_api::source::GitRepository;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Event, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use testkit::git_server::{GitAuth, GitServer};
use testkit::{TestCluster, TestNamespace};

const SHARD_LABEL: &str = "driftless.test/shard";
const WAIT: Duration = Duration::from_secs(90);
const GUARDED_SEC: &[u8] = include_bytes!("../../git/testdata/signing/guarded.sec.asc");
const GUARDED_PUB: &[u8] = include_bytes!("../../git/testdata/signing/guarded.pub.asc");
const PASSPHRASE: &str = "correct horse";
const WRONG: &str = "never-shown-passphrase-42";

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: driftless_image_automation_controller::Args,
}

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

async fn create<K>(api: &Api<K>, value: Value) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + serde::Serialize,
{
    let obj: K = serde_json::from_value(value)?;
    api.create(&PostParams::default(), &obj).await?;
    Ok(())
}

fn ready(obj: &ImageUpdateAutomation) -> Option<&Condition> {
    obj.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
}

async fn signing_secret(api: &Api<Secret>, passphrase: &str) -> anyhow::Result<()> {
    let data = BTreeMap::from([
        ("git.asc".to_string(), ByteString(GUARDED_SEC.to_vec())),
        (
            "passphrase".to_string(),
            ByteString(passphrase.as_bytes().to_vec()),
        ),
    ]);
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("signing-key".into()),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    };
    api.patch(
        "signing-key",
        &PatchParams::apply("driftless-tests").force(),
        &Patch::Apply(secret),
    )
    .await?;
    Ok(())
}

/// `git verify-commit` of `commit` in the served repository with a fresh GnuPG home that
/// knows only the public key; returns gpg's status lines.
fn gnupg_verify(git: &GitServer, commit: &str) -> anyhow::Result<String> {
    let home = tempfile::tempdir()?;
    let key = home.path().join("pub.asc");
    std::fs::write(&key, GUARDED_PUB)?;
    let import = std::process::Command::new("gpg")
        .args(["--batch", "--import"])
        .arg(&key)
        .env("GNUPGHOME", home.path())
        .output()?;
    anyhow::ensure!(import.status.success(), "gpg --import failed");
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(git.repo_path("fleet"))
        .args(["verify-commit", "--raw", commit])
        .env("GNUPGHOME", home.path())
        .output()?;
    let _ = std::process::Command::new("gpgconf")
        .args(["--kill", "gpg-agent"])
        .env("GNUPGHOME", home.path())
        .output();
    let status = String::from_utf8_lossy(&out.stderr).into_owned();
    anyhow::ensure!(out.status.success(), "git verify-commit: {status}");
    Ok(status)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signing_key_signs_the_pushed_commit_and_a_wrong_passphrase_pushes_nothing()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    for name in [
        "gitrepositories.source.toolkit.fluxcd.io",
        "imagepolicies.image.toolkit.fluxcd.io",
        "imageupdateautomations.image.toolkit.fluxcd.io",
    ] {
        let crd = driftless_api::crds()
            .into_iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .with_context(|| format!("{name} is among driftless_api::crds()"))?;
        testkit::install_crd(&cluster.client, &crd, "driftless-image-automation-tests").await?;
    }
    let ns = TestNamespace::create(&cluster, "iac-sign").await?;
    let namespace = ns.name().to_string();
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("fleet")?;
    git.allow_push("fleet")?;
    let manifest =
        format!("image: registry.example/app:1.0.0 # {{\"$imagepolicy\": \"{namespace}:app\"}}\n");
    let base = repo.commit_files("main", &[("app.yaml", manifest.as_str())], "base")?;

    let client = cluster.client.clone();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    signing_secret(&secrets, WRONG).await?;
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), &namespace);
    create(
        &repos,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "fleet"},
            "spec": {"url": git.url("fleet"), "interval": "1h", "ref": {"branch": "main"}},
        }),
    )
    .await?;
    let policies: Api<ImagePolicy> = Api::namespaced(client.clone(), &namespace);
    create(
        &policies,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
            "metadata": {"name": "app"},
            "spec": {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": "1.x"}}},
        }),
    )
    .await?;
    policies
        .patch_status(
            "app",
            &PatchParams::apply("image-reflector-controller").force(),
            &Patch::Apply(json!({
                "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
                "status": {"latestRef": {"name": "registry.example/app", "tag": "1.0.1"}},
            })),
        )
        .await?;

    let _stop = start_controller(&cluster, &namespace).await?;
    let automations: Api<ImageUpdateAutomation> = Api::namespaced(client.clone(), &namespace);
    create(
        &automations,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
            "metadata": {"name": "app-update", "labels": {SHARD_LABEL: namespace}},
            "spec": {
                "interval": "1h",
                "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                "git": {
                    "commit": {
                        "author": {"name": "fluxbot", "email": "fluxbot@example.invalid"},
                        "signingKey": {"secretRef": {"name": "signing-key"}},
                    },
                    "push": {"branch": "main"},
                },
                "update": {"path": "./", "strategy": "Setters"},
            },
        }),
    )
    .await?;

    // The wrong passphrase: Ready=False naming the Secret and key, nothing pushed.
    let failed =
        testkit::wait::object(&automations, "app-update", WAIT, "a signing failure", |a| {
            ready(a).is_some_and(|c| c.status == "False")
        })
        .await?;
    let condition = ready(&failed).context("Ready")?;
    assert_eq!(condition.reason, "InvalidSourceConfiguration");
    assert!(
        condition.message.contains("signing key Secret")
            && condition.message.contains("584E0A9B794A8C09"),
        "{}",
        condition.message
    );
    let status_json = serde_json::to_string(&failed.status)?;
    assert!(!status_json.contains(WRONG) && !status_json.contains("PRIVATE KEY"));
    assert_eq!(
        git.git_in_repo("fleet", &["rev-parse", "main"])?.trim(),
        base,
        "nothing pushed"
    );
    let events: Api<Event> = Api::namespaced(client.clone(), &namespace);
    let listed = serde_json::to_string(&events.list(&ListParams::default()).await?.items)?;
    assert!(!listed.contains(WRONG) && !listed.contains("PRIVATE KEY"));

    // The right passphrase: the pushed commit is signed and GnuPG accepts it.
    signing_secret(&secrets, PASSPHRASE).await?;
    automations
        .patch(
            "app-update",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "signed"}}}),
            ),
        )
        .await?;
    let pushed = testkit::wait::object(&automations, "app-update", WAIT, "a signed push", |a| {
        a.status
            .as_ref()
            .is_some_and(|s| s.last_push_commit.is_some())
            && ready(a).is_some_and(|c| c.status == "True")
    })
    .await?;
    let head = git.git_in_repo("fleet", &["rev-parse", "main"])?;
    let head = head.trim();
    assert_eq!(
        pushed.status.and_then(|s| s.last_push_commit).as_deref(),
        Some(head)
    );
    let verified = gnupg_verify(&git, head)?;
    assert!(verified.contains("GOODSIG 584E0A9B794A8C09"), "{verified}");
    git.git_in_repo("fleet", &["fsck", "--strict", "--no-dangling"])?;

    // Let the controller release the object before it stops, so the namespace can go.
    automations
        .delete("app-update", &DeleteParams::default())
        .await?;
    testkit::wait::until(WAIT, "app-update deleted", || {
        let automations = automations.clone();
        async move {
            match automations
                .get_opt("app-update")
                .await
                .map_err(|e| e.to_string())?
            {
                None => Ok(Some(())),
                Some(_) => Err("still present".to_string()),
            }
        }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    Ok(())
}
