//! Everything that can go wrong while decrypting. Messages name files, keys,
//! tree paths and recipients; they never carry a secret, a key or a value.

use std::path::PathBuf;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum SopsError {
    #[error("input is {size} bytes, more than the {limit}-byte limit for an encrypted file")]
    TooLarge { size: usize, limit: usize },
    #[error("cannot parse {format} input: {message}")]
    Parse {
        format: &'static str,
        message: String,
    },
    #[error("sops metadata not found")]
    MetadataNotFound,
    #[error("invalid sops metadata: {0}")]
    Metadata(String),
    #[error(
        "cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, \
         unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file"
    )]
    ConflictingRules,
    #[error(
        "the file's key groups use {provider}, which driftless does not support (recipient {recipient})"
    )]
    UnsupportedKeyType { provider: String, recipient: String },
    #[error(
        "decryption Secret entry {key:?}: {provider} is not supported by driftless; use age or OpenPGP keys"
    )]
    UnsupportedProvider { key: String, provider: &'static str },
    #[error("decryption Secret entry {key:?}: {reason}")]
    InvalidKey { key: String, reason: String },
    #[error("no key could decrypt the data key; tried: {}", .attempts.join("; "))]
    NoDataKey { attempts: Vec<String> },
    #[error("{recovered} of {groups} key groups decrypted, shamir_threshold needs {threshold}: {}", .attempts.join("; "))]
    ShamirThreshold {
        groups: usize,
        recovered: usize,
        threshold: usize,
        attempts: Vec<String>,
    },
    #[error("could not combine the key group shares: {0}")]
    Shamir(&'static str),
    #[error(
        "value at {path:?} does not match sops' data format ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]"
    )]
    Malformed { path: String },
    #[error("value at {path:?}: {reason}")]
    Value { path: String, reason: String },
    #[error("could not decrypt the value at {path:?} (wrong data key or tampered value)")]
    Decrypt { path: String },
    #[error("MAC mismatch: the file has {file}, its content hashes to {computed}")]
    MacMismatch { file: String, computed: String },
    #[error("cannot decrypt the MAC: {0}")]
    Mac(String),
    #[error("cannot emit the decrypted {format} output: {message}")]
    Emit {
        format: &'static str,
        message: String,
    },
    #[error("Secret field '{field}': {source}")]
    SecretField {
        field: String,
        #[source]
        source: Box<SopsError>,
    },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SopsError {
    pub(crate) fn parse(format: &'static str, message: impl Into<String>) -> Self {
        Self::Parse {
            format,
            message: message.into(),
        }
    }
}
