//! Setter markers and the rewrite of the scalar they sit on, one line at a time.
//!
//! A marker is a line comment holding a JSON object, `# {"$imagepolicy": "<ns>:<name>"}`,
//! optionally with `:tag`, `:name` or `:digest` after the policy name. The scalar before
//! the comment on that line (a mapping value or a sequence item, plain, single- or
//! double-quoted) is replaced by the policy's image, keeping its quoting, and nothing else
//! on the line or in the file changes: the YAML is never parsed and re-serialised, so
//! comments, indentation, key order and blank lines survive byte for byte.
//!
//! Lines this cannot rewrite safely are left alone: block scalars (`|`, `>`), flow
//! collections (`{…}`, `[…]`), aliases, anchors and tags.

/// What a marker asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// `<namespace>:<name>` of the ImagePolicy.
    pub policy: String,
    pub field: Field,
}

impl Marker {
    /// The marker as written, `<ns>:<name>[:field]` (the `Setter` of a change).
    pub fn setter(&self) -> String {
        match self.field.suffix() {
            Some(suffix) => format!("{}:{suffix}", self.policy),
            None => self.policy.clone(),
        }
    }
}

/// Which part of the image a marker sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `name:tag`, or `name:tag@digest` when the policy reflects a digest.
    Image,
    Tag,
    Name,
    Digest,
}

impl Field {
    fn suffix(self) -> Option<&'static str> {
        match self {
            Field::Image => None,
            Field::Tag => Some("tag"),
            Field::Name => Some("name"),
            Field::Digest => Some("digest"),
        }
    }
}

/// One rewritten scalar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineChange {
    /// Zero-based line index.
    pub line: usize,
    pub marker: Marker,
    pub old_value: String,
    pub new_value: String,
}

/// Rewrite every marked scalar of `text` whose marker `value_of` knows (None leaves the
/// line alone: an unknown policy, or no digest for `:digest`). Returns the new text, which
/// equals `text` exactly when `changes` is empty.
pub fn rewrite(
    text: &str,
    value_of: impl Fn(&Marker) -> Option<String>,
) -> (String, Vec<LineChange>) {
    let mut out = String::with_capacity(text.len());
    let mut changes = Vec::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let (body, ending) = split_ending(line);
        let rewritten = comment_start(body).and_then(|hash| {
            let marker = parse_marker(&body[hash + 1..])?;
            let new_value = value_of(&marker)?;
            let scalar = locate_scalar(&body[..hash])?;
            let old_value = scalar.value(&body[..hash]);
            if old_value == new_value {
                return None;
            }
            let replaced = format!(
                "{}{}{}",
                &body[..scalar.start],
                scalar.style.render(&new_value)?,
                &body[scalar.end..]
            );
            changes.push(LineChange {
                line: index,
                marker,
                old_value,
                new_value,
            });
            Some(replaced)
        });
        out.push_str(rewritten.as_deref().unwrap_or(body));
        out.push_str(ending);
    }
    (out, changes)
}

fn split_ending(line: &str) -> (&str, &str) {
    let without_lf = line.strip_suffix('\n').unwrap_or(line);
    let body = without_lf.strip_suffix('\r').unwrap_or(without_lf);
    (body, &line[body.len()..])
}

/// Byte offset of the `#` that starts a comment: at the line start or after whitespace,
/// outside quotes.
fn comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(b'"') if b == b'\\' => i += 1,
            Some(q) if b == q => {
                // '' inside single quotes is an escaped quote.
                if q == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                    i += 1;
                } else {
                    quote = None;
                }
            }
            Some(_) => {}
            None if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) => return Some(i),
            None if (b == b'"' || b == b'\'') && starts_token(bytes, i) => quote = Some(b),
            None => {}
        }
        i += 1;
    }
    None
}

/// A quote opens a quoted scalar only where a token starts.
fn starts_token(bytes: &[u8], i: usize) -> bool {
    i == 0
        || matches!(
            bytes[i - 1],
            b' ' | b'\t' | b'-' | b':' | b'[' | b'{' | b','
        )
}

/// The JSON object of a marker comment (the text after `#`).
pub fn parse_marker(comment: &str) -> Option<Marker> {
    let comment = comment.trim();
    if !comment.starts_with('{') || !comment.contains("$imagepolicy") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(comment).ok()?;
    let reference = value.get("$imagepolicy")?.as_str()?;
    let parts: Vec<&str> = reference.split(':').collect();
    let (policy, field) = match parts.as_slice() {
        [ns, name] => (format!("{ns}:{name}"), Field::Image),
        [ns, name, field] => {
            let field = match *field {
                "tag" => Field::Tag,
                "name" => Field::Name,
                "digest" => Field::Digest,
                _ => return None,
            };
            (format!("{ns}:{name}"), field)
        }
        _ => return None,
    };
    if parts.iter().take(2).any(|p| p.trim().is_empty()) {
        return None;
    }
    Some(Marker { policy, field })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
}

impl Style {
    /// The new value in the old style; None when it cannot be written in that style.
    fn render(self, value: &str) -> Option<String> {
        match self {
            // A tag like `1.10` written plain would read back as a number: quote it.
            Style::Plain if plain_safe(value) && !resolves_as_non_string(value) => {
                Some(value.to_string())
            }
            Style::Plain => Style::Double.render(value),
            Style::Single => Some(format!("'{}'", value.replace('\'', "''"))),
            Style::Double => Some(format!(
                "\"{}\"",
                value.replace('\\', "\\\\").replace('"', "\\\"")
            )),
        }
    }
}

/// A value that reads back as the same string when written plain.
fn plain_safe(value: &str) -> bool {
    !value.is_empty()
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.ends_with(':')
        && !value.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@` ".contains(c))
        && !value.chars().any(char::is_control)
}

/// Whether YAML would read a plain `value` as a number, bool or null (YAML 1.1 and 1.2).
fn resolves_as_non_string(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "~" | "null"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | ".nan"
            | ".inf"
            | "-.inf"
            | "+.inf"
    ) {
        return true;
    }
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    let numeric = digits.replace('_', "");
    !numeric.is_empty()
        && (numeric.parse::<f64>().is_ok()
            || numeric
                .strip_prefix("0x")
                .is_some_and(|h| u64::from_str_radix(h, 16).is_ok())
            || numeric
                .strip_prefix("0o")
                .is_some_and(|o| u64::from_str_radix(o, 8).is_ok()))
}

/// Where the scalar of a line is.
struct Scalar {
    start: usize,
    end: usize,
    style: Style,
}

impl Scalar {
    /// The scalar's string value.
    fn value(&self, content: &str) -> String {
        let raw = &content[self.start..self.end];
        match self.style {
            Style::Plain => raw.to_string(),
            Style::Single => raw[1..raw.len() - 1].replace("''", "'"),
            Style::Double => unescape_double(&raw[1..raw.len() - 1]),
        }
    }
}

fn unescape_double(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The scalar before a comment: after `- ` sequence indicators and an optional `key:`.
fn locate_scalar(content: &str) -> Option<Scalar> {
    let trimmed_end = content.trim_end().len();
    let mut pos = content.len() - content.trim_start().len();
    // Sequence indicators, possibly nested (`- - value`).
    while content[pos..trimmed_end].starts_with("- ") || &content[pos..trimmed_end] == "-" {
        pos += 1;
        pos += content[pos..].len() - content[pos..].trim_start().len();
    }
    if let Some(after_key) = key_end(&content[pos..trimmed_end]) {
        pos += after_key;
        pos += content[pos..].len() - content[pos..].trim_start().len();
    }
    if pos >= trimmed_end {
        return None;
    }
    let token = &content[pos..trimmed_end];
    let style = match token.as_bytes()[0] {
        b'"' => Style::Double,
        b'\'' => Style::Single,
        b'|' | b'>' | b'[' | b'{' | b'*' | b'&' | b'!' => return None,
        _ => Style::Plain,
    };
    if style != Style::Plain && !closed_quote(token, style) {
        return None;
    }
    Some(Scalar {
        start: pos,
        end: trimmed_end,
        style,
    })
}

/// The token is exactly one quoted scalar.
fn closed_quote(token: &str, style: Style) -> bool {
    let bytes = token.as_bytes();
    if bytes.len() < 2 {
        return false;
    }
    let quote = bytes[0];
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if style == Style::Double => i += 1,
            b'\'' if style == Style::Single && bytes.get(i + 1) == Some(&b'\'') => i += 1,
            b if b == quote => return i == bytes.len() - 1,
            _ => {}
        }
        i += 1;
    }
    false
}

/// Length of a leading mapping key with its `:` separator, when the text has one.
fn key_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let after_key = match bytes.first() {
        Some(q @ (b'"' | b'\'')) => {
            let close = text[1..].find(*q as char)? + 1;
            close + 1
        }
        _ => {
            let colon = text
                .find(": ")
                .or_else(|| text.ends_with(':').then(|| text.len() - 1))?;
            // `- repo:1.0` has no `: `; a quote before the colon is part of a value.
            if text[..colon].contains(['"', '\'']) {
                return None;
            }
            colon
        }
    };
    (text[after_key..].starts_with(':')).then_some(after_key + 1)
}

#[cfg(test)]
#[path = "setters_tests.rs"]
mod tests;
