//! configMapGenerator and secretGenerator: objects built from literals,
//! files and env files, merged into or replacing existing ones by
//! `behavior`, and named with kustomize's content hash.

use std::path::Path;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::fsys::Loader;
use crate::kustomization::{Generator, GeneratorOptions, Kustomization};
use crate::resource::{Behavior, Resource};
use crate::yaml::{Mapping, Node, Scalar};

pub fn run(
    loader: &Loader,
    kfile: &Path,
    dir: &Path,
    k: &Kustomization,
    res: &mut Vec<Resource>,
) -> Result<(), Error> {
    let global = k.generator_options.clone().unwrap_or_default();
    for (kind, gens) in [
        ("ConfigMap", &k.config_map_generator),
        ("Secret", &k.secret_generator),
    ] {
        for g in gens {
            let field = if kind == "ConfigMap" {
                "configMapGenerator"
            } else {
                "secretGenerator"
            };
            let generated = generate(loader, kfile, dir, field, kind, g, &global)?;
            place(kfile, field, generated, res)?;
        }
    }
    Ok(())
}

fn field_err(kfile: &Path, field: &str, message: String) -> Error {
    Error::Field {
        path: kfile.to_path_buf(),
        field: field.into(),
        message,
    }
}

fn generate(
    loader: &Loader,
    kfile: &Path,
    dir: &Path,
    field: &str,
    kind: &str,
    g: &Generator,
    global: &GeneratorOptions,
) -> Result<Resource, Error> {
    let name = g
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| field_err(kfile, field, "a generator needs a name".into()))?;
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |key: String, value: Vec<u8>| -> Result<(), Error> {
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(field_err(
                kfile,
                field,
                format!("{name}: key {key:?} is given twice"),
            ));
        }
        pairs.push((key, value));
        Ok(())
    };
    for env in g.envs.iter().chain(g.env.as_ref()) {
        let path = loader.resolve_file(kfile, dir, field, env)?;
        for (key, value) in parse_env(&loader.read(&path)?) {
            add(key, value.into_bytes())?;
        }
    }
    for literal in &g.literals {
        let (key, value) = literal.split_once('=').ok_or_else(|| {
            field_err(
                kfile,
                field,
                format!("literal {literal:?} is not KEY=VALUE"),
            )
        })?;
        add(key.to_string(), unquote(value).into_bytes())?;
    }
    for file in &g.files {
        let (key, reference) = match file.split_once('=') {
            Some((k, p)) => (k.to_string(), p),
            None => (
                Path::new(file)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                file.as_str(),
            ),
        };
        let path = loader.resolve_file(kfile, dir, field, reference)?;
        add(key, loader.read_bytes(&path)?)?;
    }

    let options = merged_options(global, g.options.as_ref());
    let mut metadata = Mapping::default();
    metadata.insert("name", Node::string(&name));
    if let Some(ns) = g.namespace.as_ref().filter(|n| !n.is_empty()) {
        metadata.insert("namespace", Node::string(ns));
    }
    for (key, map) in [
        ("labels", &options.labels),
        ("annotations", &options.annotations),
    ] {
        if !map.is_empty() {
            let mut m = Mapping::default();
            for (k, v) in map {
                m.insert(k, Node::string(v));
            }
            metadata.insert(key, Node::Map(m, Default::default()));
        }
    }
    let mut obj = Mapping::default();
    obj.insert("apiVersion", Node::string("v1"));
    obj.insert("kind", Node::string(kind));
    obj.insert("metadata", Node::Map(metadata, Default::default()));
    let mut data = Mapping::default();
    let mut binary = Mapping::default();
    for (key, value) in pairs {
        if kind == "Secret" {
            data.insert(&key, Node::string(wrapped_base64(&value)));
        } else {
            match String::from_utf8(value) {
                Ok(text) => data.insert(&key, Node::string(text)),
                Err(e) => binary.insert(&key, Node::string(wrapped_base64(e.as_bytes()))),
            }
        }
    }
    if kind == "Secret" {
        obj.insert(
            "type",
            Node::string(g.kind.clone().unwrap_or_else(|| "Opaque".into())),
        );
    }
    if !data.entries.is_empty() {
        obj.insert("data", Node::Map(data, Default::default()));
    }
    if !binary.entries.is_empty() {
        obj.insert("binaryData", Node::Map(binary, Default::default()));
    }
    if options.immutable == Some(true) {
        obj.insert("immutable", Node::Scalar(Scalar::plain("true")));
    }
    let mut r = Resource::new(Node::Map(obj, Default::default()));
    r.origin = Some(crate::origin::Origin::builtin(
        kfile,
        &format!("{kind}Generator"),
    ));
    r.needs_hash = options.disable_name_suffix_hash != Some(true);
    r.behavior = match g.behavior.as_deref() {
        Some("merge") => Behavior::Merge,
        Some("replace") => Behavior::Replace,
        // kustomize reads an unknown behavior as unspecified, i.e. create.
        _ => Behavior::Create,
    };
    Ok(r)
}

fn merged_options(global: &GeneratorOptions, own: Option<&GeneratorOptions>) -> GeneratorOptions {
    let mut out = global.clone();
    if let Some(own) = own {
        out.labels.extend(own.labels.clone());
        out.annotations.extend(own.annotations.clone());
        // A global `true` cannot be switched off per generator; the two
        // flags are or-ed, as kustomize merges them (checked against the oracle).
        if own.disable_name_suffix_hash == Some(true) {
            out.disable_name_suffix_hash = Some(true);
        }
        if own.immutable == Some(true) {
            out.immutable = Some(true);
        }
    }
    out
}

/// A literal value loses one pair of surrounding quotes, as in kustomize.
fn unquote(value: &str) -> String {
    for q in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(q) && value.ends_with(q) {
            return value[1..value.len() - 1].to_string();
        }
    }
    value.to_string()
}

/// KEY=VALUE lines; blank lines and `#` comments skipped.
fn parse_env(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| l.trim_start_matches('\u{feff}'))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.trim_start().to_string(), v.to_string()),
            // kustomize fills a bare KEY from its own process environment;
            // a controller's environment is not the user's to read, so the
            // value is always empty (what kustomize gives an unset one).
            None => (l.trim().to_string(), String::new()),
        })
        .collect()
}

/// Adds a generated object, or merges it into / replaces the existing one.
fn place(kfile: &Path, field: &str, new: Resource, res: &mut Vec<Resource>) -> Result<(), Error> {
    // An overlay's generator finds the base's object by the name and
    // namespace it was generated with, even after the base moved it into
    // its own namespace (checked against the oracle).
    let at = res.iter().position(|r| {
        r.kind() == new.kind()
            && r.orig_name == new.orig_name
            && (r.namespace() == new.namespace() || r.orig_namespace == new.orig_namespace)
    });
    match (&new.behavior, at) {
        (Behavior::Create, None) => {
            crate::build::append(res, vec![new])?;
        }
        (Behavior::Create, Some(_)) => {
            return Err(Error::DuplicateId { id: new.id() });
        }
        (_, None) => {
            return Err(field_err(
                kfile,
                field,
                format!(
                    "{}: behavior merge/replace needs an existing object of that name",
                    new.orig_name
                ),
            ));
        }
        (Behavior::Merge, Some(i)) => {
            let old = &mut res[i];
            for key in ["data", "binaryData"] {
                if let Some(Node::Map(src, _)) = new.node.at(&[key])
                    && let Some(obj) = old.node.as_map_mut()
                {
                    let dst = obj.map_entry(key);
                    for (k, v) in &src.entries {
                        dst.insert(&k.value, v.clone());
                    }
                }
            }
            for key in ["labels", "annotations"] {
                if let Some(Node::Map(src, _)) = new.node.at(&["metadata", key])
                    && let Some(obj) = old.node.as_map_mut()
                {
                    let dst = obj.map_entry("metadata").map_entry(key);
                    for (k, v) in &src.entries {
                        dst.insert(&k.value, v.clone());
                    }
                }
            }
            // The merged object keeps the existing one's build annotations:
            // a plain ConfigMap merged with a generator stays unhashed
            // (checked against the oracle).
        }
        (Behavior::Replace, Some(i)) => {
            let orig = res[i].orig_name.clone();
            res[i] = new;
            res[i].orig_name = orig;
        }
    }
    Ok(())
}

/// Appends the content hash to every generated object's name (kustomize
/// does this once, at the top-level kustomization, after all transformers).
pub fn add_hashes(res: &mut [Resource]) {
    for r in res.iter_mut().filter(|r| r.needs_hash) {
        let hash = content_hash(r);
        let name = format!("{}-{hash}", r.name());
        r.set_name(&name);
    }
}

/// kustomize's hash: sha256 of a canonical JSON of kind, name, type and data,
/// first ten hex digits with 0 1 3 a e swapped for letters.
pub fn content_hash(r: &Resource) -> String {
    let field = |key: &str| -> serde_json::Value {
        match r.node.at(&[key]) {
            Some(Node::Map(m, _)) => serde_json::Value::Object(
                m.entries
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.value.clone(),
                            serde_json::Value::String(v.as_str().unwrap_or_default().into()),
                        )
                    })
                    .collect(),
            ),
            Some(Node::Scalar(s)) => serde_json::Value::String(s.value.clone()),
            _ => serde_json::Value::String(String::new()),
        }
    };
    let mut obj = serde_json::Map::new();
    obj.insert("kind".into(), r.kind().into());
    // kustomize's hasher looks the name up with a path its lookup does not
    // resolve, so the name always hashes as "" (checked against the oracle).
    obj.insert("name".into(), "".into());
    obj.insert("data".into(), field("data"));
    if r.kind() == "Secret" {
        obj.insert("type".into(), field("type"));
        if let v @ serde_json::Value::Object(_) = field("stringData") {
            obj.insert("stringData".into(), v);
        }
    } else if let v @ serde_json::Value::Object(_) = field("binaryData") {
        obj.insert("binaryData".into(), v);
    }
    let json = go_json(&serde_json::Value::Object(obj));
    let digest = Sha256::digest(json.as_bytes());
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    hex.chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            other => other,
        })
        .collect()
}

/// Go's `json.Marshal` of a string-only value: sorted keys, `<`, `>`, `&`,
/// U+2028 and U+2029 escaped as `\u00XX`.
fn go_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", go_json_str(k), go_json(&m[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        serde_json::Value::String(s) => go_json_str(s),
        other => other.to_string(),
    }
}

fn go_json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Base64 as kustomize's generators write it: an encoding of 70 characters or more is cut into
/// lines of 70, each ending in a newline (so it prints as a block scalar and the name hash
/// covers the newlines); a shorter one stays on one line.
fn wrapped_base64(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    if encoded.len() < LINE {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    for chunk in encoded.as_bytes().chunks(LINE) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}
