//! The objects a push must send and the version-2 packfile that carries them.
//!
//! The remote already has the commit the clone started from (it came from there), so the
//! new objects are the commits made since, plus the trees and blobs whose ids differ from
//! those of each commit's parent: only the directories on the path of a change are walked.
//! Objects are stored whole (no deltas) and zlib-compressed, which every receive-pack
//! accepts; a setter update is a handful of small objects.

use std::collections::HashSet;
use std::io::Write as _;

use gix::ObjectId;
use gix::objs::tree::EntryKind;

use crate::error::GitError;

/// Commits walked back from the tip before giving up on finding the base.
const MAX_NEW_COMMITS: usize = 10_000;

/// Objects reachable from `tip` that are not reachable from `base`, assuming `base` is a
/// first-parent ancestor of `tip` (the clone only ever commits on top of its tip).
pub(crate) fn new_objects(
    repo: &gix::Repository,
    tip: ObjectId,
    base: ObjectId,
) -> Result<Vec<ObjectId>, GitError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut current = tip;
    for _ in 0..MAX_NEW_COMMITS {
        if current == base {
            return Ok(out);
        }
        let commit = repo.find_commit(current).map_err(GitError::object)?;
        let tree = commit.tree_id().map_err(GitError::object)?.detach();
        let parent = commit.parent_ids().next().map(|p| p.detach());
        let parent_tree = match parent {
            Some(p) => Some(
                repo.find_commit(p)
                    .and_then(|c| c.tree_id())
                    .map_err(GitError::object)?
                    .detach(),
            ),
            None => None,
        };
        out.push(current);
        changed_tree(repo, tree, parent_tree, &mut seen, &mut out)?;
        match parent {
            Some(p) => current = p,
            None => break,
        }
    }
    Err(GitError::Object {
        detail: format!("commit {base} is not an ancestor of {tip}"),
    })
}

/// Add `tree` and every entry below it that differs from `old` (the same directory in the
/// parent commit), recursing only into subtrees whose id changed.
fn changed_tree(
    repo: &gix::Repository,
    tree: ObjectId,
    old: Option<ObjectId>,
    seen: &mut HashSet<ObjectId>,
    out: &mut Vec<ObjectId>,
) -> Result<(), GitError> {
    if old == Some(tree) || !seen.insert(tree) {
        return Ok(());
    }
    out.push(tree);
    let old_entries: Vec<(Vec<u8>, ObjectId, bool)> = match old {
        Some(old) => entries(repo, old)?,
        None => Vec::new(),
    };
    for (name, id, is_tree) in entries(repo, tree)? {
        let before = old_entries.iter().find(|(n, _, _)| *n == name);
        if before.map(|(_, old_id, _)| *old_id) == Some(id) {
            continue;
        }
        if is_tree {
            let old_subtree = before.filter(|(_, _, t)| *t).map(|(_, old_id, _)| *old_id);
            changed_tree(repo, id, old_subtree, seen, out)?;
        } else if seen.insert(id) {
            out.push(id);
        }
    }
    Ok(())
}

/// (name, id, is_tree) of each entry; submodule commits are skipped (never sent).
fn entries(
    repo: &gix::Repository,
    tree: ObjectId,
) -> Result<Vec<(Vec<u8>, ObjectId, bool)>, GitError> {
    let tree = repo.find_tree(tree).map_err(GitError::object)?;
    let decoded = tree.decode().map_err(GitError::object)?;
    Ok(decoded
        .entries
        .iter()
        .filter(|e| e.mode.kind() != EntryKind::Commit)
        .map(|e| {
            (
                e.filename.to_vec(),
                e.oid.to_owned(),
                e.mode.kind() == EntryKind::Tree,
            )
        })
        .collect())
}

/// A version-2 packfile holding `ids` whole: header, one zlib stream per object, SHA-1.
pub(crate) fn write_pack(repo: &gix::Repository, ids: &[ObjectId]) -> Result<Vec<u8>, GitError> {
    let count = u32::try_from(ids.len()).map_err(GitError::object)?;
    let mut pack = Vec::new();
    pack.extend_from_slice(b"PACK");
    pack.extend_from_slice(&2u32.to_be_bytes());
    pack.extend_from_slice(&count.to_be_bytes());
    for id in ids {
        let object = repo.find_object(*id).map_err(GitError::object)?;
        let type_code = match object.kind {
            gix::objs::Kind::Commit => 1,
            gix::objs::Kind::Tree => 2,
            gix::objs::Kind::Blob => 3,
            gix::objs::Kind::Tag => 4,
        };
        entry_header(&mut pack, type_code, object.data.len() as u64);
        let mut deflate =
            gix::zlib::stream::deflate::Write::new(&mut pack, gix::zlib::Compression::DEFAULT);
        deflate
            .write_all(&object.data)
            .and_then(|()| deflate.flush())
            .map_err(GitError::object)?;
    }
    let mut hasher = gix::hash::hasher(gix::hash::Kind::Sha1);
    hasher.update(&pack);
    let checksum = hasher.try_finalize().map_err(GitError::object)?;
    pack.extend_from_slice(checksum.as_bytes());
    Ok(pack)
}

/// Type in bits 4-6 of the first byte, size as a little-endian base-128 number whose first
/// group has four bits; the high bit of each byte says another follows.
fn entry_header(out: &mut Vec<u8>, type_code: u8, size: u64) {
    let mut byte = (type_code << 4) | (size & 0x0f) as u8;
    let mut rest = size >> 4;
    while rest != 0 {
        out.push(byte | 0x80);
        byte = (rest & 0x7f) as u8;
        rest >>= 7;
    }
    out.push(byte);
}

#[cfg(test)]
mod tests {
    use super::entry_header;

    #[test]
    fn entry_header_packs_type_and_size_like_git() {
        let mut small = Vec::new();
        entry_header(&mut small, 3, 10);
        assert_eq!(small, [0x3a]);
        // 300 = 0b1_0010_1100: low nibble 0xc, then 0b1_0010 = 18.
        let mut large = Vec::new();
        entry_header(&mut large, 1, 300);
        assert_eq!(large, [0x9c, 0x12]);
    }
}
