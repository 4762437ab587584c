//! OpenPGP key validity: a signature by a trusted key counts only while the key (and the subkey
//! that made it) is valid, as GnuPG judges it: git refuses `EXPKEYSIG` and `REVKEYSIG`, and so
//! do we. Keys are made by gpg in a throwaway home; `--faked-system-time` lets gpg make and use
//! a key in 2020 so that it has expired by now.

use driftless_git::verify::KeyProblem;
use driftless_git::{SigningKey, VerifyError};

mod tools;

use tools::keys;

const FLUX_SEC: &[u8] = include_bytes!("../testdata/signing/flux.sec.asc");
const STRANGER_SEC: &[u8] = include_bytes!("../testdata/signing/stranger.sec.asc");
const FLUX_ID: &str = "A42E5C88FFDDA76B";

/// A throwaway GnuPG home (see `tools`).
type GnupgHome = tools::ToolHome;

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
