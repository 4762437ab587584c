//! Helpers shared by the integration tests: where Flux's reference files live and how to read them.

#![allow(dead_code, reason = "each test binary uses a different subset")]
#![allow(
    clippy::panic,
    reason = "test helpers: a missing reference file must fail the test loudly"
)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `shared/reference/flux`, checked out beside this repository.
pub fn flux_reference() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/flux")
}

/// Every file under `dir` (recursively) whose name ends in `extension`, sorted.
pub fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.to_string_lossy().ends_with(extension) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The YAML documents of a file, as JSON values.
pub fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_yaml_documents(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The YAML documents of a string, as JSON values.
pub fn parse_yaml_documents(text: &str) -> Result<Vec<Value>, String> {
    serde_saphyr::from_multiple::<Value>(text).map_err(|e| e.to_string())
}

/// One YAML document: its text and its value.
pub struct Document {
    /// The document's own YAML text.
    pub yaml: String,
    /// The document parsed as JSON.
    pub value: Value,
}

/// Splits a YAML stream at its `---` separators and parses each document, keeping its text so
/// that typed deserialisation can also run straight from YAML.
pub fn split_yaml_documents(text: &str) -> Result<Vec<Document>, String> {
    let mut chunks = vec![String::new()];
    for line in text.lines() {
        if line.starts_with("---") {
            chunks.push(String::new());
        } else if let Some(chunk) = chunks.last_mut() {
            chunk.push_str(line);
            chunk.push('\n');
        }
    }
    let mut documents = Vec::new();
    for yaml in chunks {
        for value in parse_yaml_documents(&yaml)? {
            documents.push(Document {
                yaml: yaml.clone(),
                value,
            });
        }
    }
    Ok(documents)
}
