//! The Git objects verification works on: the raw commit and tag a checkout kept, and how
//! their signatures are cut out of them.
//!
//! Git keeps a commit's signature in its `gpgsig` header (continuation lines start with a
//! space) and signs the object without that header; an annotated tag carries its signature
//! appended to the message and signs everything before it. Both carry OpenPGP and SSH
//! signatures the same way.

use super::{PGP_BEGIN, SSH_BEGIN};

/// Raw Git objects a checkout keeps so their signatures can be verified.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignedObjects {
    /// The commit object's content (no `commit <len>\0` prefix).
    pub commit: Vec<u8>,
    /// The tag the checkout went through (`ref.tag`, `ref.semver` or a `refs/tags/` name).
    pub tag: Option<Box<TagObject>>,
}

/// A tag the checkout resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagObject {
    /// Short tag name, e.g. `v1.2.0`.
    pub name: String,
    /// Id of the tag object (annotated) or of the commit (lightweight).
    pub id: String,
    /// Content of the tag object; `None` for a lightweight tag, which cannot be signed.
    pub content: Option<Vec<u8>>,
}

impl TagObject {
    /// Flux's rendering of a tag, `<name>@sha1:<id>`.
    pub fn display(&self) -> String {
        format!("{}@sha1:{}", self.name, self.id)
    }
}

/// The tag object behind the local ref `full_name` (fetched by the checkout).
pub(crate) fn read_tag(
    repo: &gix::Repository,
    full_name: &str,
) -> Result<TagObject, crate::error::GitError> {
    use crate::error::GitError;
    let name = full_name
        .strip_prefix("refs/tags/")
        .unwrap_or(full_name)
        .to_string();
    let reference = repo.find_reference(full_name).map_err(GitError::object)?;
    // The ref's own target: the tag object for an annotated tag, the commit otherwise.
    let target = reference
        .target()
        .try_id()
        .map(|id| id.to_owned())
        .ok_or_else(|| GitError::object(format!("tag ref '{full_name}' is symbolic")))?;
    let object = repo.find_object(target).map_err(GitError::object)?;
    let content = (object.kind == gix::object::Kind::Tag).then(|| object.data.clone());
    Ok(TagObject {
        name,
        id: target.to_hex().to_string(),
        content,
    })
}

/// Whether an annotated tag object carries a signature (OpenPGP or SSH).
pub fn tag_is_signed(tag: &[u8]) -> bool {
    !split_tag(tag).0.is_empty()
}

/// A commit's signature (the `gpgsig` header value, continuation spaces removed) and the
/// bytes it signs (the object without that header). No header: an empty signature.
pub fn split_commit(commit: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let headers_end = commit
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|p| p + 1)
        .unwrap_or(commit.len());
    let (headers, body) = commit.split_at(headers_end);
    let mut signature = Vec::new();
    let mut payload = Vec::with_capacity(commit.len());
    let mut in_signature = false;
    for line in headers.split_inclusive(|b| *b == b'\n') {
        if in_signature && line.first() == Some(&b' ') {
            signature.extend_from_slice(&line[1..]);
            continue;
        }
        in_signature = false;
        // SHA-256 repositories sign with `gpgsig-sha256`; this crate reads SHA-1 ones, whose
        // payload excludes both headers as git does.
        if let Some(value) = line
            .strip_prefix(b"gpgsig ")
            .or_else(|| line.strip_prefix(b"gpgsig-sha256 "))
        {
            in_signature = true;
            if signature.is_empty() {
                signature.extend_from_slice(value);
            }
            continue;
        }
        payload.extend_from_slice(line);
    }
    payload.extend_from_slice(body);
    (signature, payload)
}

/// A tag's signature (from the first line opening a signature block to the end) and the
/// bytes it signs (everything before). No signature block: an empty signature.
pub fn split_tag(tag: &[u8]) -> (&[u8], &[u8]) {
    let mut offset = 0;
    for line in tag.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(PGP_BEGIN) || line.starts_with(SSH_BEGIN) {
            return (&tag[offset..], &tag[..offset]);
        }
        offset += line.len();
    }
    (&[], tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::TrustedKeys;

    #[test]
    fn the_gpgsig_header_is_lifted_out_of_the_signed_payload() {
        let commit = b"tree t\nparent p\nauthor a\ncommitter c\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n -----END PGP SIGNATURE-----\n\nmsg\n";
        let (signature, payload) = split_commit(commit);
        assert_eq!(
            signature,
            b"-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n"
        );
        assert_eq!(payload, b"tree t\nparent p\nauthor a\ncommitter c\n\nmsg\n");
    }

    #[test]
    fn a_commit_without_signature_has_an_empty_one_and_is_reported_unsigned() {
        let (signature, payload) = split_commit(b"tree t\n\nmsg gpgsig x\n");
        assert!(signature.is_empty());
        assert_eq!(payload, b"tree t\n\nmsg gpgsig x\n");
        let err = TrustedKeys::default()
            .verify_commit(b"tree t\n\nmsg\n")
            .expect_err("unsigned");
        assert_eq!(
            err.to_string(),
            "unable to verify payload as the provided signature is empty"
        );
    }

    #[test]
    fn a_tag_signature_starts_at_the_first_signature_line() {
        let tag = b"object o\ntype commit\ntag v1\ntagger t\n\nrelease\n-----BEGIN PGP SIGNATURE-----\n\nxyz\n-----END PGP SIGNATURE-----\n";
        let (signature, payload) = split_tag(tag);
        assert!(signature.starts_with(PGP_BEGIN));
        assert_eq!(
            payload,
            b"object o\ntype commit\ntag v1\ntagger t\n\nrelease\n"
        );
        assert!(tag_is_signed(tag));
        assert!(!tag_is_signed(b"object o\n\nrelease\n"));
    }
}
