//! OpenPGP signatures against the real tools: commits we sign are accepted by
//! `git verify-commit` (GnuPG), and commits and tags signed by `git commit -S` / `git tag -s`
//! verify with our key ring after a checkout through the loopback server.
//! Keys: testdata/signing (see its README for how they were made).

use std::path::{Path, PathBuf};

use driftless_git::verify::KeyProblem;
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
const STRANGER_SEC: &[u8] = include_bytes!("../testdata/signing/stranger.sec.asc");
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

// Key validity. Keys are made by gpg in a throwaway home; `--faked-system-time` lets gpg make
// and use a key in 2020 so that it has expired by now, as gpg itself then reports
// (`EXPKEYSIG`, `REVKEYSIG`: git refuses both).

/// 2020-01-01 and 2020-06-01, as gpg's `--faked-system-time` takes them.
const JAN_2020: &str = "1577836800";
const JUN_2020: &str = "1590969600";

impl GnupgHome {
    /// gpg without prompts, at the faked time `at` if given.
    fn gpg(&self, at: Option<&str>, args: &[&str]) -> String {
        let mut all = vec![
            "--batch",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ];
        if let Some(at) = at {
            all.extend(["--faked-system-time", at]);
        }
        all.extend_from_slice(args);
        self.run("gpg", &all)
    }

    /// Field `field` of the first `kind` record (`fpr`, `sub`…) of `uid` in `--with-colons`.
    fn colons(&self, uid: &str, kind: &str, field: usize) -> String {
        let listing = self.run("gpg", &["--with-colons", "--list-keys", uid]);
        listing
            .lines()
            .find(|l| l.starts_with(&format!("{kind}:")))
            .and_then(|l| l.split(':').nth(field))
            .expect("record")
            .to_string()
    }

    fn fingerprint(&self, uid: &str) -> String {
        self.colons(uid, "fpr", 9)
    }

    /// A detached armored signature of `payload` by exactly `signer` (`!`: no subkey choice).
    fn sign(&self, at: Option<&str>, signer: &str, payload: &[u8]) -> Vec<u8> {
        let file = self.dir.path().join("payload");
        std::fs::write(&file, payload).expect("payload");
        let out = self.dir.path().join("payload.asc");
        let signer = format!("{signer}!");
        self.gpg(
            at,
            &[
                "--armor",
                "--detach-sign",
                "-u",
                &signer,
                "-o",
                out.to_str().expect("utf-8"),
                file.to_str().expect("utf-8"),
            ],
        );
        std::fs::read(out).expect("signature")
    }

    /// gpg's own verdict on `signature` (its status keyword, e.g. `GOODSIG`, `EXPKEYSIG`).
    fn verdict(&self, signature: &[u8], payload: &[u8]) -> String {
        let sig = self.dir.path().join("check.asc");
        let file = self.dir.path().join("check");
        std::fs::write(&sig, signature).expect("sig");
        std::fs::write(&file, payload).expect("payload");
        let out = self
            .command(
                "gpg",
                &[
                    "--status-fd",
                    "1",
                    "--verify",
                    sig.to_str().expect("utf-8"),
                    file.to_str().expect("utf-8"),
                ],
            )
            .output()
            .expect("gpg");
        let status = String::from_utf8_lossy(&out.stdout);
        ["GOODSIG", "EXPKEYSIG", "REVKEYSIG", "BADSIG", "ERRSIG"]
            .into_iter()
            .find(|k| status.contains(&format!("[GNUPG:] {k} ")))
            .unwrap_or("none")
            .to_string()
    }

    fn export(&self, uid: &str) -> Vec<u8> {
        self.run("gpg", &["--armor", "--export", uid]).into_bytes()
    }
}

const PAYLOAD: &[u8] = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor a <a> 1 +0000\ncommitter a <a> 1 +0000\n\nmsg\n";

fn long_id(fingerprint: &str) -> String {
    fingerprint[fingerprint.len() - 16..].to_string()
}

#[test]
fn a_signature_by_a_key_that_has_since_expired_is_refused_naming_the_key() {
    let gnupg = GnupgHome::with(&[]);
    gnupg.gpg(
        Some(JAN_2020),
        &[
            "--quick-gen-key",
            "Old <old@example.com>",
            "ed25519",
            "sign",
            "1y",
        ],
    );
    let id = long_id(&gnupg.fingerprint("old@example.com"));
    let signature = gnupg.sign(Some(JUN_2020), &id, PAYLOAD);
    assert_eq!(gnupg.verdict(&signature, PAYLOAD), "EXPKEYSIG");

    let ring = keys(&[("old.asc", &gnupg.export("old@example.com"))]);
    let err = ring.verify(&signature, PAYLOAD).expect_err("expired");
    let VerifyError::InvalidSigningKey(KeyProblem::Expired { key_id, at }) = &err else {
        panic!("not an expiry: {err}");
    };
    assert_eq!(key_id, &id);
    assert_eq!(
        at.format("%Y").to_string(),
        "2020",
        "a year after 2020-01-01: {at}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "unable to verify payload with any of the given key rings: key {id} expired on {at}"
        )
    );
    // Judged while the key was still valid, the same signature is good.
    let then = chrono::DateTime::parse_from_rfc3339("2020-07-01T00:00:00Z").expect("date");
    assert_eq!(ring.verify_at(&signature, PAYLOAD, then.to_utc()), Ok(id));
}

#[test]
fn a_signature_by_a_revoked_key_is_refused() {
    let gnupg = GnupgHome::with(&[]);
    gnupg.gpg(
        None,
        &[
            "--quick-gen-key",
            "Gone <gone@example.com>",
            "ed25519",
            "sign",
            "never",
        ],
    );
    let fingerprint = gnupg.fingerprint("gone@example.com");
    let id = long_id(&fingerprint);
    let signature = gnupg.sign(None, &id, PAYLOAD);
    let before = keys(&[("gone.asc", &gnupg.export("gone@example.com"))]);
    assert_eq!(before.verify(&signature, PAYLOAD), Ok(id.clone()));

    // gpg stores a revocation certificate when it makes a key; importing it revokes the key.
    let stored = gnupg
        .dir
        .path()
        .join(format!("openpgp-revocs.d/{fingerprint}.rev"));
    let certificate = std::fs::read_to_string(stored).expect("revocation certificate");
    let certificate = certificate.replace(":-----BEGIN PGP", "-----BEGIN PGP");
    let file = gnupg.dir.path().join("revoke.asc");
    std::fs::write(&file, certificate).expect("write");
    gnupg.gpg(None, &["--import", file.to_str().expect("utf-8")]);
    assert_eq!(gnupg.verdict(&signature, PAYLOAD), "REVKEYSIG");

    let after = keys(&[("gone.asc", &gnupg.export("gone@example.com"))]);
    let err = after.verify(&signature, PAYLOAD).expect_err("revoked");
    assert!(
        matches!(&err, VerifyError::InvalidSigningKey(KeyProblem::Revoked { key_id, .. }) if key_id == &id),
        "{err}"
    );
    assert!(
        err.to_string().contains(&format!("key {id} is revoked")),
        "{err}"
    );
}

#[test]
fn a_signature_by_an_expired_or_revoked_signing_subkey_is_refused() {
    let gnupg = GnupgHome::with(&[]);
    // A certify-only primary that never expires, with a signing subkey valid for 2020 only.
    gnupg.gpg(
        Some(JAN_2020),
        &[
            "--quick-gen-key",
            "Sub <sub@example.com>",
            "ed25519",
            "cert",
            "never",
        ],
    );
    let fingerprint = gnupg.fingerprint("sub@example.com");
    let primary = long_id(&fingerprint);
    gnupg.gpg(
        Some(JAN_2020),
        &["--quick-add-key", &fingerprint, "ed25519", "sign", "1y"],
    );
    let old_subkey = gnupg.colons("sub@example.com", "sub", 4);
    let old = gnupg.sign(Some(JUN_2020), &old_subkey, PAYLOAD);
    assert_eq!(gnupg.verdict(&old, PAYLOAD), "EXPKEYSIG");
    let ring = keys(&[("sub.asc", &gnupg.export("sub@example.com"))]);
    let err = ring.verify(&old, PAYLOAD).expect_err("expired subkey");
    assert!(
        matches!(&err, VerifyError::InvalidSigningKey(KeyProblem::SubkeyExpired { key_id, subkey_id, .. })
            if key_id == &primary && subkey_id == &old_subkey),
        "{err}"
    );

    // A second signing subkey, made now: good until it is revoked.
    gnupg.gpg(
        None,
        &["--quick-add-key", &fingerprint, "ed25519", "sign", "never"],
    );
    let listing = gnupg.run("gpg", &["--with-colons", "--list-keys", "sub@example.com"]);
    let new_subkey = listing
        .lines()
        .filter(|l| l.starts_with("sub:"))
        .filter_map(|l| l.split(':').nth(4))
        .find(|id| *id != old_subkey)
        .expect("second subkey")
        .to_string();
    let fresh = gnupg.sign(None, &new_subkey, PAYLOAD);
    let ring = keys(&[("sub.asc", &gnupg.export("sub@example.com"))]);
    assert_eq!(ring.verify(&fresh, PAYLOAD), Ok(primary.clone()));

    let mut edit = gnupg.command(
        "gpg",
        &[
            "--batch",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--command-fd",
            "0",
            "--edit-key",
            &fingerprint,
        ],
    );
    edit.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = edit.spawn().expect("gpg --edit-key");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .expect("stdin")
        // Select the second subkey, revoke it (reason 0, no text), save.
        .write_all(b"key 2\nrevkey\ny\n0\n\ny\nsave\n")
        .expect("commands");
    assert!(child.wait().expect("gpg").success());
    assert_eq!(gnupg.verdict(&fresh, PAYLOAD), "REVKEYSIG");
    let ring = keys(&[("sub.asc", &gnupg.export("sub@example.com"))]);
    let err = ring.verify(&fresh, PAYLOAD).expect_err("revoked subkey");
    assert!(
        matches!(&err, VerifyError::InvalidSigningKey(KeyProblem::SubkeyRevoked { key_id, subkey_id, .. })
            if key_id == &primary && subkey_id == &new_subkey),
        "{err}"
    );
}

#[test]
fn a_key_certified_by_someone_else_is_still_trusted() {
    let gnupg = GnupgHome::with(&[FLUX_SEC, STRANGER_SEC]);
    let stranger = gnupg.fingerprint("stranger@example.com");
    let flux = gnupg.fingerprint("flux@example.com");
    gnupg.gpg(None, &["-u", &stranger, "--quick-sign-key", &flux]);
    let exported = gnupg.export("flux@example.com");
    let listing = gnupg.run(
        "gpg",
        &["--with-colons", "--check-sigs", "flux@example.com"],
    );
    assert!(
        listing.contains(&long_id(&stranger)),
        "certified by the stranger: {listing}"
    );

    let key = SigningKey::from_armored(FLUX_SEC, None).expect("key");
    let signature = key.detached(PAYLOAD, 1).expect("sign");
    let ring = keys(&[("flux.asc", &exported)]);
    assert_eq!(
        ring.verify(signature.as_bytes(), PAYLOAD),
        Ok(FLUX_ID.to_string())
    );
}
