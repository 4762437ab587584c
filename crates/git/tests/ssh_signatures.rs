//! SSH signatures against the real tools: commits and tags signed by
//! `git -c gpg.format=ssh` (which runs `ssh-keygen -Y sign -n git`) with ed25519, ECDSA and RSA
//! keys, checked out through the loopback server and verified against `.sshpub` entries in
//! `authorized_keys` format. `git verify-commit` with an allowed-signers file is the oracle
//! that the same objects are good signatures.

use std::path::{Path, PathBuf};

use driftless_git::verify::{SignatureFormat, SshMismatch, split_commit};
use driftless_git::{Reference, VerifyError};
use testkit::git_server::{GitAuth, GitServer};

mod tools;

use tools::{checked_out, keys};

const FLUX_PUB: &[u8] = include_bytes!("../testdata/signing/flux.pub.asc");
const FLUX_SEC: &[u8] = include_bytes!("../testdata/signing/flux.sec.asc");
const FLUX_ID: &str = "A42E5C88FFDDA76B";

/// A throwaway home (see `tools`) with SSH key pairs made by `ssh-keygen`.
type Home = tools::ToolHome;

impl Home {
    fn new() -> Home {
        Home::with(&[])
    }

    /// A key pair `name` of `ssh-keygen -t <kind>` (extra args e.g. `-b 3072`); returns the
    /// private key path and the public key line.
    fn key(&self, name: &str, kind: &[&str]) -> (String, String) {
        let private = self.path(name);
        let private = private.to_str().expect("utf-8").to_string();
        let mut args = vec![
            "-q",
            "-N",
            "",
            "-C",
            "signer@example.com",
            "-f",
            &private,
            "-t",
        ];
        args.extend_from_slice(kind);
        self.run("ssh-keygen", &args);
        let public = std::fs::read_to_string(format!("{private}.pub")).expect("public key");
        (private, public)
    }

    /// `ssh-keygen -lf`: the fingerprint as OpenSSH prints it.
    fn fingerprint(&self, private: &str) -> String {
        let out = self.run(
            "ssh-keygen",
            &["-l", "-E", "sha256", "-f", &format!("{private}.pub")],
        );
        out.split_whitespace()
            .nth(1)
            .expect("fingerprint")
            .to_string()
    }
}

fn branch(name: &str) -> Reference {
    Reference {
        branch: Some(name.into()),
        ..Reference::default()
    }
}

fn tag(name: &str) -> Reference {
    Reference {
        tag: Some(name.into()),
        ..Reference::default()
    }
}

/// In a fresh work tree: one commit and one annotated tag per signing key (`git commit -S`,
/// `git tag -s` with `gpg.format=ssh`), each pushed as branch and tag `<name>` to `bare`.
fn ssh_signed_history(home: &Home, signers: &[(&str, &str)], bare: &Path) -> PathBuf {
    let work = home.path("work");
    home.git(
        Path::new("."),
        &[
            "init",
            "-q",
            "--initial-branch=main",
            work.to_str().expect("utf-8"),
        ],
    );
    home.git(&work, &["config", "gpg.format", "ssh"]);
    for (name, private) in signers {
        std::fs::write(work.join("app.yaml"), format!("signer: {name}\n")).expect("write");
        home.git(&work, &["add", "-A"]);
        let key = format!("user.signingkey={private}");
        home.git(&work, &["-c", &key, "commit", "-q", "-S", "-m", name]);
        let release = format!("release signed by {name}");
        home.git(
            &work,
            &[
                "-c",
                &key,
                "tag",
                "-s",
                "-m",
                &release,
                &format!("{name}-v1"),
            ],
        );
        home.git(&work, &["branch", name]);
    }
    let bare = bare.to_str().expect("utf-8");
    home.git(&work, &["push", "-q", bare, "--all"]);
    home.git(&work, &["push", "-q", bare, "--tags"]);
    work
}

#[tokio::test(flavor = "multi_thread")]
async fn commits_and_tags_signed_by_git_with_ssh_keys_verify_with_their_sha256_fingerprint()
-> anyhow::Result<()> {
    let home = Home::new();
    let kinds: [(&str, &[&str]); 4] = [
        ("ed25519", &["ed25519"]),
        ("ecdsa256", &["ecdsa", "-b", "256"]),
        ("ecdsa384", &["ecdsa", "-b", "384"]),
        ("rsa", &["rsa", "-b", "3072"]),
    ];
    let made: Vec<(&str, String, String)> = kinds
        .iter()
        .map(|(name, kind)| {
            let (private, public) = home.key(name, kind);
            (*name, private, public)
        })
        .collect();
    let server = GitServer::start(GitAuth::None).await?;
    server.create_repo("ssh-signed")?;
    let signers: Vec<(&str, &str)> = made.iter().map(|(n, p, _)| (*n, p.as_str())).collect();
    let work = ssh_signed_history(&home, &signers, &server.repo_path("ssh-signed"));

    // Everyone's keys in one authorized_keys entry, one key per line, as Flux's docs show.
    let all: String = made.iter().map(|(_, _, public)| public.clone()).collect();
    let trusted = keys(&[("authors.sshpub", all.as_bytes())]);
    assert_eq!(trusted.len(), 4);

    // The oracle: git itself accepts the same commits with an allowed-signers file.
    let allowed: String = made
        .iter()
        .map(|(_, _, public)| format!("flux@example.com {public}"))
        .collect();
    std::fs::write(home.path("allowed_signers"), allowed)?;
    let allowed_cfg = format!(
        "gpg.ssh.allowedSignersFile={}",
        home.path("allowed_signers").display()
    );

    let url = server.url("ssh-signed");
    for (name, private, _) in &made {
        let expected = home.fingerprint(private);
        assert!(expected.starts_with("SHA256:"), "{expected}");
        home.git(&work, &["-c", &allowed_cfg, "verify-commit", name]);

        let commit = checked_out(&url, branch(name));
        assert_eq!(
            SignatureFormat::of_commit(&commit.signed.commit),
            SignatureFormat::Ssh
        );
        assert_eq!(
            trusted.verify_commit(&commit.signed.commit)?,
            expected,
            "{name}"
        );

        let tagged = checked_out(&url, tag(&format!("{name}-v1")));
        assert_eq!(tagged.id, commit.id);
        let tag_object = tagged.signed.tag.as_ref().expect("tag kept");
        let content = tag_object.content.as_deref().expect("annotated");
        assert_eq!(SignatureFormat::of_tag(content), SignatureFormat::Ssh);
        assert_eq!(trusted.verify_tag(content)?, expected, "{name} tag");
    }
    Ok(())
}

/// A commit signed by `ssh-keygen` for git, read back with `git cat-file`.
fn one_signed_commit(home: &Home, private: &str) -> Vec<u8> {
    let work = home.path("one");
    home.git(
        Path::new("."),
        &[
            "init",
            "-q",
            "--initial-branch=main",
            work.to_str().expect("utf-8"),
        ],
    );
    std::fs::write(work.join("app.yaml"), "v: 1\n").expect("write");
    home.git(&work, &["add", "-A"]);
    let key = format!("user.signingkey={private}");
    home.git(
        &work,
        &[
            "-c",
            "gpg.format=ssh",
            "-c",
            &key,
            "commit",
            "-q",
            "-S",
            "-m",
            "signed",
        ],
    );
    home.git(&work, &["cat-file", "commit", "HEAD"])
        .into_bytes()
}

#[test]
fn a_commit_signed_by_an_untrusted_key_fails_naming_the_signer() {
    let home = Home::new();
    let (signer, _) = home.key("signer", &["ed25519"]);
    let (_, other) = home.key("other", &["ed25519"]);
    let commit = one_signed_commit(&home, &signer);
    let trusted = keys(&[("other.sshpub", other.as_bytes())]);
    let err = trusted.verify_commit(&commit).expect_err("untrusted");
    assert_eq!(
        err,
        VerifyError::NoMatchingAuthorizedKey(SshMismatch::UnknownSigner {
            fingerprint: home.fingerprint(&signer)
        })
    );
    assert!(
        err.to_string()
            .starts_with("unable to verify payload with any of the given authorized keys: "),
        "{err}"
    );
}

#[test]
fn a_tampered_commit_no_longer_verifies() {
    let home = Home::new();
    let (signer, public) = home.key("signer", &["ed25519"]);
    let commit = String::from_utf8(one_signed_commit(&home, &signer)).expect("utf-8");
    let trusted = keys(&[("signer.sshpub", public.as_bytes())]);
    assert_eq!(
        trusted.verify_commit(commit.as_bytes()),
        Ok(home.fingerprint(&signer))
    );
    let tampered = commit.replace("\nsigned\n", "\nsigned, then changed\n");
    assert_ne!(tampered, commit);
    assert_eq!(
        trusted.verify_commit(tampered.as_bytes()),
        Err(VerifyError::NoMatchingAuthorizedKey(
            SshMismatch::BadSignature {
                fingerprint: home.fingerprint(&signer)
            }
        ))
    );
}

#[test]
fn a_signature_made_for_another_namespace_does_not_pass_for_a_commit() {
    let home = Home::new();
    let (signer, public) = home.key("signer", &["ed25519"]);
    let commit = one_signed_commit(&home, &signer);
    let (_, payload) = split_commit(&commit);
    // The same key signs the very bytes git signed, but as a file (`-n file`).
    let file = home.path("payload");
    std::fs::write(&file, &payload).expect("payload");
    home.run(
        "ssh-keygen",
        &[
            "-Y",
            "sign",
            "-n",
            "file",
            "-f",
            &signer,
            file.to_str().expect("utf-8"),
        ],
    );
    let signature = std::fs::read_to_string(home.path("payload.sig")).expect("signature");
    let trusted = keys(&[("signer.sshpub", public.as_bytes())]);
    assert_eq!(
        trusted.verify(signature.as_bytes(), &payload),
        Err(VerifyError::NoMatchingAuthorizedKey(
            SshMismatch::WrongNamespace {
                fingerprint: home.fingerprint(&signer),
                namespace: "file".into()
            }
        ))
    );
    // Signed for `git` with SHA-256 rather than git's default SHA-512, it verifies.
    std::fs::remove_file(home.path("payload.sig")).expect("rm");
    home.run(
        "ssh-keygen",
        &[
            "-Y",
            "sign",
            "-n",
            "git",
            "-O",
            "hashalg=sha256",
            "-f",
            &signer,
            file.to_str().expect("utf-8"),
        ],
    );
    let signature = std::fs::read_to_string(home.path("payload.sig")).expect("signature");
    assert_eq!(
        trusted.verify(signature.as_bytes(), &payload),
        Ok(home.fingerprint(&signer))
    );
}

#[test]
fn authorized_keys_options_and_comments_do_not_hide_the_key() {
    let home = Home::new();
    let (signer, public) = home.key("signer", &["ecdsa", "-b", "521"]);
    let commit = one_signed_commit(&home, &signer);
    let text = format!(
        "# release managers\n\nno-pty,command=\"echo not a shell\" {}\n",
        public.trim()
    );
    let trusted = keys(&[("managers.sshpub", text.as_bytes())]);
    assert_eq!(
        trusted.verify_commit(&commit),
        Ok(home.fingerprint(&signer))
    );
}

#[test]
fn one_secret_holds_pgp_and_ssh_keys_and_each_signature_finds_its_own() {
    let home = Home::new();
    let sec = home.path("flux.sec.asc");
    std::fs::write(&sec, FLUX_SEC).expect("key");
    home.run(
        "gpg",
        &["--batch", "--import", sec.to_str().expect("utf-8")],
    );
    let (signer, public) = home.key("signer", &["ed25519"]);
    let ssh_commit = one_signed_commit(&home, &signer);
    let work = home.path("one");
    std::fs::write(work.join("app.yaml"), "v: 2\n").expect("write");
    let pgp_key = format!("user.signingkey={FLUX_ID}");
    home.git(
        &work,
        &["-c", &pgp_key, "commit", "-q", "-a", "-S", "-m", "pgp"],
    );
    let pgp_commit = home
        .git(&work, &["cat-file", "commit", "HEAD"])
        .into_bytes();
    assert_eq!(
        SignatureFormat::of_commit(&pgp_commit),
        SignatureFormat::OpenPgp
    );

    let mixed = keys(&[("flux.asc", FLUX_PUB), ("signer.sshpub", public.as_bytes())]);
    assert_eq!(mixed.len(), 2);
    assert_eq!(mixed.verify_commit(&pgp_commit), Ok(FLUX_ID.to_string()));
    assert_eq!(
        mixed.verify_commit(&ssh_commit),
        Ok(home.fingerprint(&signer))
    );

    // Keys without a recognised suffix stay OpenPGP key rings.
    let legacy = keys(&[("author", FLUX_PUB)]);
    assert_eq!(legacy.verify_commit(&pgp_commit), Ok(FLUX_ID.to_string()));

    let pgp_only = keys(&[("flux.asc", FLUX_PUB)]);
    assert_eq!(
        pgp_only.verify_commit(&ssh_commit).map_err(|e| e.to_string()),
        Err("unable to verify payload with any of the given authorized keys: no SSH public keys were given (Secret entries ending in '.sshpub')".to_string())
    );
    let ssh_only = keys(&[("signer.sshpub", public.as_bytes())]);
    assert_eq!(
        ssh_only.verify_commit(&pgp_commit),
        Err(VerifyError::NoKeyRings)
    );
}
