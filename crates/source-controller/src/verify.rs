//! Flux's `verifySignature` for a GitRepository: check the signature of the checked-out
//! commit and/or the tag it came through against the public keys of `spec.verify.secretRef`,
//! and record `SourceVerified` and `status.sourceVerificationMode`.
//!
//! The Secret may hold OpenPGP key rings (`*.asc`, or no recognised suffix) and SSH public keys
//! (`*.sshpub`); each object's signature block picks which of them verify it. Success names the
//! OpenPGP key id or the SSH key's `SHA256:` fingerprint.

use std::collections::BTreeMap;

use driftless_api::conditions::{reasons, types};
use driftless_api::source::{GitRepository, GitRepositoryStatus, GitVerificationMode};
use driftless_git::verify::SignatureFormat;
use driftless_git::{Commit, TrustedKeys, VerifyError};
use driftless_runtime::draft::StatusDraft;
use kube::ResourceExt;

use crate::credentials::secret_data;
use crate::error::ReconcileError;

/// Flux's reason when the tag is not signed (or not annotated).
pub const INVALID_GIT_OBJECT: &str = "InvalidGitObject";
/// Flux's reason when a tag signature does not verify.
pub const INVALID_TAG_SIGNATURE: &str = "InvalidTagSignature";
/// Flux's reason when a commit signature does not verify.
pub const INVALID_COMMIT_SIGNATURE: &str = "InvalidCommitSignature";
/// Flux's reason when the mode needs a tag the spec does not reference.
pub const INVALID_VERIFICATION_MODE: &str = "InvalidVerificationMode";

/// The mode as Flux writes it in `status.sourceVerificationMode` (`head` reads as `HEAD`).
pub fn mode_name(mode: GitVerificationMode) -> &'static str {
    match mode {
        GitVerificationMode::LegacyHead | GitVerificationMode::Head => "HEAD",
        GitVerificationMode::Tag => "Tag",
        GitVerificationMode::TagAndHEAD => "TagAndHEAD",
    }
}

fn mode_of(repo: &GitRepository) -> Option<GitVerificationMode> {
    repo.spec
        .verify
        .as_ref()
        .map(|v| v.mode.unwrap_or_default())
}

/// Flux's `requiresVerification`: verification is configured and the current artifact was not
/// verified in this mode, so the commit must be fetched and checked even if it did not move.
pub fn requires_verification(
    repo: &GitRepository,
    status: &GitRepositoryStatus,
    draft: &StatusDraft,
) -> bool {
    let Some(mode) = mode_of(repo) else {
        return false;
    };
    let verified = draft
        .get(types::SOURCE_VERIFIED)
        .is_some_and(|c| c.status == "True");
    status.source_verification_mode.as_deref() != Some(mode_name(mode)) || !verified
}

fn failed(reason: &'static str, message: String) -> ReconcileError {
    ReconcileError::Verification {
        reason,
        message,
        stalled: false,
    }
}

/// Verify `commit` (and its tag) as `spec.verify` asks. Without `spec.verify` the verification
/// state is cleared, as Flux does.
pub async fn verify_signature(
    client: &kube::Client,
    repo: &GitRepository,
    commit: &Commit,
    status: &mut GitRepositoryStatus,
    draft: &mut StatusDraft,
) -> Result<(), ReconcileError> {
    let (Some(verify), Some(mode)) = (repo.spec.verify.as_ref(), mode_of(repo)) else {
        status.source_verification_mode = None;
        draft.delete(types::SOURCE_VERIFIED);
        return Ok(());
    };
    let namespace = repo.namespace().unwrap_or_default();
    let data = secret_data(client, &namespace, &verify.secret_ref.name)
        .await
        .map_err(|e| {
            failed(
                reasons::VERIFICATION_ERROR,
                format!(
                    "PGP public keys secret error: {}",
                    driftless_runtime::error::chain(&e)
                ),
            )
        })?;
    let data: BTreeMap<String, Vec<u8>> = data.into_iter().map(|(k, v)| (k, v.0)).collect();
    let keys = TrustedKeys::from_secret_data(&data).map_err(|e| {
        let kind = match e {
            VerifyError::InvalidAuthorizedKeys { .. } => "SSH",
            _ => "PGP",
        };
        failed(
            reasons::VERIFICATION_ERROR,
            format!("{kind} public keys secret error: {e}"),
        )
    })?;
    let message = check(&keys, mode, commit)?;
    status.source_verification_mode = Some(mode_name(mode).to_owned());
    draft.mark_true(types::SOURCE_VERIFIED, reasons::SUCCEEDED, message);
    Ok(())
}

/// The verification itself, on the objects the checkout kept; returns Flux's success message.
pub fn check(
    keys: &TrustedKeys,
    mode: GitVerificationMode,
    commit: &Commit,
) -> Result<String, ReconcileError> {
    let mut message = String::new();
    if matches!(
        mode,
        GitVerificationMode::Tag | GitVerificationMode::TagAndHEAD
    ) {
        let Some(tag) = commit.signed.tag.as_ref() else {
            return Err(ReconcileError::Verification {
                reason: INVALID_VERIFICATION_MODE,
                message: "cannot verify tag object's signature if a tag reference is not specified"
                    .into(),
                stalled: true,
            });
        };
        let display = tag.display();
        let content = tag
            .content
            .as_deref()
            .filter(|c| driftless_git::verify::tag_is_signed(c))
            .ok_or_else(|| {
                failed(
                    INVALID_GIT_OBJECT,
                    format!("cannot verify signature of tag '{display}' since it is not signed"),
                )
            })?;
        let key = keys.verify_tag(content).map_err(|e| {
            let what = git_object("tag", SignatureFormat::of_tag(content));
            failed(
                INVALID_TAG_SIGNATURE,
                format!(
                    "signature verification of tag '{display}' failed: unable to verify {what}: {e}"
                ),
            )
        })?;
        message = format!("verified signature of\n\t- tag '{display}' with key '{key}'");
    }
    if matches!(
        mode,
        GitVerificationMode::Head
            | GitVerificationMode::LegacyHead
            | GitVerificationMode::TagAndHEAD
    ) {
        let key = keys.verify_commit(&commit.signed.commit).map_err(|e| {
            let what = git_object("commit", SignatureFormat::of_commit(&commit.signed.commit));
            failed(
                INVALID_COMMIT_SIGNATURE,
                format!(
                    "signature verification of commit '{}' failed: unable to verify {what}: {e}",
                    commit.id
                ),
            )
        })?;
        let line = format!("commit '{}' with key '{key}'", commit.id);
        if message.is_empty() {
            message = format!("verified signature of\n\t- {line}");
        } else {
            message.push_str(&format!("\n\t- {line}"));
        }
    }
    Ok(message)
}

/// How Flux names the object in a failure: `Git commit` for OpenPGP (and unsigned) objects,
/// `Git commit SSH signature` for SSH-signed ones.
fn git_object(kind: &str, format: SignatureFormat) -> String {
    match format {
        SignatureFormat::Ssh => format!("Git {kind} SSH signature"),
        _ => format!("Git {kind}"),
    }
}

#[cfg(test)]
mod tests {
    use driftless_git::{Signature, SignedObjects, SigningKey, TagObject};

    use super::*;

    const FLUX_SEC: &[u8] = include_bytes!("../../git/testdata/signing/flux.sec.asc");
    const FLUX_PUB: &[u8] = include_bytes!("../../git/testdata/signing/flux.pub.asc");

    /// A commit object signed as git stores it: `gpgsig` after the headers.
    fn signed_commit() -> Vec<u8> {
        let headers = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor a <a> 1 +0000\ncommitter a <a> 1 +0000\n";
        let payload = format!("{headers}\nmsg\n");
        let key = SigningKey::from_armored(FLUX_SEC, None).expect("key");
        let signature = key.detached(payload.as_bytes(), 1).expect("sign");
        let continued = signature.trim_end().replace('\n', "\n ");
        format!("{headers}gpgsig {continued}\n\nmsg\n").into_bytes()
    }

    fn commit(signed: SignedObjects) -> Commit {
        Commit {
            id: "c".repeat(40),
            revision: format!("main@sha1:{}", "c".repeat(40)),
            message: "msg".into(),
            author: Signature {
                name: "a".into(),
                email: "a".into(),
                time: 1,
            },
            signed,
        }
    }

    fn keys() -> TrustedKeys {
        let mut keys = TrustedKeys::default();
        keys.add_armored("flux.asc", FLUX_PUB).expect("ring");
        keys
    }

    #[test]
    fn a_signed_head_reports_fluxs_message_with_the_key_id() {
        let c = commit(SignedObjects {
            commit: signed_commit(),
            tag: None,
        });
        assert_eq!(
            check(&keys(), GitVerificationMode::Head, &c).expect("verified"),
            format!(
                "verified signature of\n\t- commit '{}' with key 'A42E5C88FFDDA76B'",
                c.id
            )
        );
    }

    #[test]
    fn tag_modes_without_a_tag_stall_and_an_unsigned_tag_is_an_invalid_object() {
        let c = commit(SignedObjects {
            commit: signed_commit(),
            tag: None,
        });
        let err = check(&keys(), GitVerificationMode::Tag, &c).expect_err("no tag");
        assert!(matches!(
            err,
            ReconcileError::Verification {
                reason: INVALID_VERIFICATION_MODE,
                stalled: true,
                ..
            }
        ));
        let lightweight = commit(SignedObjects {
            commit: signed_commit(),
            tag: Some(Box::new(TagObject {
                name: "v1".into(),
                id: "c".repeat(40),
                content: None,
            })),
        });
        let err = check(&keys(), GitVerificationMode::TagAndHEAD, &lightweight)
            .expect_err("unsigned tag");
        assert_eq!(
            err.to_string(),
            format!(
                "cannot verify signature of tag 'v1@sha1:{}' since it is not signed",
                "c".repeat(40)
            )
        );
    }

    /// A commit `git -c gpg.format=ssh commit -S` made with a throwaway ed25519 key.
    const SSH_COMMIT: &str = "tree 9bfb20ddcd05b4de0a1b10847e9ab5d46065efb3
author Flux Bot <flux@example.com> 1700000000 +0000
committer Flux Bot <flux@example.com> 1700000000 +0000
gpgsig -----BEGIN SSH SIGNATURE-----
 U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgG8+qqeI/68/rP36Uh+0zCw32u9
 0lbF1DglepGJ/9CqQAAAADZ2l0AAAAAAAAAAZzaGE1MTIAAABTAAAAC3NzaC1lZDI1NTE5
 AAAAQBlktTd/mEDou/v8wqq4hx62ks19SgMdEDh0Hg6XSjWGG/CpZC04wfaQiN85BpztV2
 qmsyxYYPSnrJFcyUpGSQw=
 -----END SSH SIGNATURE-----

signed
";
    const SSH_PUB: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvPqqniP+vP6z9+lIftMwsN9rvdJWxdQ4JXqRif/Qqk fixture@example.com\n";
    const SSH_FINGERPRINT: &str = "SHA256:RVY6OugTixG8wMma28Ik9SlNeANXz7mFnGt0MY3dHvI";

    #[test]
    fn an_ssh_signed_head_reports_the_key_fingerprint_and_a_foreign_one_fails_as_ssh() {
        let c = commit(SignedObjects {
            commit: SSH_COMMIT.as_bytes().to_vec(),
            tag: None,
        });
        let data = BTreeMap::from([
            ("flux.asc".to_string(), FLUX_PUB.to_vec()),
            ("author.sshpub".to_string(), SSH_PUB.as_bytes().to_vec()),
        ]);
        let mixed = TrustedKeys::from_secret_data(&data).expect("keys");
        assert_eq!(
            check(&mixed, GitVerificationMode::Head, &c).expect("verified"),
            format!(
                "verified signature of\n\t- commit '{}' with key '{SSH_FINGERPRINT}'",
                c.id
            )
        );
        let err = check(&keys(), GitVerificationMode::Head, &c).expect_err("pgp keys only");
        assert_eq!(
            err.to_string(),
            format!(
                "signature verification of commit '{}' failed: unable to verify Git commit SSH signature: unable to verify payload with any of the given authorized keys: no SSH public keys were given (Secret entries ending in '.sshpub')",
                c.id
            )
        );
    }

    #[test]
    fn the_legacy_head_mode_is_recorded_as_head() {
        assert_eq!(mode_name(GitVerificationMode::LegacyHead), "HEAD");
        assert_eq!(mode_name(GitVerificationMode::TagAndHEAD), "TagAndHEAD");
    }
}
