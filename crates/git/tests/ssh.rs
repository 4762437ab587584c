//! Fetch and push over SSH against a private OpenSSH server on loopback serving the bare
//! repositories of a `git http-backend` test server (same repos, second protocol).
#![allow(clippy::panic)]

use std::time::Duration;

use driftless_git::{
    Auth, CheckoutOptions, Clone, CloneOptions, CommitMessage, FileChange, GitError, Outcome,
    PushOptions, PushTarget, Reference, Signature, checkout, clone_branch, ls_remote, push,
};
use testkit::git_server::{GitAuth, GitServer, TestRepo};
use testkit::ssh_server::{KeyPair, SshServer, generate_key, generate_pem_key};

struct Fixture {
    http: GitServer,
    ssh: SshServer,
    repo: TestRepo,
}

impl Fixture {
    fn url(&self) -> String {
        self.ssh.url(&self.http.repo_path("fleet"))
    }

    fn auth(&self) -> Auth {
        auth_with(&self.ssh.client_key().private, &self.ssh.known_hosts())
    }
}

/// `None` (after a loud message) only outside CI on a machine without sshd.
async fn fixture() -> Option<Fixture> {
    let ssh = SshServer::start_or_skip().expect("sshd starts")?;
    let http = GitServer::start(GitAuth::None).await.expect("git server");
    let repo = http.create_repo("fleet").expect("repo");
    repo.commit_files("main", &[("app/deploy.yaml", "image: app:1.0.0\n")], "base")
        .expect("commit");
    Some(Fixture { http, ssh, repo })
}

fn auth_with(identity: &str, known_hosts: &str) -> Auth {
    Auth {
        ssh_identity: Some(identity.as_bytes().to_vec()),
        ssh_known_hosts: Some(known_hosts.as_bytes().to_vec()),
        ..Auth::default()
    }
}

async fn checkout_main(url: String, auth: Auth) -> Result<(Outcome, tempfile::TempDir), GitError> {
    let dest = tempfile::tempdir().expect("tempdir");
    let path = dest.path().to_path_buf();
    let options = CheckoutOptions {
        reference: Reference::branch("main"),
        auth,
        timeout: Duration::from_secs(30),
        ..CheckoutOptions::default()
    };
    tokio::task::spawn_blocking(move || checkout(&url, &path, &options))
        .await
        .expect("checkout thread")
        .map(|outcome| (outcome, dest))
}

fn revision(outcome: &Outcome) -> String {
    match outcome {
        Outcome::CheckedOut { commit, .. } => commit.revision.clone(),
        Outcome::Unchanged { revision } => panic!("unexpected no-op at {revision}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_branch_is_checked_out_over_ssh_with_the_flux_revision() -> anyhow::Result<()> {
    let Some(f) = fixture().await else {
        return Ok(());
    };
    let head = f.repo.rev_parse("main")?;
    let (outcome, dest) = checkout_main(f.url(), f.auth()).await?;
    assert_eq!(revision(&outcome), format!("main@sha1:{head}"));
    assert_eq!(
        std::fs::read_to_string(dest.path().join("app/deploy.yaml"))?,
        "image: app:1.0.0\n"
    );
    let url = f.url();
    let auth = f.auth();
    let refs = tokio::task::spawn_blocking(move || ls_remote(&url, &auth, Duration::from_secs(30)))
        .await??;
    assert!(
        refs.iter()
            .any(|r| r.name == "refs/heads/main" && r.target == head),
        "{refs:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ecdsa_rsa_pem_and_passphrase_protected_identities_authenticate() -> anyhow::Result<()> {
    let Some(f) = fixture().await else {
        return Ok(());
    };
    let cases: Vec<(&str, KeyPair, Option<&str>)> = vec![
        ("ecdsa", generate_key("ecdsa", None)?, None),
        ("rsa", generate_key("rsa", None)?, None),
        ("rsa-pem", generate_pem_key("rsa", None)?, None),
        (
            "ed25519-encrypted",
            generate_key("ed25519", Some("open sesame"))?,
            Some("open sesame"),
        ),
    ];
    for (name, key, password) in cases {
        f.ssh.authorize(&key.public)?;
        let mut auth = auth_with(&key.private, &f.ssh.known_hosts());
        auth.ssh_password = password.map(str::to_string);
        let result = checkout_main(f.url(), auth).await;
        assert!(result.is_ok(), "{name}: {:?}", result.err());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encrypted_identity_without_its_password_is_an_auth_error() -> anyhow::Result<()> {
    let Some(f) = fixture().await else {
        return Ok(());
    };
    let key = generate_key("ed25519", Some("pw"))?;
    let err = checkout_main(f.url(), auth_with(&key.private, &f.ssh.known_hosts()))
        .await
        .expect_err("no password");
    assert_eq!(err.reason(), "AuthenticationFailed", "{err}");
    assert!(err.to_string().contains("encrypted"), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_key_not_in_known_hosts_is_refused_naming_host_and_fingerprint() -> anyhow::Result<()>
{
    let Some(f) = fixture().await else {
        return Ok(());
    };
    let other = generate_key("ed25519", None)?;
    let other_key: Vec<&str> = other.public.split_whitespace().take(2).collect();
    let port = f.ssh.port();
    // Listed with another key: a mismatch.
    let wrong = format!("[127.0.0.1]:{port} {}\n", other_key.join(" "));
    let err = checkout_main(f.url(), auth_with(&f.ssh.client_key().private, &wrong))
        .await
        .expect_err("mismatch");
    let text = err.to_string();
    assert!(matches!(err, GitError::HostKey { .. }), "{text}");
    assert!(text.contains(&format!("[127.0.0.1]:{port}")), "{text}");
    assert!(text.contains("mismatch"), "{text}");
    assert!(text.contains("SHA256:"), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    // Listed only for the default port: unknown, no trust on first use.
    let unknown = format!("127.0.0.1 {}\n", f.ssh.host_public_key());
    let err = checkout_main(f.url(), auth_with(&f.ssh.client_key().private, &unknown))
        .await
        .expect_err("unknown host");
    assert!(err.to_string().contains("not in known_hosts"), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_the_server_does_not_accept_is_an_authentication_failure() -> anyhow::Result<()> {
    let Some(f) = fixture().await else {
        return Ok(());
    };
    let stranger = generate_key("ed25519", None)?;
    let err = checkout_main(f.url(), auth_with(&stranger.private, &f.ssh.known_hosts()))
        .await
        .expect_err("refused");
    assert_eq!(err.reason(), "AuthenticationFailed", "{err}");
    assert!(
        err.to_string()
            .contains("refused the ssh-ed25519 key SHA256:"),
        "{err}"
    );
    assert!(!err.to_string().contains(&stranger.private), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_repository_reports_what_the_server_said() -> anyhow::Result<()> {
    let Some(f) = fixture().await else {
        return Ok(());
    };
    let url = f.ssh.url(&f.http.repo_path("nope"));
    let err = checkout_main(url, f.auth()).await.expect_err("no repo");
    assert!(
        err.to_string()
            .contains("does not appear to be a git repository"),
        "{err}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_ssh_keys_are_refused_before_connecting() -> anyhow::Result<()> {
    let url = "ssh://git@127.0.0.1:1/repo.git".to_string();
    let no_hosts = Auth {
        ssh_identity: Some(b"key".to_vec()),
        ..Auth::default()
    };
    let err = checkout_main(url.clone(), no_hosts)
        .await
        .expect_err("no known_hosts");
    assert!(
        err.to_string().contains("'known_hosts' is required"),
        "{err}"
    );
    let err = checkout_main(url, Auth::default())
        .await
        .expect_err("no identity");
    assert!(err.to_string().contains("'identity' is required"), "{err}");
    Ok(())
}

fn message(text: &str) -> CommitMessage {
    let who = Signature {
        name: "fluxcdbot".into(),
        email: "fluxcdbot@users.noreply.github.com".into(),
        time: 1_700_000_000,
    };
    CommitMessage {
        author: who.clone(),
        committer: who,
        message: text.into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commit_is_pushed_over_ssh_and_a_stale_clone_is_rejected() -> anyhow::Result<()> {
    let Some(f) = fixture().await else {
        return Ok(());
    };
    let options = CloneOptions {
        auth: f.auth(),
        timeout: Duration::from_secs(30),
        ..CloneOptions::default()
    };
    let (dir, stale_dir) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let url = f.url();
    let (mut clone, mut stale): (Clone, Clone) = tokio::task::block_in_place(|| {
        Ok::<_, GitError>((
            clone_branch(&url, "main", dir.path(), &options)?,
            clone_branch(&url, "main", stale_dir.path(), &options)?,
        ))
    })?;
    let change = |v: &str| FileChange::Write {
        path: "app/deploy.yaml".into(),
        contents: format!("image: app:{v}\n").into_bytes(),
    };
    let commit = clone
        .commit(&[change("1.0.1")], &message("Update app to 1.0.1"))?
        .expect("a commit");
    let pushed = tokio::task::block_in_place(|| {
        push(
            &clone,
            &[PushTarget::branch("main")],
            &PushOptions::default(),
        )
    })?;
    assert_eq!(pushed.commit, commit.id);
    assert_eq!(
        f.http.git_in_repo("fleet", &["rev-parse", "main"])?.trim(),
        commit.id
    );
    assert_eq!(
        f.http
            .git_in_repo("fleet", &["show", "main:app/deploy.yaml"])?,
        "image: app:1.0.1\n"
    );
    stale
        .commit(&[change("9.9.9")], &message("stale"))?
        .expect("a commit");
    let err = tokio::task::block_in_place(|| {
        push(
            &stale,
            &[PushTarget::branch("main")],
            &PushOptions::default(),
        )
    })
    .expect_err("non-fast-forward");
    assert!(err.remote_moved(), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scanned_host_key_is_the_servers_and_a_public_key_is_derived_from_the_identity()
-> anyhow::Result<()> {
    let Some(f) = fixture().await else {
        return Ok(());
    };
    let url = f.url();
    let scanned = tokio::task::spawn_blocking(move || {
        driftless_git::scan_known_hosts(&url, Duration::from_secs(30))
    })
    .await??;
    assert_eq!(scanned, f.ssh.known_hosts());
    let public = driftless_git::identity_public_key(f.ssh.client_key().private.as_bytes(), None)?;
    let expected: Vec<&str> = f
        .ssh
        .client_key()
        .public
        .split_whitespace()
        .take(2)
        .collect();
    assert!(public.starts_with(&expected.join(" ")), "{public}");
    Ok(())
}
