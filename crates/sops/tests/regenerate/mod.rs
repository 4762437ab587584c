//! Rebuilds the conformance fixtures from the real sops (only with
//! `DRIFTLESS_REGENERATE_SOPS=1`): creates the test-only keys if they are
//! missing, encrypts every case's plaintext with `sops encrypt` and records
//! `sops decrypt` of the result as the golden output.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{CASES, Case, fixtures};
use age::secrecy::ExposeSecret as _;

fn sops_binary() -> PathBuf {
    let tool = testkit::gotools::pinned_tool("sops").expect("sops is pinned in tools.toml");
    let built = tool
        .ensure(&testkit::Cache::from_env())
        .expect("build the sops oracle");
    built.path("sops")
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("run command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn keys_dir() -> PathBuf {
    fixtures().join("keys")
}

fn ensure_age_key(name: &str) {
    let path = keys_dir().join(format!("{name}.agekey"));
    if path.exists() {
        return;
    }
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let body = format!(
        "# driftless sops conformance: TEST-ONLY key, never protects anything real\n# public key: {public}\n{}\n",
        id.to_string().expose_secret()
    );
    std::fs::write(&path, body).expect("write age key");
    std::fs::write(
        keys_dir().join(format!("{name}.pub")),
        format!("{public}\n"),
    )
    .expect("write recipient");
}

fn ensure_pgp_key(name: &str, key_params: &str, gnupghome: &Path) {
    let asc = keys_dir().join(format!("{name}.asc"));
    if asc.exists() {
        return;
    }
    let params = gnupghome.join(format!("{name}.params"));
    std::fs::write(
        &params,
        format!("{key_params}\nName-Real: driftless sops test {name}\nName-Email: {name}@example.invalid\nExpire-Date: 0\n%no-protection\n%commit\n"),
    )
    .expect("write key parameters");
    run(Command::new("gpg")
        .env("GNUPGHOME", gnupghome)
        .args(["--batch", "--gen-key"])
        .arg(&params));
    let email = format!("{name}@example.invalid");
    let secret = run(Command::new("gpg").env("GNUPGHOME", gnupghome).args([
        "--batch",
        "--armor",
        "--export-secret-keys",
        &email,
    ]));
    std::fs::write(&asc, secret).expect("write pgp key");
    let listing = run(Command::new("gpg").env("GNUPGHOME", gnupghome).args([
        "--batch",
        "--with-colons",
        "--fingerprint",
        &email,
    ]));
    let listing = String::from_utf8_lossy(&listing);
    let fpr = listing
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .and_then(|l| l.split(':').nth(9))
        .expect("primary fingerprint");
    std::fs::write(keys_dir().join(format!("{name}.fpr")), format!("{fpr}\n"))
        .expect("write fingerprint");
}

fn public(name: &str) -> String {
    let file = if name.starts_with("age") {
        format!("{name}.pub")
    } else {
        format!("{name}.fpr")
    };
    crate::common::key_text(&file).trim().to_owned()
}

fn substitute(s: &str) -> String {
    ["age1", "age2", "pgp1", "pgp2"]
        .iter()
        .fold(s.to_owned(), |acc, n| {
            acc.replace(&format!("{{{n}}}"), &public(n))
        })
}

pub fn all() {
    let sops = sops_binary();
    std::fs::create_dir_all(keys_dir()).expect("keys dir");
    let tmp = tempfile::tempdir().expect("tempdir");
    let gnupghome = tmp.path().join("gnupg");
    std::fs::create_dir_all(&gnupghome).expect("gnupg home");
    std::fs::set_permissions(
        &gnupghome,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod");
    ensure_age_key("age1");
    ensure_age_key("age2");
    ensure_pgp_key(
        "pgp1",
        "Key-Type: RSA\nKey-Length: 2048\nSubkey-Type: RSA\nSubkey-Length: 2048",
        &gnupghome,
    );
    ensure_pgp_key(
        "pgp2",
        "Key-Type: EDDSA\nKey-Curve: ed25519\nSubkey-Type: ECDH\nSubkey-Curve: cv25519",
        &gnupghome,
    );
    for name in ["pgp1", "pgp2"] {
        run(Command::new("gpg")
            .env("GNUPGHOME", &gnupghome)
            .args(["--batch", "--import"])
            .arg(keys_dir().join(format!("{name}.asc"))));
    }
    let age_keys = tmp.path().join("age-keys.txt");
    let both = format!(
        "{}{}",
        crate::common::key_text("age1.agekey"),
        crate::common::key_text("age2.agekey")
    );
    std::fs::write(&age_keys, both).expect("age key file");

    for dir in ["encrypted", "expected"] {
        std::fs::create_dir_all(fixtures().join(dir)).expect("fixture dir");
    }
    for case in CASES {
        regenerate_case(&sops, case, tmp.path(), &gnupghome, &age_keys);
    }
}

fn regenerate_case(sops: &Path, case: &Case, tmp: &Path, gnupghome: &Path, age_keys: &Path) {
    let sops_cmd = || {
        let mut c = Command::new(sops);
        c.env("GNUPGHOME", gnupghome)
            .env("SOPS_AGE_KEY_FILE", age_keys)
            .env_remove("SOPS_AGE_KEY")
            .current_dir(tmp);
        c
    };
    let mut encrypt = sops_cmd();
    // --config is a global flag: it goes before the subcommand.
    if let Some(config) = case.config {
        let path = tmp.join(format!("{}.sops.yaml", case.name));
        std::fs::write(&path, substitute(config)).expect("write sops config");
        encrypt.arg("--config").arg(path);
    }
    encrypt.arg("encrypt");
    for a in case.args {
        encrypt.arg(substitute(a));
    }
    // sops infers the store from the file name, so the plaintext is copied
    // under the case's name first.
    let input = tmp.join(case.file());
    std::fs::copy(fixtures().join("plain").join(case.plain), &input).expect("copy plaintext");
    encrypt.arg(&input);
    let encrypted = run(&mut encrypt);
    std::fs::write(case.encrypted(), &encrypted).expect("write encrypted fixture");
    let mut decrypt = sops_cmd();
    decrypt.arg("decrypt");
    if let Some(ext) = case.output {
        decrypt.args(["--output-type", ext]);
    }
    let decrypted = run(decrypt.arg(case.encrypted()));
    std::fs::write(case.expected(), decrypted).expect("write golden output");
}
