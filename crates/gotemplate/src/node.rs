//! The parse tree, and its printed form (what `executing ... at <...>` quotes).

use std::fmt;

#[derive(Debug, Clone)]
pub struct List {
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    Range(Branch),
    With(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

/// The shared shape of if, range and with.
#[derive(Debug, Clone)]
pub struct Branch {
    pub pipe: Pipe,
    pub list: List,
    pub else_list: Option<List>,
}

#[derive(Debug, Clone)]
pub struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

#[derive(Debug, Clone)]
pub struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub enum Number {
    Int(i64),
    Float(f64),
    /// A rune constant: Go types it int32 but it prints and compares as an int.
    Char(i64),
    /// Too large for int: an error only when evaluated.
    Overflow,
    Complex,
}

#[derive(Debug, Clone)]
pub enum Arg {
    Field {
        pos: usize,
        idents: Vec<String>,
    },
    Variable {
        pos: usize,
        idents: Vec<String>,
    },
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<String>,
    },
    Identifier {
        pos: usize,
        name: String,
    },
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    Number {
        pos: usize,
        text: String,
        value: Number,
    },
    String {
        pos: usize,
        quoted: String,
        text: String,
    },
    Pipe(Box<Pipe>),
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Identifier { pos, .. }
            | Arg::Dot(pos)
            | Arg::Nil(pos)
            | Arg::Bool(pos, _)
            | Arg::Number { pos, .. }
            | Arg::String { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Variable { idents, .. } => write!(f, "{}", idents.join(".")),
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(p) = node.as_ref() {
                    write!(f, "({p})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for i in fields {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Identifier { name, .. } => f.write_str(name),
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Number { text, .. } => f.write_str(text),
            Arg::String { quoted, .. } => f.write_str(quoted),
            Arg::Pipe(p) => write!(f, "{p}"),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if let Arg::Pipe(p) = a {
                write!(f, "({p})")?;
            } else {
                write!(f, "{a}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// Whether a tree holds nothing but space (Go lets such a definition be
/// replaced by a later one).
pub fn is_empty_tree(list: &List) -> bool {
    list.nodes.iter().all(|n| match n {
        Node::Text(t) => t
            .trim_matches([' ', '\t', '\r', '\n', '\u{b}', '\u{c}'])
            .is_empty(),
        _ => false,
    })
}

/// Which kind of node an error position refers to (a command, its first
/// argument and its pipeline can share one position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Arg,
    Command,
    Pipe,
}

/// The printed form of the node of `kind` at byte offset `pos`.
pub fn find_text(list: &List, kind: NodeKind, pos: usize) -> Option<String> {
    // An explicit stack: trees can nest deeply.
    let mut pipes: Vec<&Pipe> = Vec::new();
    let mut lists: Vec<&List> = vec![list];
    while let Some(l) = lists.pop() {
        for n in &l.nodes {
            match n {
                Node::Action(p) => pipes.push(p),
                Node::If(b) | Node::Range(b) | Node::With(b) => {
                    pipes.push(&b.pipe);
                    lists.push(&b.list);
                    if let Some(e) = &b.else_list {
                        lists.push(e);
                    }
                }
                Node::Template { pipe: Some(p), .. } => pipes.push(p),
                _ => {}
            }
        }
    }
    let mut pipe_arg_match = None;
    while let Some(p) = pipes.pop() {
        if kind == NodeKind::Pipe && p.pos == pos {
            return Some(p.to_string());
        }
        for c in &p.cmds {
            if kind == NodeKind::Command && c.pos == pos {
                return Some(c.to_string());
            }
            let mut args: Vec<&Arg> = c.args.iter().collect();
            while let Some(a) = args.pop() {
                match a {
                    Arg::Pipe(inner) => {
                        if kind == NodeKind::Arg && inner.pos == pos && pipe_arg_match.is_none() {
                            pipe_arg_match = Some(a.to_string());
                        }
                        pipes.push(inner);
                    }
                    Arg::Chain { node, .. } => {
                        if kind == NodeKind::Arg && a.pos() == pos {
                            return Some(a.to_string());
                        }
                        args.push(node);
                    }
                    _ if kind == NodeKind::Arg && a.pos() == pos => return Some(a.to_string()),
                    _ => {}
                }
            }
        }
    }
    pipe_arg_match
}
