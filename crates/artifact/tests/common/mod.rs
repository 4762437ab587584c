//! Builders shared by the integration tests: source trees on disk and hand-made tarballs.
#![allow(dead_code, clippy::unwrap_used)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use tar::{EntryType, Header};

/// Writes files into a directory, creating parents.
pub struct Tree {
    pub root: PathBuf,
}

impl Tree {
    pub fn at(root: &Path) -> Self {
        fs::create_dir_all(root).unwrap();
        Tree {
            root: root.to_path_buf(),
        }
    }

    pub fn file(&self, rel: &str, content: &str) -> &Self {
        let path = self.root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        self
    }

    pub fn executable(&self, rel: &str, content: &str) -> &Self {
        self.file(rel, content);
        fs::set_permissions(self.root.join(rel), fs::Permissions::from_mode(0o755)).unwrap();
        self
    }

    pub fn symlink(&self, rel: &str, target: &str) -> &Self {
        let path = self.root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
        self
    }

    pub fn dir(&self, rel: &str) -> &Self {
        fs::create_dir_all(self.root.join(rel)).unwrap();
        self
    }
}

/// All regular files under `root`, relative, sorted, with their contents.
pub fn files_in(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    collect(root, root, &mut out);
    out.sort();
    out
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let ft = entry.file_type().unwrap();
        if ft.is_dir() {
            collect(root, &path, out);
        } else if ft.is_file() {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((rel, fs::read_to_string(&path).unwrap_or_default()));
        }
    }
}

/// A tarball built entry by entry with raw names, so hostile names the `tar` crate's safe
/// setters refuse (`..`, absolute paths) can be written.
pub struct EvilTar {
    builder: tar::Builder<Vec<u8>>,
}

impl EvilTar {
    pub fn new() -> Self {
        EvilTar {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn header(name: &str, kind: EntryType, size: u64, link: Option<&str>) -> Header {
        let mut header = Header::new_gnu();
        {
            let raw = &mut header.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
        }
        if let Some(link) = link {
            let raw = &mut header.as_old_mut().linkname;
            raw[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_size(size);
        header.set_cksum();
        header
    }

    pub fn file(mut self, name: &str, content: &[u8]) -> Self {
        let header = Self::header(name, EntryType::Regular, content.len() as u64, None);
        self.builder.append(&header, content).unwrap();
        self
    }

    /// A file header claiming `size` bytes of zeros, streamed without holding them in memory.
    pub fn zeros(mut self, name: &str, size: u64) -> Self {
        let header = Self::header(name, EntryType::Regular, size, None);
        self.builder
            .append(&header, std::io::repeat(0).take_exact(size))
            .unwrap();
        self
    }

    /// A file header claiming `size` bytes with the data left out: enough for readers that
    /// check the declared size before reading.
    pub fn header_only(mut self, name: &str, size: u64) -> Self {
        let header = Self::header(name, EntryType::Regular, size, None);
        self.builder.get_mut().extend_from_slice(header.as_bytes());
        self
    }

    /// A GNU long-name extension entry of `size` bytes, which readers buffer in memory whole.
    pub fn long_name_bomb(mut self, size: u64) -> Self {
        let header = Self::header("././@LongLink", EntryType::GNULongName, size, None);
        self.builder
            .append(&header, std::io::repeat(b'a').take_exact(size))
            .unwrap();
        self
    }

    pub fn dir(mut self, name: &str) -> Self {
        let header = Self::header(name, EntryType::Directory, 0, None);
        self.builder.append(&header, std::io::empty()).unwrap();
        self
    }

    pub fn symlink(mut self, name: &str, target: &str) -> Self {
        let header = Self::header(name, EntryType::Symlink, 0, Some(target));
        self.builder.append(&header, std::io::empty()).unwrap();
        self
    }

    pub fn hardlink(mut self, name: &str, target: &str) -> Self {
        let header = Self::header(name, EntryType::Link, 0, Some(target));
        self.builder.append(&header, std::io::empty()).unwrap();
        self
    }

    pub fn tar(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }

    pub fn tar_gz(self) -> Vec<u8> {
        gzip(&self.tar())
    }
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

trait TakeExact: std::io::Read + Sized {
    fn take_exact(self, n: u64) -> std::io::Take<Self> {
        self.take(n)
    }
}

impl<R: std::io::Read> TakeExact for R {}

/// sha256 digest string of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}
