//! OpenPGP signatures against the real tools: commits we sign are accepted by
//! `git verify-commit` (GnuPG), and commits and tags signed by `git commit -S` / `git tag -s`
//! verify with our key ring after a checkout through the loopback server.
//! Keys: testdata/signing (see its README for how they were made).

use std::path::{Path, PathBuf};

use driftless_git::{
    CloneOptions, CommitMessage, FileChange, PushOptions, PushTarget, Reference, Signature,
    SigningKey, VerifyError, clone_branch, push,
};
use testkit::git_server::{GitAuth, GitServer};

mod tools;

use tools::{checked_out, keys};

const FLUX_PUB: &[u8] = include_bytes!("../testdata/signing/flux.pub.asc");
const FLUX_SEC: &[u8] = include_bytes!("../testdata/signing/flux.sec.asc");
const GUARDED_PUB: &[u8] = include_bytes!("../testdata/signing/guarded.pub.asc");
const GUARDED_SEC: &[u8] = include_bytes!("../testdata/signing/guarded.sec.asc");
const STRANGER_PUB: &[u8] = include_bytes!("../testdata/signing/stranger.pub.asc");
const FLUX_ID: &str = "A42E5C88FFDDA76B";

/// A throwaway GnuPG home (see `tools`).
type GnupgHome = tools::ToolHome;

fn message(text: &str) -> CommitMessage {
    let who = Signature {
        name: "Flux Bot".into(),
        email: "flux@example.com".into(),
        // gpg refuses signatures older than the key (made when the fixtures were).
        time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs() as i64,
    };
    CommitMessage {
        author: who.clone(),
        committer: who,
        message: text.into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn commits_we_sign_pass_git_verify_commit_with_gnupg() -> anyhow::Result<()> {
    let server = GitServer::start(GitAuth::None).await?;
    let repo = server.create_repo("signed")?;
    server.allow_push("signed")?;
    repo.commit_files("main", &[("app.yaml", "image: app:1.0.0\n")], "base")?;
    let dir = tempfile::tempdir()?;
    let url = server.url("signed");
    let key = SigningKey::from_armored(GUARDED_SEC, Some(b"correct horse"))?;
    let commit = tokio::task::block_in_place(|| {
        let mut clone = clone_branch(&url, "main", dir.path(), &CloneOptions::default())?;
        let commit = clone
            .commit_signed(
                &[FileChange::Write {
                    path: "app.yaml".into(),
                    contents: b"image: app:1.0.1\n".to_vec(),
                }],
                &message("Update app to 1.0.1\n"),
                Some(&key),
            )?
            .expect("a commit");
        push(
            &clone,
            &[PushTarget::branch("main")],
            &PushOptions::default(),
        )?;
        anyhow::Ok(commit)
    })?;

    let gnupg = GnupgHome::with(&[GUARDED_PUB]);
    let bare = server.repo_path("signed");
    let out = gnupg
        .command(
            "git",
            &[
                "-C",
                bare.to_str().expect("utf-8"),
                "verify-commit",
                "--raw",
                &commit.id,
            ],
        )
        .output()?;
    let status = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "git verify-commit: {status}");
    assert!(status.contains("GOODSIG 584E0A9B794A8C09"), "{status}");
    server.git_in_repo("signed", &["fsck", "--strict", "--no-dangling"])?;

    // The same commit, read back through a checkout, verifies with our own key ring too.
    let raw = server.git_in_repo("signed", &["cat-file", "commit", &commit.id])?;
    let ring = keys(&[("guarded.asc", GUARDED_PUB)]);
    assert_eq!(ring.verify_commit(raw.as_bytes())?, "584E0A9B794A8C09");
    Ok(())
}

/// A work tree with commits and tags signed by real `git -S` / `git tag -s`, pushed to `bare`.
fn signed_history(gnupg: &GnupgHome, work: &Path, bare: &Path) {
    let bare = bare.to_str().expect("utf-8");
    gnupg.git(
        Path::new("."),
        &[
            "init",
            "-q",
            "--initial-branch=main",
            work.to_str().expect("utf-8"),
        ],
    );
    gnupg.git(work, &["config", "user.signingkey", FLUX_ID]);
    std::fs::write(work.join("app.yaml"), "v: 1\n").expect("write");
    gnupg.git(work, &["add", "-A"]);
    gnupg.git(work, &["commit", "-q", "-S", "-m", "signed by git"]);
    gnupg.git(work, &["tag", "-s", "-m", "release v1.0.0", "v1.0.0"]);
    gnupg.git(work, &["tag", "-a", "-m", "unsigned release", "v1.0.1"]);
    std::fs::write(work.join("app.yaml"), "v: 2\n").expect("write");
    gnupg.git(work, &["commit", "-q", "-a", "-m", "unsigned"]);
    gnupg.git(
        work,
        &["push", "-q", bare, "main:refs/heads/main", "--tags"],
    );
    gnupg.git(work, &["push", "-q", bare, "main~1:refs/heads/signed"]);
}

fn bare_path(server: &GitServer, name: &str) -> PathBuf {
    server.repo_path(name)
}

#[tokio::test(flavor = "multi_thread")]
async fn commits_and_tags_signed_by_git_verify_after_checkout_and_others_do_not()
-> anyhow::Result<()> {
    let server = GitServer::start(GitAuth::None).await?;
    server.create_repo("history")?;
    let gnupg = GnupgHome::with(&[FLUX_SEC]);
    let work = tempfile::tempdir()?;
    signed_history(
        &gnupg,
        &work.path().join("w"),
        &bare_path(&server, "history"),
    );
    let url = server.url("history");
    let trusted = keys(&[("flux.asc", FLUX_PUB), ("other.asc", STRANGER_PUB)]);
    let strangers = keys(&[("stranger.asc", STRANGER_PUB)]);

    let signed = checked_out(
        &url,
        Reference {
            branch: Some("signed".into()),
            ..Reference::default()
        },
    );
    assert!(signed.signed.tag.is_none());
    assert_eq!(trusted.verify_commit(&signed.signed.commit)?, FLUX_ID);
    assert_eq!(
        strangers.verify_commit(&signed.signed.commit),
        Err(VerifyError::NoMatchingKey)
    );

    let unsigned = checked_out(
        &url,
        Reference {
            branch: Some("main".into()),
            ..Reference::default()
        },
    );
    assert_eq!(
        trusted.verify_commit(&unsigned.signed.commit),
        Err(VerifyError::Unsigned)
    );

    let tagged = checked_out(
        &url,
        Reference {
            tag: Some("v1.0.0".into()),
            ..Reference::default()
        },
    );
    let tag = tagged.signed.tag.as_ref().expect("tag kept");
    assert_eq!(tag.name, "v1.0.0");
    assert_eq!(
        tag.id,
        server
            .git_in_repo("history", &["rev-parse", "v1.0.0"])?
            .trim()
    );
    assert_eq!(
        trusted.verify_tag(tag.content.as_deref().expect("annotated"))?,
        FLUX_ID
    );
    assert_eq!(tagged.id, signed.id);

    // Semver picks v1.0.1: annotated but unsigned.
    let picked = checked_out(
        &url,
        Reference {
            semver: Some(">=1.0.0".into()),
            ..Reference::default()
        },
    );
    let tag = picked.signed.tag.as_ref().expect("tag kept");
    assert_eq!(tag.name, "v1.0.1");
    assert!(!driftless_git::verify::tag_is_signed(
        tag.content.as_deref().expect("annotated")
    ));
    Ok(())
}

#[test]
fn a_tampered_commit_no_longer_verifies() {
    let key = SigningKey::from_armored(FLUX_SEC, None).expect("key");
    let payload = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor a <a> 1 +0000\ncommitter a <a> 1 +0000\n\nmsg\n";
    let signature = key.detached(payload, 1).expect("sign");
    let ring = keys(&[("flux.asc", FLUX_PUB)]);
    assert_eq!(
        ring.verify(signature.as_bytes(), payload),
        Ok(FLUX_ID.to_string())
    );
    let mut tampered = payload.to_vec();
    let at = tampered.len() - 2;
    tampered[at] = b'X';
    assert_eq!(
        ring.verify(signature.as_bytes(), &tampered),
        Err(VerifyError::NoMatchingKey)
    );
}
