//! The little XML S3 speaks: a bounded element-tree reader (no DTDs, no external entities;
//! only the five predefined entities and character references) for `ListBucketResult` and
//! `Error` documents, and escaping for the documents a server writes.

/// An element: local name (namespace prefix dropped), its text and its child elements.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// The local name.
    pub name: String,
    /// The concatenated text directly inside the element.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// Every child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Nesting deeper than this is refused; S3 documents are three levels deep.
const MAX_DEPTH: usize = 32;

/// Parses `input` into its root element, or says what is malformed.
pub fn parse(input: &str) -> Result<Element, String> {
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut rest = input;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            append_text(&mut stack, rest)?;
            break;
        };
        append_text(&mut stack, &rest[..lt])?;
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<?") {
            rest = skip_past(after, "?>")?;
        } else if let Some(after) = rest.strip_prefix("<!--") {
            rest = skip_past(after, "-->")?;
        } else if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>").ok_or("unterminated CDATA section")?;
            if let Some(top) = stack.last_mut() {
                top.text.push_str(&after[..end]);
            }
            rest = &after[end + 3..];
        } else if rest.starts_with("<!") {
            return Err("document type declarations are not accepted".to_owned());
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after.find('>').ok_or("unterminated end tag")?;
            let name = local_name(after[..end].trim());
            let element = stack.pop().ok_or("end tag without start tag")?;
            if element.name != name {
                return Err(format!("end tag '{name}' closes '{}'", element.name));
            }
            match stack.last_mut() {
                Some(parent) => parent.children.push(element),
                None if root.is_none() => root = Some(element),
                None => return Err("more than one root element".to_owned()),
            }
            rest = &after[end + 1..];
        } else {
            let after = &rest[1..];
            let end = tag_end(after).ok_or("unterminated start tag")?;
            let tag = &after[..end];
            let (tag, self_closing) = match tag.strip_suffix('/') {
                Some(t) => (t, true),
                None => (tag, false),
            };
            let name = local_name(tag.split_whitespace().next().ok_or("empty tag")?);
            if stack.len() >= MAX_DEPTH {
                return Err("elements nested too deeply".to_owned());
            }
            let element = Element {
                name: name.to_owned(),
                ..Element::default()
            };
            if self_closing {
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None if root.is_none() => root = Some(element),
                    None => return Err("more than one root element".to_owned()),
                }
            } else {
                stack.push(element);
            }
            rest = &after[end + 1..];
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("element '{}' is not closed", open.name));
    }
    root.ok_or_else(|| "no root element".to_owned())
}

/// The index of the `>` ending a start tag, skipping `>` inside quoted attribute values.
fn tag_end(tag: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in tag.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn skip_past<'a>(text: &'a str, marker: &str) -> Result<&'a str, String> {
    text.find(marker)
        .map(|i| &text[i + marker.len()..])
        .ok_or_else(|| format!("missing '{marker}'"))
}

fn local_name(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, local)| local)
}

fn append_text(stack: &mut [Element], raw: &str) -> Result<(), String> {
    match stack.last_mut() {
        Some(top) => {
            top.text.push_str(&unescape(raw)?);
            Ok(())
        }
        None if raw.trim().is_empty() => Ok(()),
        None => Err("text outside the root element".to_owned()),
    }
}

/// Replaces the predefined entities and character references.
pub fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find(';').ok_or("unterminated entity")?;
        let entity = &after[..end];
        let decoded = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| format!("unknown entity '&{entity};'"))?
            }
        };
        out.push(decoded);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Escapes text for an element body.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_result_parses_with_namespaces_and_entities() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><IsTruncated>false</IsTruncated>
  <Contents><Key>a&amp;b/c.yaml</Key><ETag>&quot;abc&quot;</ETag><Size>3</Size></Contents>
  <Contents><Key><![CDATA[x<y]]></Key><ETag>"d"</ETag></Contents>
  <Empty/>
</ListBucketResult>"#;
        let root = parse(doc).expect("valid");
        assert_eq!(root.name, "ListBucketResult");
        let keys: Vec<&str> = root
            .children_named("Contents")
            .filter_map(|c| c.child_text("Key"))
            .collect();
        assert_eq!(keys, vec!["a&b/c.yaml", "x<y"]);
        assert_eq!(
            root.child("Contents").and_then(|c| c.child_text("ETag")),
            Some("\"abc\"")
        );
        assert!(root.child("Empty").is_some());
    }

    #[test]
    fn malformed_and_hostile_documents_are_refused() {
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("<a>").is_err());
        assert!(
            parse("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><a>&e;</a>").is_err()
        );
        assert!(parse("<a>&e;</a>").is_err());
        assert!(parse(&"<a>".repeat(100)).is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn escaped_text_reads_back_unchanged() {
        let text = "a<b>&\"c'";
        assert_eq!(unescape(&escape(text)).expect("valid"), text);
        assert_eq!(unescape("&#65;&#x42;").expect("valid"), "AB");
    }
}
