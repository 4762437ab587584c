//! SOPS decryption in sops's own file format, for kustomize-controller.
//!
//! - [`Keyring::from_secret_data`] reads a Flux decryption Secret (age and
//!   OpenPGP keys).
//! - [`decrypt`] turns a sops-encrypted YAML, JSON, dotenv or binary file into
//!   what `sops -d` prints; [`is_encrypted`] tells whether a file is one.
//! - [`decrypt_manifest`] and [`decrypt_generator_sources`] apply Flux's rules
//!   for resources and for secretGenerator sources.
//!
//! Nothing here logs, and no error or `Debug` output carries a secret.

mod cipher;
mod datakey;
mod dotenv;
mod error;
mod flux;
mod json;
mod keys;
mod metadata;
mod paths;
mod resolve;
mod shamir;
mod tree;
mod walk;
mod yaml_in;
mod yaml_out;

use std::path::Path;

pub use error::SopsError;
pub use flux::{decrypt_generator_sources, decrypt_manifest};
pub use keys::Keyring;

use crate::metadata::Metadata;
use crate::tree::{Branch, Value};

/// The largest encrypted input accepted, Flux's limit for an encrypted file (5 MiB).
pub const MAX_INPUT_BYTES: usize = 5 << 20;

/// sops's file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
    Dotenv,
    /// Any other file: sops stores it as JSON with the content under `data`.
    Binary,
}

impl Format {
    /// The format sops infers from a file name: `.yaml`/`.yml`, `.json`,
    /// `.env`, anything else binary. (sops also reads `.ini`, which this
    /// crate does not support; such files come out as binary.)
    pub fn from_path(path: impl AsRef<Path>) -> Self {
        let name = path.as_ref().to_string_lossy();
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            Format::Yaml
        } else if name.ends_with(".json") {
            Format::Json
        } else if name.ends_with(".env") {
            Format::Dotenv
        } else {
            Format::Binary
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Yaml => "YAML",
            Format::Json => "JSON",
            Format::Dotenv => "dotenv",
            Format::Binary => "binary",
        }
    }
}

/// Decrypts a sops file as `sops -d` does, MAC verified: a file whose values
/// were altered is an error.
pub fn decrypt(data: &[u8], format: Format, keys: &Keyring) -> Result<Vec<u8>, SopsError> {
    decrypt_as(data, format, format, keys, true)
}

/// Decrypts `data` read as `input` and prints it as `output`. With
/// `verify_mac` off the MAC is not checked (Flux's default for resources,
/// which kustomize has already changed).
pub fn decrypt_as(
    data: &[u8],
    input: Format,
    output: Format,
    keys: &Keyring,
    verify_mac: bool,
) -> Result<Vec<u8>, SopsError> {
    if data.len() > MAX_INPUT_BYTES {
        return Err(SopsError::TooLarge {
            size: data.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    let text = std::str::from_utf8(data)
        .map_err(|_| SopsError::parse(input.name(), "input is not UTF-8"))?;
    let (mut branches, meta) = load(text, input)?;
    let key = datakey::data_key(&meta, keys)?;
    let mac = walk::decrypt_branches(&mut branches, &meta, &key)?;
    if verify_mac {
        walk::verify_mac(&meta, &key, &mac)?;
    }
    emit(&branches, output)
}

/// Whether `data` is a sops-encrypted file of this format (it carries sops
/// metadata with a MAC).
pub fn is_encrypted(data: &[u8], format: Format) -> bool {
    if data.len() > MAX_INPUT_BYTES {
        return false;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    match split_metadata(text, format) {
        Ok((_, Some(meta))) => tree::get(&meta, "mac").is_some_and(|m| !matches!(m, Value::Null)),
        _ => false,
    }
}

/// Parses a file and separates its documents from the `sops` metadata.
fn split_metadata(text: &str, format: Format) -> Result<(Vec<Branch>, Option<Branch>), SopsError> {
    match format {
        Format::Yaml => {
            let mut docs = yaml_in::parse(text)?;
            let mut meta = None;
            for (i, doc) in docs.iter_mut().enumerate() {
                // sops reads the metadata of the first document and drops the
                // `sops` key of every document.
                let mut found = Vec::new();
                doc.retain(|item| {
                    if item.key_str() == Some("sops") {
                        found.push(item.value.clone());
                        false
                    } else {
                        true
                    }
                });
                if i == 0 {
                    if found.len() > 1 {
                        return Err(SopsError::Metadata("Found duplicate sops entry".into()));
                    }
                    if let Some(v) = found.pop() {
                        match v {
                            Value::Map(m) => meta = Some(m),
                            _ => {
                                return Err(SopsError::Metadata(
                                    "Found sops entry that is not a mapping".into(),
                                ));
                            }
                        }
                    }
                }
            }
            Ok((docs, meta))
        }
        Format::Json | Format::Binary => {
            let mut doc = json::parse(text)?;
            let mut meta = None;
            let mut bad = false;
            doc.retain(|item| {
                if item.key_str() == Some("sops") {
                    match &item.value {
                        Value::Map(m) if meta.is_none() => meta = Some(m.clone()),
                        _ => bad = true,
                    }
                    false
                } else {
                    true
                }
            });
            if bad {
                return Err(SopsError::Metadata(
                    "the sops entry is not a single mapping".into(),
                ));
            }
            Ok((vec![doc], meta))
        }
        Format::Dotenv => {
            let mut doc = dotenv::parse(text)?;
            let meta = dotenv::extract_metadata(&mut doc)?;
            Ok((vec![doc], meta))
        }
    }
}

fn load(text: &str, format: Format) -> Result<(Vec<Branch>, Metadata), SopsError> {
    let (branches, meta) = split_metadata(text, format)?;
    let meta = meta.ok_or(SopsError::MetadataNotFound)?;
    Ok((branches, Metadata::from_branch(&meta)?))
}

fn emit(branches: &[Branch], format: Format) -> Result<Vec<u8>, SopsError> {
    let one = || {
        branches.first().ok_or_else(|| SopsError::Emit {
            format: format.name(),
            message: "there must be exactly one document".into(),
        })
    };
    Ok(match format {
        Format::Yaml => yaml_out::emit(branches).into_bytes(),
        Format::Json => json::emit(one()?)?.into_bytes(),
        Format::Dotenv => dotenv::emit(one()?)?.into_bytes(),
        Format::Binary => match tree::get(one()?, "data") {
            Some(Value::Str(s)) => s.clone().into_bytes(),
            Some(_) => {
                return Err(SopsError::Emit {
                    format: "binary",
                    message: "'data' key in tree does not have a string value".into(),
                });
            }
            None => {
                return Err(SopsError::Emit {
                    format: "binary",
                    message: "no binary data found in tree".into(),
                });
            }
        },
    })
}
