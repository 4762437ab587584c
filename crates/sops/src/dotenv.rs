//! dotenv files as sops's dotenv store reads and writes them: `KEY=value`
//! lines with `\n` escapes, `#` comment lines, and the metadata flattened
//! into `sops_…` keys (`__map_` and `__list_N` separators).

use crate::error::SopsError;
use crate::tree::{Branch, Item, Key, Value, go_format_f};

const PREFIX: &str = "sops_";

/// Parses a dotenv file into one branch.
pub(crate) fn parse(text: &str) -> Result<Branch, SopsError> {
    let mut branch = Branch::new();
    for line in text.split('\n') {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            branch.push(Item::comment(comment, false));
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| {
            SopsError::parse("dotenv", "a line has no '=' (invalid dotenv input line)")
        })?;
        branch.push(Item::new(key, Value::Str(value.replace("\\n", "\n"))));
    }
    Ok(branch)
}

/// Takes the `sops_…` entries out of `branch` and rebuilds the metadata
/// mapping from their flattened keys.
pub(crate) fn extract_metadata(branch: &mut Branch) -> Result<Option<Branch>, SopsError> {
    let mut flat = Vec::new();
    branch.retain(
        |item| match item.key_str().and_then(|k| k.strip_prefix(PREFIX)) {
            Some(rest) => {
                flat.push((rest.to_owned(), item.value.clone()));
                false
            }
            None => true,
        },
    );
    if flat.is_empty() {
        return Ok(None);
    }
    let mut root = Branch::new();
    for (path, value) in flat {
        place(&mut root, &tokens(&path), value)?;
    }
    Ok(Some(root))
}

enum Token {
    Map(String),
    List(usize),
}

fn tokens(path: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut rest = path;
    let mut current_is_list = false;
    loop {
        let next = [rest.find("__map_"), rest.find("__list_")]
            .into_iter()
            .flatten()
            .min();
        let (head, tail) = match next {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        out.push(if current_is_list {
            Token::List(head.parse().unwrap_or(0))
        } else {
            Token::Map(head.to_owned())
        });
        match tail {
            Some(t) if t.starts_with("__map_") => {
                current_is_list = false;
                rest = &t["__map_".len()..];
            }
            Some(t) => {
                current_is_list = true;
                rest = &t["__list_".len()..];
            }
            None => return out,
        }
    }
}

fn place(root: &mut Branch, path: &[Token], value: Value) -> Result<(), SopsError> {
    let bad = || SopsError::Metadata("the flattened sops_ keys do not form a tree".into());
    let Some((first, rest)) = path.split_first() else {
        return Err(bad());
    };
    let Token::Map(key) = first else {
        return Err(bad());
    };
    let pos = match root.iter().position(|i| i.key_str() == Some(key)) {
        Some(p) => p,
        None => {
            root.push(Item::new(key.clone(), Value::Null));
            root.len() - 1
        }
    };
    place_value(&mut root[pos].value, rest, value)
}

fn place_value(slot: &mut Value, path: &[Token], value: Value) -> Result<(), SopsError> {
    let bad = || SopsError::Metadata("the flattened sops_ keys do not form a tree".into());
    match path.first() {
        None => {
            *slot = value;
            Ok(())
        }
        Some(Token::Map(_)) => {
            if matches!(slot, Value::Null) {
                *slot = Value::Map(Branch::new());
            }
            let Value::Map(b) = slot else {
                return Err(bad());
            };
            place(b, path, value)
        }
        Some(Token::List(n)) => {
            if matches!(slot, Value::Null) {
                *slot = Value::Seq(Vec::new());
            }
            let Value::Seq(items) = slot else {
                return Err(bad());
            };
            if *n > 10_000 {
                return Err(bad());
            }
            while items.len() <= *n {
                items.push(Value::Null);
            }
            place_value(&mut items[*n], &path[1..], value)
        }
    }
}

/// The branch as sops prints a dotenv file.
pub(crate) fn emit(branch: &Branch) -> Result<String, SopsError> {
    let mut out = String::new();
    for item in branch {
        match &item.key {
            Key::Comment(c) => {
                out.push('#');
                out.push_str(&c.text);
                out.push('\n');
            }
            Key::Str(k) => {
                let v = match &item.value {
                    Value::Str(s) => s.replace('\n', "\\n"),
                    Value::Int(i) => i.to_string(),
                    Value::Float(f) => dotenv_float(*f),
                    Value::Bool(b) => b.to_string(),
                    Value::Time(t) => t.clone(),
                    Value::Null => "<nil>".into(),
                    Value::Map(_) | Value::Seq(_) | Value::Comment(_) => {
                        return Err(SopsError::Emit {
                            format: "dotenv",
                            message: format!(
                                "cannot use complex value in dotenv file; offending key {k}"
                            ),
                        });
                    }
                };
                out.push_str(k);
                out.push('=');
                out.push_str(&v);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// sops's float text for dotenv: Go's `%G`, with `.0` added to whole numbers.
fn dotenv_float(f: f64) -> String {
    if !f.is_finite() {
        return go_format_f(f);
    }
    let g = crate::yaml_out::go_format_g(f).to_uppercase();
    if g.contains('.') || g.contains('E') {
        return g;
    }
    format!("{}.0", go_format_f(f))
}
