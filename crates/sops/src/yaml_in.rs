//! Reads YAML into the sops tree the way sops's YAML store does: one branch
//! per document, scalars typed by YAML 1.2 core rules as go-yaml v3 decodes
//! them, and comments kept as tree entries where they stand.
//!
//! Comments come from the parser's comment events (its `comments` feature):
//! a comment on the line of a value is that value's line comment, others are
//! attached by position and indentation.

use std::collections::HashMap;

use granit_parser::{Event, Parser, Placement, ScalarStyle, Tag};

use crate::error::SopsError;
use crate::resolve::resolve_plain;
use crate::tree::{Branch, Item, Value};

/// Nodes one input may expand to, aliases included (an alias bomb stops here).
const MAX_NODES: usize = 1_000_000;
/// How deep collections may nest.
const MAX_DEPTH: usize = 200;

struct Pending {
    text: String,
    inline: bool,
    column: usize,
}

struct Reader<'a> {
    events: Vec<Event<'a>>,
    /// The source column where each event starts.
    cols: Vec<usize>,
    /// Comments in the source before each event.
    gaps: Vec<Vec<Pending>>,
    pos: usize,
    pending: Vec<Pending>,
    anchors: HashMap<usize, Value>,
    budget: usize,
}

fn err(message: impl Into<String>) -> SopsError {
    SopsError::parse("YAML", message)
}

/// Parses every document of `text` into a branch; an empty document is an
/// empty branch. A document that is a sequence or a scalar is an error, as
/// in sops.
pub(crate) fn parse(text: &str) -> Result<Vec<Branch>, SopsError> {
    let mut events = Vec::new();
    let mut cols = Vec::new();
    let mut gaps = Vec::new();
    let mut gap = Vec::new();
    for ev in Parser::new_from_str(text) {
        let (ev, span) = ev.map_err(|e| err(e.to_string()))?;
        if let Event::Comment(text, placement) = ev {
            gap.push(Pending {
                text: text.trim_end_matches('\r').to_owned(),
                inline: placement == Placement::Right,
                column: span.start.col(),
            });
            continue;
        }
        gaps.push(std::mem::take(&mut gap));
        cols.push(span.start.col());
        events.push(ev);
    }
    let mut r = Reader {
        events,
        cols,
        gaps,
        pos: 0,
        pending: Vec::new(),
        anchors: HashMap::new(),
        budget: 0,
    };
    let mut docs = Vec::new();
    while let Some(ev) = r.next() {
        if let Event::DocumentStart(..) = ev {
            r.anchors.clear();
            docs.push(r.document()?);
        }
    }
    Ok(docs)
}

impl<'a> Reader<'a> {
    /// The next event; the comments before it become pending.
    fn next(&mut self) -> Option<Event<'a>> {
        let ev = self.events.get(self.pos)?.clone();
        if let Some(gap) = self.gaps.get_mut(self.pos) {
            self.pending.append(gap);
        }
        self.pos += 1;
        Some(ev)
    }

    /// Same-line comments right after the value just read.
    fn take_inline(&mut self) -> Vec<String> {
        match self.gaps.get_mut(self.pos) {
            Some(gap) => {
                let n = gap.iter().take_while(|p| p.inline).count();
                gap.drain(..n).map(|p| p.text).collect()
            }
            None => Vec::new(),
        }
    }

    fn count(&mut self, n: usize) -> Result<(), SopsError> {
        self.budget += n;
        if self.budget > MAX_NODES {
            return Err(err(format!(
                "document expands to more than {MAX_NODES} nodes (an alias bomb?)"
            )));
        }
        Ok(())
    }

    fn document(&mut self) -> Result<Branch, SopsError> {
        let mut branch = Branch::new();
        let Some(ev) = self.next() else {
            return Ok(branch);
        };
        match ev {
            Event::DocumentEnd => {}
            Event::MappingStart(_, anchor, _) => {
                self.mapping_into(&mut branch, anchor, 0)?;
                self.expect_document_end()?;
            }
            Event::Scalar(ref v, style, _, ref tag) => {
                if scalar(v, style, tag.as_deref()) != Value::Null {
                    return Err(err("YAML documents that are values are not supported"));
                }
                self.expect_document_end()?;
            }
            Event::SequenceStart(..) => {
                return Err(err("YAML documents that are sequences are not supported"));
            }
            _ => return Err(err("unexpected event at the start of a document")),
        }
        for p in self.pending.drain(..) {
            branch.push(Item::comment(p.text, false));
        }
        Ok(branch)
    }

    fn expect_document_end(&mut self) -> Result<(), SopsError> {
        match self.next() {
            Some(Event::DocumentEnd) => Ok(()),
            _ => Err(err("expected the end of the document")),
        }
    }

    /// Pending comments indented at least `column` close the collection
    /// being read (its foot comments); shallower ones belong further out.
    fn foot_comments(&mut self, column: usize) -> Vec<Pending> {
        let n = self
            .pending
            .iter()
            .take_while(|p| p.inline || p.column >= column)
            .count();
        self.pending.drain(..n).collect()
    }

    fn node(&mut self, ev: Event<'a>, depth: usize) -> Result<Value, SopsError> {
        if depth > MAX_DEPTH {
            return Err(err(format!(
                "collections nest deeper than {MAX_DEPTH} levels"
            )));
        }
        self.count(1)?;
        match ev {
            Event::Scalar(v, style, anchor, tag) => {
                let value = scalar(&v, style, tag.as_deref());
                if anchor != 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                Ok(value)
            }
            Event::Alias(id) => {
                let value = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| err("unknown alias"))?;
                self.count(size(&value))?;
                Ok(value)
            }
            Event::MappingStart(_, anchor, _) => {
                let mut branch = Branch::new();
                self.mapping_into(&mut branch, anchor, depth)?;
                Ok(Value::Map(branch))
            }
            Event::SequenceStart(_, anchor, _) => self.sequence(anchor, depth),
            _ => Err(err("unexpected event")),
        }
    }

    fn mapping_into(
        &mut self,
        branch: &mut Branch,
        anchor: usize,
        depth: usize,
    ) -> Result<(), SopsError> {
        let mut column = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            let Some(ev) = self.next() else {
                return Err(err("unterminated mapping"));
            };
            let key = match ev {
                Event::MappingEnd => break,
                Event::Scalar(ref v, style, _, ref tag) => match scalar(v, style, tag.as_deref()) {
                    Value::Str(s) => s,
                    other => return Err(non_string_key(&other)),
                },
                _ => return Err(err("a mapping key must be a scalar")),
            };
            // go-yaml refuses duplicate keys, and sops with it.
            if !seen.insert(key.clone()) && key != "<<" {
                return Err(err(format!("mapping key {key:?} already defined")));
            }
            let key_column = self.cols.get(self.pos - 1).copied().unwrap_or(0);
            column.get_or_insert(key_column);
            for p in self.pending.drain(..) {
                branch.push(Item::comment(p.text, false));
            }
            let Some(ev) = self.next() else {
                return Err(err("mapping key without value"));
            };
            if matches!(ev, Event::MappingStart(..) | Event::SequenceStart(..)) {
                // `key: # comment` above a block collection is the key's line
                // comment, which sops keeps in this mapping, before the key.
                let (line, rest): (Vec<Pending>, Vec<Pending>) =
                    self.pending.drain(..).partition(|p| p.inline);
                self.pending = rest;
                for p in line {
                    branch.push(Item::comment(p.text, false));
                }
            }
            let value = self.node(ev, depth + 1)?;
            for text in self.take_inline() {
                branch.push(Item::comment(text, true));
            }
            // A merge key (`<<: *base`) stays an entry holding the merged
            // mapping: sops works on the node tree, which does not merge.
            branch.push(Item::new(key, value));
        }
        let column = column.unwrap_or(0);
        for p in self.foot_comments(column) {
            branch.push(Item::comment(p.text, p.inline));
        }
        if anchor != 0 {
            self.anchors.insert(anchor, Value::Map(branch.clone()));
        }
        Ok(())
    }

    fn sequence(&mut self, anchor: usize, depth: usize) -> Result<Value, SopsError> {
        let column = self.cols.get(self.pos - 1).copied().unwrap_or(0);
        let mut items = Vec::new();
        loop {
            let Some(ev) = self.next() else {
                return Err(err("unterminated sequence"));
            };
            if let Event::SequenceEnd = ev {
                break;
            }
            for p in self.pending.drain(..) {
                items.push(Value::Comment(crate::tree::Comment {
                    text: p.text,
                    inline: false,
                }));
            }
            let value = self.node(ev, depth + 1)?;
            for text in self.take_inline() {
                items.push(Value::Comment(crate::tree::Comment { text, inline: true }));
            }
            items.push(value);
        }
        for p in self.foot_comments(column) {
            items.push(Value::Comment(crate::tree::Comment {
                text: p.text,
                inline: p.inline,
            }));
        }
        let value = Value::Seq(items);
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        Ok(value)
    }
}

/// How many nodes a value counts for the alias budget.
fn size(v: &Value) -> usize {
    match v {
        Value::Map(b) => 1 + b.iter().map(|i| size(&i.value)).sum::<usize>(),
        Value::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        _ => 1,
    }
}

/// A scalar typed as go-yaml v3 decodes it into an `interface{}`.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    let tag = tag.map(|t| format!("{t}"));
    match tag.as_deref() {
        Some("tag:yaml.org,2002:str" | "!!str") => return Value::Str(text.to_owned()),
        Some(t) if !is_core_tag(t) => return Value::Str(text.to_owned()),
        _ => {}
    }
    if style != ScalarStyle::Plain && tag.is_none() {
        return Value::Str(text.to_owned());
    }
    resolve_plain(text)
}

fn is_core_tag(t: &str) -> bool {
    let short = t
        .strip_prefix("tag:yaml.org,2002:")
        .or_else(|| t.strip_prefix("!!"));
    matches!(short, Some("int" | "float" | "bool" | "null" | "timestamp"))
}

fn non_string_key(v: &Value) -> SopsError {
    let shown = match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Time(t) => t.clone(),
        _ => "a complex key".to_owned(),
    };
    err(format!(
        "Tree contains a non-string key ({shown}); only string keys are supported"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Key;

    #[test]
    fn a_duplicate_key_is_an_error_as_in_go_yaml() {
        let e = parse("a: 1\nb: 2\na: 3\n").expect_err("duplicate");
        assert!(e.to_string().contains("\"a\" already defined"), "{e}");
    }

    #[test]
    fn comments_are_kept_as_entries_and_a_line_comment_precedes_its_entry() {
        let docs = parse("# head\na: 1 # line\nb:\n    c: 2\n# foot\n").expect("parse");
        let kinds: Vec<String> = docs[0]
            .iter()
            .map(|i| match &i.key {
                Key::Comment(c) => {
                    format!("#{}{}", c.text, if c.inline { " (inline)" } else { "" })
                }
                Key::Str(k) => k.clone(),
            })
            .collect();
        // sops stores a line comment before the entry it follows.
        assert_eq!(kinds, ["# head", "# line (inline)", "a", "b", "# foot"]);
    }
}
