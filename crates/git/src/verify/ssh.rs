//! SSH signatures: the `SSHSIG` format (`ssh-keygen -Y sign`, `git -c gpg.format=ssh`) checked
//! against trusted keys given in `authorized_keys` format.
//!
//! An `SSHSIG` block carries the signer's public key, a namespace, the hash algorithm (sha256
//! or sha512) and the signature over (magic, namespace, hash of the payload). Git signs in
//! namespace `git`; a signature made for another namespace (say `file`) must not pass for a
//! commit even though the key and bytes match.

use russh::keys::ssh_key::{HashAlg, PublicKey, SshSig};

use super::VerifyError;

/// The namespace git signs commits and tags in.
const NAMESPACE: &str = "git";

/// Why no trusted SSH key vouches for a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshMismatch {
    #[error("no SSH public keys were given (Secret entries ending in '.sshpub')")]
    NoKeys,

    #[error("the signature was made by key {fingerprint}, which is not among them")]
    UnknownSigner { fingerprint: String },

    #[error("the signature by key {fingerprint} is for namespace '{namespace}', not '{NAMESPACE}'")]
    WrongNamespace {
        fingerprint: String,
        namespace: String,
    },

    #[error("the signature by key {fingerprint} does not match the signed content")]
    BadSignature { fingerprint: String },
}

/// One trusted SSH public key.
#[derive(Clone, Debug)]
pub(super) struct AuthorizedKey {
    key: PublicKey,
}

/// Read `authorized_keys` text; `entry` names it in errors, with the offending line.
pub(super) fn read_authorized_keys(
    entry: &str,
    text: &[u8],
) -> Result<Vec<AuthorizedKey>, VerifyError> {
    let invalid = |reason: String| VerifyError::InvalidAuthorizedKeys {
        entry: entry.to_string(),
        reason,
    };
    let text = std::str::from_utf8(text).map_err(|e| invalid(format!("not UTF-8: {e}")))?;
    let mut keys = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key =
            parse_line(line).map_err(|reason| invalid(format!("line {}: {reason}", index + 1)))?;
        keys.push(AuthorizedKey { key });
    }
    if keys.is_empty() {
        return Err(invalid("no public key found".into()));
    }
    Ok(keys)
}

/// One `authorized_keys` line: `[options] <algorithm> <base64> [comment]`.
fn parse_line(line: &str) -> Result<PublicKey, String> {
    let first = match PublicKey::from_openssh(line) {
        Ok(key) => return Ok(key),
        Err(e) => e,
    };
    // A line that starts with a key type is a key that does not parse; otherwise what comes
    // first is options, and the key follows them.
    let starts_with_key_type = ["ssh-", "ecdsa-", "sk-"]
        .iter()
        .any(|prefix| line.starts_with(prefix));
    match skip_options(line) {
        Some(rest) if !starts_with_key_type => {
            PublicKey::from_openssh(rest).map_err(|e| format!("invalid public key: {e}"))
        }
        _ => Err(format!("invalid public key: {first}")),
    }
}

/// What follows the options field, which ends at the first whitespace outside double quotes
/// (`command="echo hi",from="10.0.0.0/8"` holds spaces and commas in its quoted values).
fn skip_options(line: &str) -> Option<&str> {
    let (mut quoted, mut escaped) = (false, false);
    for (at, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c.is_ascii_whitespace() && !quoted => {
                return Some(line[at..].trim_start()).filter(|rest| !rest.is_empty());
            }
            _ => {}
        }
    }
    None
}

/// Check an armored `SSHSIG` block over `payload`; returns the signer's `SHA256:` fingerprint.
pub(super) fn verify(
    keys: &[AuthorizedKey],
    armored: &[u8],
    payload: &[u8],
) -> Result<String, VerifyError> {
    let signature =
        SshSig::from_pem(armored.trim_ascii()).map_err(|e| VerifyError::MalformedSshSignature {
            reason: e.to_string(),
        })?;
    let mismatch = VerifyError::NoMatchingAuthorizedKey;
    if keys.is_empty() {
        return Err(mismatch(SshMismatch::NoKeys));
    }
    let signer = signature.public_key();
    let fingerprint = signer.fingerprint(HashAlg::Sha256).to_string();
    let Some(trusted) = keys.iter().find(|k| k.key.key_data() == signer) else {
        return Err(mismatch(SshMismatch::UnknownSigner { fingerprint }));
    };
    if signature.namespace() != NAMESPACE {
        return Err(mismatch(SshMismatch::WrongNamespace {
            fingerprint,
            namespace: signature.namespace().to_string(),
        }));
    }
    match trusted.key.verify(NAMESPACE, payload, &signature) {
        Ok(()) => Ok(fingerprint),
        Err(_) => Err(mismatch(SshMismatch::BadSignature { fingerprint })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILfxQO765zMeCVDcBg88RjDVd8meC3liQ6687Z4ik8/t";

    #[test]
    fn authorized_keys_lines_may_carry_options_and_comments() {
        let text = format!(
            "# trusted authors\n\n  {ED25519} release@example.com\ncommand=\"echo hi there\",no-pty {ED25519}\nfrom=\"10.0.0.0/8\" {ED25519} with a comment\n"
        );
        let keys = read_authorized_keys("a.sshpub", text.as_bytes()).expect("keys");
        assert_eq!(keys.len(), 3);
        let fingerprint = keys[0].key.fingerprint(HashAlg::Sha256).to_string();
        assert_eq!(
            fingerprint,
            "SHA256:pPQ3xSnagRlLIA/5RNWX9ADP1prrxK08nQQOKEkjwwM"
        );
        assert!(
            keys.iter()
                .all(|k| k.key.key_data() == keys[0].key.key_data())
        );
    }

    #[test]
    fn an_unparsable_line_is_named_by_entry_and_number() {
        let text = format!("{ED25519}\nssh-ed25519 AAAA=broken\n");
        let err = read_authorized_keys("team.sshpub", text.as_bytes()).expect_err("broken");
        assert!(
            err.to_string().starts_with(
                "unable to parse authorized keys 'team.sshpub': line 2: invalid public key:"
            ),
            "{err}"
        );
        let err = read_authorized_keys("empty.sshpub", b"# nobody\n").expect_err("empty");
        assert_eq!(
            err.to_string(),
            "unable to parse authorized keys 'empty.sshpub': no public key found"
        );
    }

    #[test]
    fn a_signature_block_that_is_not_sshsig_is_malformed() {
        let keys = read_authorized_keys("a", ED25519.as_bytes()).expect("keys");
        let err = verify(
            &keys,
            b"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n",
            b"payload",
        )
        .expect_err("malformed");
        assert!(
            err.to_string()
                .starts_with("unable to unarmor SSH signature: "),
            "{err}"
        );
    }
}
