//! Flux kustomize-controller's decryption rules.
//!
//! - A resource with a top-level `sops` mapping that has a `mac` is decrypted
//!   as a whole. Its MAC is not checked: kustomize has changed the resource
//!   since it was encrypted (labels, namespaces), so Flux skips the check.
//! - A Secret without sops metadata may hold whole sops-encrypted files in
//!   `data` (a secretGenerator over encrypted files): each value that
//!   carries a sops marker is decrypted, read in the format its marker says
//!   and printed in the format its key's extension says.
//! - Before the build, the encrypted files that secretGenerators (`files`,
//!   `envs`) and `patches` refer to are decrypted in place, through every
//!   kustomization reachable by `resources` and `components` under the root.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::SopsError;
use crate::keys::Keyring;
use crate::metadata::Metadata;
use crate::paths::secure_join;
use crate::tree::{Branch, Value, get};
use crate::{Format, MAX_INPUT_BYTES, datakey, decrypt_as, walk, yaml_in, yaml_out};

const DECRYPT_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/decrypt";

/// Decrypts one resource (a single YAML document) by Flux's rules. `None`
/// means there is nothing to decrypt and the document stays as it is.
pub fn decrypt_manifest(yaml_document: &str, keys: &Keyring) -> Result<Option<String>, SopsError> {
    if yaml_document.len() > MAX_INPUT_BYTES {
        return Err(SopsError::TooLarge {
            size: yaml_document.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    let mut docs = yaml_in::parse(yaml_document)?;
    if docs.len() != 1 {
        return Err(SopsError::parse(
            "YAML",
            format!("expected one document, found {}", docs.len()),
        ));
    }
    let mut doc = docs.remove(0);
    if decryption_disabled(&doc) {
        return Ok(None);
    }
    if is_sops_resource(&doc) {
        let meta = match get(&doc, "sops") {
            Some(Value::Map(m)) => Metadata::from_branch(m)?,
            _ => return Err(SopsError::MetadataNotFound),
        };
        doc.retain(|i| i.key_str() != Some("sops"));
        let key = datakey::data_key(&meta, keys)?;
        let mut branches = vec![doc];
        walk::decrypt_branches(&mut branches, &meta, &key)?;
        return Ok(Some(yaml_out::emit(&branches)));
    }
    if doc_str(&doc, &["kind"]) != Some("Secret") {
        return Ok(None);
    }
    let mut changed = false;
    let Some(data) = doc.iter_mut().find(|i| i.key_str() == Some("data")) else {
        return Ok(None);
    };
    let Value::Map(entries) = &mut data.value else {
        return Ok(None);
    };
    for entry in entries.iter_mut() {
        let (Some(field), Value::Str(encoded)) = (entry.key_str().map(str::to_owned), &entry.value)
        else {
            continue;
        };
        // Not base64: a user error that the apply reports, as in Flux.
        let Ok(bytes) = STANDARD.decode(encoded.trim()) else {
            continue;
        };
        let Some(input) = detect_format(&bytes) else {
            if bytes.windows(6).any(|w| w == b"[sops]") {
                // Flux would decrypt a sops INI file here; say so rather than
                // apply the ciphertext.
                return Err(SopsError::SecretField {
                    field,
                    source: Box::new(SopsError::parse(
                        "INI",
                        "sops INI files are not supported by driftless",
                    )),
                });
            }
            continue;
        };
        let output = format_for_key(&field);
        let plain =
            decrypt_as(&bytes, input, output, keys, false).map_err(|e| SopsError::SecretField {
                field: field.clone(),
                source: Box::new(e),
            })?;
        entry.value = Value::Str(STANDARD.encode(plain));
        changed = true;
    }
    Ok(changed.then(|| yaml_out::emit(&[doc])))
}

fn doc_str<'a>(doc: &'a Branch, path: &[&str]) -> Option<&'a str> {
    let (last, parents) = path.split_last()?;
    let mut b = doc;
    for p in parents {
        b = get(b, p)?.as_map()?;
    }
    get(b, last)?.as_str()
}

fn decryption_disabled(doc: &Branch) -> bool {
    doc_str(doc, &["metadata", "annotations", DECRYPT_ANNOTATION])
        .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
}

/// Flux's test: a non-empty `sops` field whose `mac` is non-empty.
fn is_sops_resource(doc: &Branch) -> bool {
    match get(doc, "sops") {
        Some(Value::Map(m)) => get(m, "mac").is_some_and(|mac| match mac {
            Value::Null => false,
            Value::Str(s) => !s.is_empty(),
            _ => true,
        }),
        _ => false,
    }
}

/// The format of an encrypted file, from the marker bytes Flux looks for.
fn detect_format(bytes: &[u8]) -> Option<Format> {
    let has = |m: &[u8]| bytes.windows(m.len()).any(|w| w == m);
    if has(b"\"mac\": \"ENC[") {
        Some(Format::Json)
    } else if has(b"sops_mac=ENC[") {
        Some(Format::Dotenv)
    } else if has(b"mac: ENC[") {
        Some(Format::Yaml)
    } else {
        None
    }
}

/// The marker that says a file of this format is encrypted.
fn marker(format: Format) -> &'static [u8] {
    match format {
        Format::Json | Format::Binary => b"\"mac\": \"ENC[",
        Format::Dotenv => b"sops_mac=ENC[",
        Format::Yaml => b"mac: ENC[",
    }
}

/// Flux's format for a data key or file: `.dockerconfigjson` is JSON,
/// otherwise sops's inference from the extension.
fn format_for_key(key: &str) -> Format {
    if key.ends_with(".dockerconfigjson") {
        Format::Json
    } else {
        Format::from_path(key)
    }
}

const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Decrypts, in place, the sops-encrypted files that secretGenerator `files`
/// and `envs` and `patches` paths refer to, in the kustomization at
/// `kustomization_dir` and every kustomization it reaches through
/// `resources` and `components`. Paths cannot leave `root` (`..` stops at
/// it, symbolic links resolve inside it). Returns the files rewritten.
pub fn decrypt_generator_sources(
    kustomization_dir: &Path,
    root: &Path,
    keys: &Keyring,
) -> Result<Vec<PathBuf>, SopsError> {
    let mut walker = SourceWalker {
        root,
        keys,
        visited: HashSet::new(),
        decrypted: Vec::new(),
    };
    match walker.visit(kustomization_dir) {
        Ok(()) | Err(Visit::Ignore) => Ok(walker.decrypted),
        Err(Visit::Fail(e)) => Err(e),
    }
}

enum Visit {
    /// A reference that is not a local directory: kustomize resolves it (a
    /// file or a URL), nothing to decrypt.
    Ignore,
    Fail(SopsError),
}

impl From<SopsError> for Visit {
    fn from(e: SopsError) -> Self {
        Visit::Fail(e)
    }
}

struct SourceWalker<'a> {
    root: &'a Path,
    keys: &'a Keyring,
    visited: HashSet<PathBuf>,
    decrypted: Vec<PathBuf>,
}

impl SourceWalker<'_> {
    fn join(&self, path: &Path) -> Result<PathBuf, SopsError> {
        secure_join(self.root, path).map_err(|message| SopsError::File {
            path: path.to_path_buf(),
            message,
        })
    }

    fn visit(&mut self, dir: &Path) -> Result<(), Visit> {
        let abs = self.join(dir)?;
        if !self.visited.insert(abs.clone()) {
            return Ok(());
        }
        match std::fs::symlink_metadata(&abs) {
            Ok(m) if m.is_dir() => {}
            _ => return Err(Visit::Ignore),
        }
        let kustomization = self.load_kustomization(&abs)?;
        let rel_dir = abs.strip_prefix(self.root).unwrap_or(&abs).to_path_buf();
        for generator in list(&kustomization, "secretGenerator") {
            let Some(generator) = generator.as_map() else {
                continue;
            };
            for source in strings(generator, "files") {
                let (key, file) = source.split_once('=').unwrap_or((source, source));
                self.decrypt_file(&rel_dir, file, format_for_key(key))?;
            }
            for env in strings(generator, "envs") {
                let format = match format_for_key(env) {
                    Format::Binary => Format::Dotenv,
                    f => f,
                };
                self.decrypt_file(&rel_dir, env, format)?;
            }
        }
        for patch in list(&kustomization, "patches") {
            let Some(path) = patch
                .as_map()
                .and_then(|p| get(p, "path"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            if path.is_empty() || is_remote_url(path) {
                continue;
            }
            self.decrypt_file(&rel_dir, path, format_for_key(path))?;
        }
        let refs: Vec<String> = strings(&kustomization, "resources")
            .chain(strings(&kustomization, "components"))
            .map(str::to_owned)
            .collect();
        for r in refs {
            match self.visit(&rel_dir.join(&r)) {
                Ok(()) | Err(Visit::Ignore) => {}
                Err(fail) => return Err(fail),
            }
        }
        Ok(())
    }

    fn load_kustomization(&self, dir: &Path) -> Result<Branch, SopsError> {
        let mut found = None;
        for name in KUSTOMIZATION_FILES {
            let path = dir.join(name);
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                return Err(self.file_err(&path, format!("expected {name} to be a regular file")));
            }
            if found.is_some() {
                return Err(self.file_err(dir, "found multiple kustomization files".into()));
            }
            found = Some(path);
        }
        let path = found.ok_or_else(|| self.file_err(dir, "no kustomization file found".into()))?;
        let text = read_bounded(&path).map_err(|message| self.file_err(&path, message))?;
        let mut docs = yaml_in::parse(&text).map_err(|e| self.file_err(&path, e.to_string()))?;
        Ok(if docs.is_empty() {
            Branch::new()
        } else {
            docs.remove(0)
        })
    }

    fn file_err(&self, path: &Path, message: String) -> SopsError {
        SopsError::File {
            path: path.strip_prefix(self.root).unwrap_or(path).to_path_buf(),
            message,
        }
    }

    fn decrypt_file(&mut self, dir: &Path, file: &str, format: Format) -> Result<(), SopsError> {
        let abs = self.join(&dir.join(file))?;
        if self.decrypted.contains(&abs) {
            return Ok(());
        }
        let meta =
            std::fs::symlink_metadata(&abs).map_err(|e| self.file_err(&abs, e.to_string()))?;
        if !meta.is_file() {
            return Err(self.file_err(
                &abs,
                "cannot decrypt irregular file as it has file mode type bits set".into(),
            ));
        }
        let size = usize::try_from(meta.len()).unwrap_or(usize::MAX);
        if size > MAX_INPUT_BYTES {
            return Err(self.file_err(
                &abs,
                format!("cannot decrypt file with size ({size} bytes) exceeding limit ({MAX_INPUT_BYTES})"),
            ));
        }
        let data = std::fs::read(&abs).map_err(|e| self.file_err(&abs, e.to_string()))?;
        let m = marker(format);
        if !data.windows(m.len()).any(|w| w == m) {
            return Ok(());
        }
        let plain = decrypt_as(&data, format, format, self.keys, false)
            .map_err(|e| self.file_err(&abs, e.to_string()))?;
        write_private(&abs, &plain).map_err(|e| self.file_err(&abs, e.to_string()))?;
        self.decrypted.push(abs);
        Ok(())
    }
}

fn list<'a>(b: &'a Branch, key: &str) -> impl Iterator<Item = &'a Value> {
    match get(b, key) {
        Some(Value::Seq(items)) => items.as_slice(),
        _ => &[],
    }
    .iter()
}

fn strings<'a>(b: &'a Branch, key: &str) -> impl Iterator<Item = &'a str> {
    list(b, key).filter_map(Value::as_str)
}

fn is_remote_url(path: &str) -> bool {
    match path.split_once("://") {
        Some((scheme, rest)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !rest.is_empty()
                && !rest.starts_with('/')
        }
        None => false,
    }
}

fn read_bounded(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_INPUT_BYTES as u64 {
        return Err(format!("file is larger than {MAX_INPUT_BYTES} bytes"));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

/// Replaces the file's content, readable by its owner only (as Flux writes it).
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    use std::os::unix::fs::PermissionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(data)
}
