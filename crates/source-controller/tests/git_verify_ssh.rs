//! GitRepository `spec.verify` with SSH signatures end to end: a commit and a tag signed by
//! real `git -c gpg.format=ssh` with a throwaway `ssh-keygen` key, served by the loopback git
//! server, verified by the controller against a Secret holding `.sshpub` (and `.asc`) keys.

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

const FLUX_PUB: &[u8] = include_bytes!("../../git/testdata/signing/flux.pub.asc");

/// A home with SSH key pairs; git runs with no system or global config.
struct Signer {
    home: tempfile::TempDir,
}

impl Signer {
    fn new() -> anyhow::Result<Signer> {
        Ok(Signer {
            home: tempfile::tempdir()?,
        })
    }

    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(program)
            .args(args)
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

    /// An ed25519 key pair `name`: (private key path, public key line, SHA256 fingerprint).
    fn key(&self, name: &str) -> anyhow::Result<(String, String, String)> {
        let private = self.home.path().join(name).to_string_lossy().into_owned();
        self.run(
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", &private],
        )?;
        let public = std::fs::read_to_string(format!("{private}.pub"))?;
        let listed = self.run("ssh-keygen", &["-l", "-f", &format!("{private}.pub")])?;
        let fingerprint = listed
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        Ok((private, public, fingerprint))
    }

    fn git(&self, work: &Path, args: &[&str]) -> anyhow::Result<String> {
        let mut all = vec!["-C".to_string(), work.to_string_lossy().into_owned()];
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        self.run("git", &all)
    }
}

/// Branch `main` with one commit signed by `key`, tagged by the signed `v1.0.0`; returns
/// (commit, tag object id).
fn ssh_signed_history(signer: &Signer, key: &str, bare: &Path) -> anyhow::Result<(String, String)> {
    let work = tempfile::tempdir()?;
    let w = work.path();
    signer.git(w, &["init", "-q", "--initial-branch=main"])?;
    signer.git(w, &["config", "gpg.format", "ssh"])?;
    signer.git(w, &["config", "user.signingkey", key])?;
    std::fs::write(w.join("app.yaml"), "v: 1\n")?;
    signer.git(w, &["add", "-A"])?;
    signer.git(w, &["commit", "-q", "-S", "-m", "signed with ssh"])?;
    signer.git(w, &["tag", "-s", "-m", "release", "v1.0.0"])?;
    let commit = signer.git(w, &["rev-parse", "HEAD"])?;
    let tag = signer.git(w, &["rev-parse", "v1.0.0"])?;
    let bare = bare.to_string_lossy();
    signer.git(w, &["push", "-q", &bare, "main:refs/heads/main", "--tags"])?;
    Ok((commit, tag))
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
async fn ssh_signed_commits_and_tags_verify_with_the_key_fingerprint_and_untrusted_ones_get_no_artifact()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-verify-ssh").await?;
    let git = GitServer::start(GitAuth::None).await?;
    git.create_repo("ssh-signed")?;
    let signer = Signer::new()?;
    let (author, author_pub, fingerprint) = signer.key("author")?;
    let (_, stranger_pub, _) = signer.key("stranger")?;
    let (commit, tag) = ssh_signed_history(&signer, &author, &git.repo_path("ssh-signed"))?;
    key_secret(
        &cluster.client,
        ns.name(),
        "keys",
        &[
            ("flux.asc", FLUX_PUB),
            ("author.sshpub", author_pub.as_bytes()),
        ],
    )
    .await;
    key_secret(
        &cluster.client,
        ns.name(),
        "strangers",
        &[("stranger.sshpub", stranger_pub.as_bytes())],
    )
    .await;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let url = git.url("ssh-signed");
    let objects = [
        (
            "head",
            json!({"ref": {"branch": "main"}, "verify": {"mode": "HEAD", "secretRef": {"name": "keys"}}}),
        ),
        (
            "both",
            json!({"ref": {"tag": "v1.0.0"}, "verify": {"mode": "TagAndHEAD", "secretRef": {"name": "keys"}}}),
        ),
        (
            "untrusted",
            json!({"ref": {"branch": "main"}, "verify": {"mode": "HEAD", "secretRef": {"name": "strangers"}}}),
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
    assert!(fingerprint.starts_with("SHA256:"), "{fingerprint}");
    assert_eq!(
        verified.message,
        format!("verified signature of\n\t- commit '{commit}' with key '{fingerprint}'")
    );
    let status = head.status.clone().expect("status");
    assert_eq!(status.source_verification_mode.as_deref(), Some("HEAD"));
    assert_eq!(
        status.artifact.map(|a| a.revision),
        Some(format!("main@sha1:{commit}"))
    );

    let both = wait_ready(&api, "both", "True", "Succeeded").await?;
    assert_eq!(
        condition(&both, "SourceVerified").map(|c| c.message.clone()),
        Some(format!(
            "verified signature of\n\t- tag 'v1.0.0@sha1:{tag}' with key '{fingerprint}'\n\t- commit '{commit}' with key '{fingerprint}'"
        ))
    );

    let failed = wait_failing(&api, "untrusted", "InvalidCommitSignature").await?;
    let verified = condition(&failed, "SourceVerified").expect("SourceVerified");
    assert_eq!(verified.status, "False");
    assert_eq!(
        verified.message,
        format!(
            "signature verification of commit '{commit}' failed: unable to verify Git commit SSH signature: unable to verify payload with any of the given authorized keys: the signature was made by key {fingerprint}, which is not among them"
        )
    );
    assert!(
        failed
            .status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .is_none(),
        "no artifact of an unverified commit"
    );

    for (name, _) in objects.iter() {
        api.delete(name, &DeleteParams::default()).await?;
    }
    wait_all_gone(&api).await?;
    controller.stop().await
}
