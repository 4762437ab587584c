//! Multi-document YAML into [`Node`] trees, with aliases expanded under a
//! node budget (an alias bomb stops with an error instead of eating memory)
//! and a nesting bound (the tree is walked recursively later).

use std::borrow::Cow;
use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle, StructureStyle, Tag};

use super::node::{Flow, Mapping, Node, Scalar, Style};

/// Nodes one file may expand to, aliases included.
pub const MAX_NODES: usize = 1_000_000;
/// How deep collections may nest.
pub const MAX_DEPTH: usize = 200;
/// Documents one file may hold, empty ones included: each costs memory
/// even when it holds nothing (a 5 MB file of `---` lines is over a million
/// of them), and real manifest bundles stay in the hundreds.
pub const MAX_DOCUMENTS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    #[error("{0}")]
    Syntax(String),
    #[error("document expands to more than {MAX_NODES} nodes (an alias bomb?)")]
    TooManyNodes,
    #[error("collections nest deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("more than {MAX_DOCUMENTS} documents in one file")]
    TooManyDocuments,
    #[error("a mapping key must be a scalar")]
    ComplexKey,
    #[error("duplicate key {0:?}")]
    DuplicateKey(String),
}

enum Frame {
    Seq(Vec<Node>, Flow, usize),
    Map(Mapping, Flow, usize, Option<Scalar>),
}

/// Parses every document of `text`; empty documents are kept as `None`.
pub fn parse_documents(text: &str) -> Result<Vec<Option<Node>>, YamlError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut budget = 0usize;
    let mut current: Option<Node> = None;
    for event in Parser::new_from_str(text) {
        let (event, _span) = event.map_err(|e| {
            // The parser has its own nesting bound, met when its scanner
            // runs ahead of our depth check inside one flow collection.
            let text = e.to_string();
            if text.contains("recursion limit exceeded") {
                YamlError::TooDeep
            } else {
                YamlError::Syntax(text)
            }
        })?;
        let (node, anchor) = match event {
            Event::DocumentStart(..) => {
                anchors.clear();
                current = None;
                continue;
            }
            Event::DocumentEnd => {
                if docs.len() >= MAX_DOCUMENTS {
                    return Err(YamlError::TooManyDocuments);
                }
                docs.push(current.take());
                continue;
            }
            Event::Scalar(value, style, anchor, tag) => {
                budget += 1;
                (Node::Scalar(scalar(value, style, tag.as_deref())), anchor)
            }
            Event::Alias(id) => {
                let node = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| YamlError::Syntax(format!("unknown alias {id}")))?;
                budget += count(&node);
                (node, 0)
            }
            Event::SequenceStart(style, anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(YamlError::TooDeep);
                }
                stack.push(Frame::Seq(Vec::new(), flow(style), anchor));
                continue;
            }
            Event::MappingStart(style, anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(YamlError::TooDeep);
                }
                stack.push(Frame::Map(Mapping::default(), flow(style), anchor, None));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                budget += 1;
                match stack.pop() {
                    Some(Frame::Seq(items, f, anchor)) => (Node::Seq(items, f), anchor),
                    Some(Frame::Map(map, f, anchor, _)) => (Node::Map(map, f), anchor),
                    None => return Err(YamlError::Syntax("unbalanced collection".into())),
                }
            }
            _ => continue,
        };
        if budget > MAX_NODES {
            return Err(YamlError::TooManyNodes);
        }
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => current = Some(node),
            Some(Frame::Seq(items, ..)) => items.push(node),
            Some(Frame::Map(map, _, _, key)) => match key.take() {
                None => match node {
                    Node::Scalar(s) => *key = Some(s),
                    _ => return Err(YamlError::ComplexKey),
                },
                Some(k) => {
                    if map.get(&k.value).is_some() {
                        return Err(YamlError::DuplicateKey(k.value));
                    }
                    map.entries.push((k, node));
                }
            },
        }
    }
    Ok(docs)
}

fn flow(style: StructureStyle) -> Flow {
    match style {
        StructureStyle::Block => Flow::Block,
        StructureStyle::Flow => Flow::Flow,
    }
}

fn scalar(value: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>) -> Scalar {
    let style = match style {
        ScalarStyle::SingleQuoted => Style::SingleQuoted,
        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
        ScalarStyle::Literal => Style::Literal,
        ScalarStyle::Folded => Style::Folded,
        _ => Style::Plain,
    };
    let tag = tag.map(|t| {
        if t.handle() == "tag:yaml.org,2002:" {
            format!("!!{}", t.suffix())
        } else {
            format!("{}{}", t.handle(), t.suffix())
        }
    });
    Scalar {
        value: value.into_owned(),
        style,
        tag,
    }
}

fn count(node: &Node) -> usize {
    match node {
        Node::Scalar(_) => 1,
        Node::Seq(items, _) => 1 + items.iter().map(count).sum::<usize>(),
        Node::Map(map, _) => 1 + map.entries.iter().map(|(_, v)| 1 + count(v)).sum::<usize>(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_keep_their_text_and_style() {
        let docs = parse_documents("a: 0755\nb: 'yes'\nc: |\n  x\n").unwrap();
        let doc = docs[0].as_ref().unwrap();
        let map = doc.as_map().unwrap();
        let Node::Scalar(a) = map.get("a").unwrap() else {
            panic!()
        };
        assert_eq!((a.value.as_str(), a.style), ("0755", Style::Plain));
        let Node::Scalar(b) = map.get("b").unwrap() else {
            panic!()
        };
        assert!(b.is_string());
        assert_eq!(map.get("c").unwrap().as_str(), Some("x\n"));
    }

    #[test]
    fn every_document_is_returned_in_order() {
        let docs = parse_documents("a: 1\n---\n---\nb: 2\n").unwrap();
        let present: Vec<&Node> = docs.iter().flatten().filter(|d| !d.is_null()).collect();
        assert_eq!(present.len(), 2);
        assert!(present[0].at(&["a"]).is_some() && present[1].at(&["b"]).is_some());
    }

    #[test]
    fn an_alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(matches!(
            parse_documents(&text),
            Err(YamlError::TooManyNodes)
        ));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(MAX_DEPTH + 5), "]".repeat(MAX_DEPTH + 5));
        assert!(matches!(parse_documents(&text), Err(YamlError::TooDeep)));
    }
}
