//! GitRepository `spec.verify` end to end: commits and tags signed by real `git commit -S` /
//! `git tag -s` (GnuPG, throwaway keys from crates/git/testdata/signing) served by the loopback
//! git server, verified by the controller against the public keys of a Secret.

// The shared helpers re-export more than this test uses.
#[allow(unused_imports)]
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::*;
use driftless_api::source::GitRepository;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use testkit::TestNamespace;
use testkit::git_server::{GitAuth, GitServer};

const FLUX_SEC: &[u8] = include_bytes!("../../git/testdata/signing/flux.sec.asc");
const FLUX_PUB: &[u8] = include_bytes!("../../git/testdata/signing/flux.pub.asc");
const STRANGER_PUB: &[u8] = include_bytes!("../../git/testdata/signing/stranger.pub.asc");
const FLUX_ID: &str = "A42E5C88FFDDA76B";

/// Runs git with a private GnuPG home holding the signing key.
struct Signer {
    home: tempfile::TempDir,
}

impl Signer {
    fn new() -> anyhow::Result<Signer> {
        let signer = Signer {
            home: tempfile::tempdir()?,
        };
        let key = signer.home.path().join("key.asc");
        std::fs::write(&key, FLUX_SEC)?;
        signer.run("gpg", &["--batch", "--import", &key.to_string_lossy()])?;
        Ok(signer)
    }

    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(program)
            .args(args)
            .env("GNUPGHOME", self.home.path())
            .env("HOME", self.home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Flux Bot")
            .env("GIT_AUTHOR_EMAIL", "flux@example.com")
            .env("GIT_COMMITTER_NAME", "Flux Bot")
            .env("GIT_COMMITTER_EMAIL", "flux@example.com")
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn git(&self, work: &Path, args: &[&str]) -> anyhow::Result<String> {
        let mut all = vec!["-C".to_string(), work.to_string_lossy().into_owned()];
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        self.run("git", &all)
    }
}

impl Drop for Signer {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.home.path())
            .output();
    }
}

/// Branch `signed` (a signed commit, tagged by the signed `v1.0.0`) and `main` (an unsigned
/// commit on top); returns (signed commit, tag object id).
fn signed_history(signer: &Signer, bare: &Path) -> anyhow::Result<(String, String)> {
    let work = tempfile::tempdir()?;
    let w = work.path();
    signer.git(w, &["init", "-q", "--initial-branch=main"])?;
    signer.git(w, &["config", "user.signingkey", FLUX_ID])?;
    std::fs::write(w.join("app.yaml"), "v: 1\n")?;
    signer.git(w, &["add", "-A"])?;
    signer.git(w, &["commit", "-q", "-S", "-m", "signed"])?;
    signer.git(w, &["tag", "-s", "-m", "release", "v1.0.0"])?;
    let signed = signer.git(w, &["rev-parse", "HEAD"])?;
    let tag = signer.git(w, &["rev-parse", "v1.0.0"])?;
    std::fs::write(w.join("app.yaml"), "v: 2\n")?;
    signer.git(w, &["commit", "-q", "-a", "-m", "unsigned"])?;
    let bare = bare.to_string_lossy();
    signer.git(w, &["push", "-q", &bare, "main:refs/heads/main", "--tags"])?;
    signer.git(w, &["push", "-q", &bare, "main~1:refs/heads/signed"])?;
    Ok((signed, tag))
}

async fn key_secret(client: &kube::Client, ns: &str, name: &str, entries: &[(&str, &[u8])]) {
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    };
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await
        .expect("key Secret");
}

#[tokio::test]
async fn signed_commits_and_tags_verify_and_unsigned_or_foreign_ones_get_no_artifact()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-verify").await?;
    let git = GitServer::start(GitAuth::None).await?;
    git.create_repo("signed")?;
    let signer = Signer::new()?;
    let (signed, tag) = signed_history(&signer, &git.repo_path("signed"))?;
    key_secret(
        &cluster.client,
        ns.name(),
        "keys",
        &[("flux.asc", FLUX_PUB), ("other.asc", STRANGER_PUB)],
    )
    .await;
    key_secret(
        &cluster.client,
        ns.name(),
        "strangers",
        &[("s.asc", STRANGER_PUB)],
    )
    .await;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let url = git.url("signed");
    let objects = [
        (
            "head",
            json!({"ref": {"branch": "signed"}, "verify": {"mode": "HEAD", "secretRef": {"name": "keys"}}}),
        ),
        (
            "both",
            json!({"ref": {"tag": "v1.0.0"}, "verify": {"mode": "TagAndHEAD", "secretRef": {"name": "keys"}}}),
        ),
        (
            "unsigned",
            json!({"ref": {"branch": "main"}, "verify": {"secretRef": {"name": "keys"}}}),
        ),
        (
            "foreign",
            json!({"ref": {"branch": "signed"}, "verify": {"mode": "HEAD", "secretRef": {"name": "strangers"}}}),
        ),
        (
            "notag",
            json!({"ref": {"branch": "signed"}, "verify": {"mode": "Tag", "secretRef": {"name": "keys"}}}),
        ),
    ];
    for (name, spec) in objects.iter() {
        create(
            &api,
            &git_repository(name, &controller.shard, &url, spec.clone())?,
        )
        .await?;
    }

    let head = wait_ready(&api, "head", "True", "Succeeded").await?;
    let verified = condition(&head, "SourceVerified").expect("SourceVerified");
    assert_eq!(
        (verified.status.as_str(), verified.reason.as_str()),
        ("True", "Succeeded")
    );
    assert_eq!(
        verified.message,
        format!("verified signature of\n\t- commit '{signed}' with key '{FLUX_ID}'")
    );
    let status = head.status.clone().expect("status");
    assert_eq!(status.source_verification_mode.as_deref(), Some("HEAD"));
    assert_eq!(
        status.artifact.map(|a| a.revision),
        Some(format!("signed@sha1:{signed}"))
    );

    let both = wait_ready(&api, "both", "True", "Succeeded").await?;
    assert_eq!(
        condition(&both, "SourceVerified").map(|c| c.message.clone()),
        Some(format!(
            "verified signature of\n\t- tag 'v1.0.0@sha1:{tag}' with key '{FLUX_ID}'\n\t- commit '{signed}' with key '{FLUX_ID}'"
        ))
    );
    assert_eq!(
        both.status
            .and_then(|s| s.source_verification_mode)
            .as_deref(),
        Some("TagAndHEAD")
    );

    for (name, reason, text) in [
        (
            "unsigned",
            "InvalidCommitSignature",
            "the provided signature is empty",
        ),
        (
            "foreign",
            "InvalidCommitSignature",
            "unable to verify payload with any of the given key rings",
        ),
    ] {
        let failed = wait_failing(&api, name, reason).await?;
        let verified = condition(&failed, "SourceVerified").expect("SourceVerified");
        assert_eq!(verified.status, "False", "{name}");
        assert!(
            verified
                .message
                .starts_with("signature verification of commit '")
                && verified.message.contains(text),
            "{name}: {}",
            verified.message
        );
        assert!(
            failed
                .status
                .as_ref()
                .and_then(|s| s.artifact.as_ref())
                .is_none(),
            "{name}: no artifact of an unverified commit"
        );
    }

    let stalled = wait_ready(&api, "notag", "False", "InvalidVerificationMode").await?;
    assert_eq!(
        condition(&stalled, "Stalled").map(|c| c.status.as_str()),
        Some("True")
    );
    assert_eq!(
        condition(&stalled, "SourceVerified").map(|c| c.message.as_str()),
        Some("cannot verify tag object's signature if a tag reference is not specified")
    );

    // Dropping spec.verify clears the verification state.
    api.patch(
        "head",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Json::<()>(serde_json::from_value(
            json!([{"op": "remove", "path": "/spec/verify"}]),
        )?),
    )
    .await?;
    let plain = wait_ready(&api, "head", "True", "Succeeded").await?;
    assert!(condition(&plain, "SourceVerified").is_none());
    assert!(
        plain
            .status
            .and_then(|s| s.source_verification_mode)
            .is_none()
    );

    for (name, _) in objects.iter() {
        api.delete(name, &DeleteParams::default()).await?;
    }
    wait_all_gone(&api).await?;
    controller.stop().await
}
