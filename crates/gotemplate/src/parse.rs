//! The parser: items to trees, with Go's error texts (`template: NAME:LINE: ...`).

use std::collections::BTreeMap;

use crate::lex::{Item, ItemType, lex};
use crate::literal::{parse_number, unquote};
use crate::node::{Arg, Branch, Command, List, Node, Pipe, is_empty_tree};

/// Go's limit on nested parenthesized expressions.
const MAX_PAREN_DEPTH: usize = 10000;
/// Go's limit on commands in one pipeline.
const MAX_PIPELINE_CMDS: usize = 100000;

/// One parsed template (a file or a `define`).
#[derive(Debug, Clone)]
pub struct Tree {
    pub name: String,
    /// The name of the file it came from, for positions in messages.
    pub parse_name: String,
    pub root: List,
    /// The whole source text, to turn byte offsets into line:column.
    pub text: std::sync::Arc<str>,
}

impl Tree {
    /// `NAME:LINE:COL` of a byte offset, as Go's ErrorContext prints it
    /// (the column counts bytes from 0).
    pub fn location(&self, pos: usize) -> String {
        let before = &self.text[..pos.min(self.text.len())];
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(i) => pos - (i + 1),
            None => pos,
        };
        format!("{}:{}:{}", self.parse_name, line, col)
    }
}

type PResult<T> = Result<T, String>;

/// Parses `text` named `name`; the file's own tree and every `define`/`block`
/// in it are returned by name.
pub fn parse(
    name: &str,
    text: &str,
    has_func: &dyn Fn(&str) -> bool,
) -> Result<BTreeMap<String, Tree>, String> {
    let items = lex(text);
    let rc: std::sync::Arc<str> = text.into();
    let mut p = Parser {
        items,
        idx: 0,
        furthest: 0,
        parse_name: name.to_string(),
        text: rc,
        vars: vec!["$".into()],
        range_depth: 0,
        action_line: 0,
        paren_depth: 0,
        has_func,
        set: BTreeMap::new(),
    };
    let root = p.parse_top()?;
    p.add(name.to_string(), root)?;
    Ok(p.set)
}

struct Parser<'f> {
    items: Vec<Item>,
    idx: usize,
    furthest: usize,
    parse_name: String,
    text: std::sync::Arc<str>,
    vars: Vec<String>,
    range_depth: usize,
    action_line: usize,
    paren_depth: usize,
    has_func: &'f dyn Fn(&str) -> bool,
    set: BTreeMap<String, Tree>,
}

impl Parser<'_> {
    fn item(&self, i: usize) -> Item {
        match self.items.get(i) {
            Some(it) => it.clone(),
            None => self.items.last().cloned().unwrap_or(Item {
                typ: ItemType::Eof,
                pos: self.text.len(),
                val: String::new(),
                line: 1,
            }),
        }
    }

    fn next(&mut self) -> Item {
        let it = self.item(self.idx);
        // The lexer stops at Eof or Error; both repeat forever.
        if self.idx < self.items.len() - 1 {
            self.idx += 1;
        } else if self.items.last().is_some_and(|l| l.typ == ItemType::Error) {
            // Go's lexer yields EOF after an error item has been read.
            self.idx = self.items.len();
        }
        self.furthest = self.furthest.max(self.idx.min(self.items.len() - 1));
        it
    }

    fn eof_after_error(&self) -> bool {
        self.idx >= self.items.len()
    }

    fn backup(&mut self) {
        self.idx -= 1;
    }

    fn peek(&mut self) -> Item {
        if self.eof_after_error() {
            let last = self.item(self.items.len() - 1);
            return Item {
                typ: ItemType::Eof,
                val: String::new(),
                ..last
            };
        }
        let it = self.item(self.idx);
        self.furthest = self.furthest.max(self.idx);
        it
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            if self.eof_after_error() {
                return self.peek();
            }
            let t = self.next();
            if t.typ != ItemType::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        loop {
            if self.eof_after_error() {
                return self.peek();
            }
            let t = self.next();
            if t.typ != ItemType::Space {
                self.backup();
                return t;
            }
        }
    }

    fn errorf(&self, msg: impl AsRef<str>) -> String {
        let line = self.item(self.furthest).line;
        format!("template: {}:{}: {}", self.parse_name, line, msg.as_ref())
    }

    fn unexpected(&self, token: &Item, context: &str) -> String {
        if token.typ == ItemType::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.parse_name, self.action_line
                );
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.errorf(format!("{}{}", token.describe(), extra));
        }
        self.errorf(format!("unexpected {} in {}", token.describe(), context))
    }

    fn expect(&mut self, typ: ItemType, context: &str) -> PResult<Item> {
        let t = self.next_non_space();
        if t.typ != typ {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn add(&mut self, name: String, root: List) -> PResult<()> {
        match self.set.get(&name) {
            Some(old) if !is_empty_tree(&old.root) => {
                if !is_empty_tree(&root) {
                    return Err(self.errorf(format!(
                        "template: multiple definition of template {}",
                        crate::gofmt::quote(&name)
                    )));
                }
                Ok(())
            }
            _ => {
                self.set.insert(
                    name.clone(),
                    Tree {
                        name,
                        parse_name: self.parse_name.clone(),
                        root,
                        text: self.text.clone(),
                    },
                );
                Ok(())
            }
        }
    }

    fn parse_top(&mut self) -> PResult<List> {
        let mut list = List { nodes: Vec::new() };
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let mark = self.idx;
                self.next();
                if self.next_non_space().typ == ItemType::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.idx = mark;
            }
            match self.text_or_action()? {
                Parsed::Node(n) => list.nodes.push(n),
                Parsed::End => return Err(self.errorf("unexpected {{end}}")),
                Parsed::Else(_) => return Err(self.errorf("unexpected {{else}}")),
            }
        }
        Ok(list)
    }

    fn parse_definition(&mut self) -> PResult<()> {
        let context = "define clause";
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let t = self.next_non_space();
        if t.typ != ItemType::String && t.typ != ItemType::RawString {
            return Err(self.unexpected(&t, context));
        }
        let name = unquote(&t.val).map_err(|e| self.errorf(e))?;
        self.expect(ItemType::RightDelim, context)?;
        let (list, end) = self.item_list()?;
        if !matches!(end, Parsed::End) {
            return Err(self.errorf(format!("unexpected {} in {}", end.describe(), context)));
        }
        self.add(name, list)?;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        Ok(())
    }

    fn item_list(&mut self) -> PResult<(List, Parsed)> {
        let mut list = List { nodes: Vec::new() };
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.nodes.push(n),
                other => return Ok((list, other)),
            }
        }
        Err(self.errorf("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let t = self.next_non_space();
        match t.typ {
            ItemType::Text => Ok(Parsed::Node(Node::Text(t.val))),
            ItemType::LeftDelim => {
                self.action_line = t.line;
                let r = self.action();
                self.action_line = 0;
                r
            }
            _ => Err(self.unexpected(&t, "input")),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let t = self.next_non_space();
        match t.typ {
            ItemType::Block => return self.block_control(),
            ItemType::Break | ItemType::Continue => {
                let word = if t.typ == ItemType::Break {
                    "break"
                } else {
                    "continue"
                };
                let n = self.next_non_space();
                if n.typ != ItemType::RightDelim {
                    return Err(self.unexpected(&n, &format!("{{{{{word}}}}}")));
                }
                if self.range_depth == 0 {
                    return Err(self.errorf(format!("{{{{{word}}}}} outside {{{{range}}}}")));
                }
                return Ok(Parsed::Node(if t.typ == ItemType::Break {
                    Node::Break
                } else {
                    Node::Continue
                }));
            }
            ItemType::Else => return self.else_control(),
            ItemType::End => {
                self.expect(ItemType::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            ItemType::If => return Ok(Parsed::Node(Node::If(self.parse_control("if")?))),
            ItemType::Range => return Ok(Parsed::Node(Node::Range(self.parse_control("range")?))),
            ItemType::With => return Ok(Parsed::Node(Node::With(self.parse_control("with")?))),
            ItemType::Template => return self.template_control(),
            _ => {}
        }
        self.backup();
        let pipe = self.pipeline("command", ItemType::RightDelim)?;
        Ok(Parsed::Node(Node::Action(pipe)))
    }

    fn else_control(&mut self) -> PResult<Parsed> {
        let peek = self.peek_non_space();
        if peek.typ == ItemType::If || peek.typ == ItemType::With {
            return Ok(Parsed::Else(peek.typ));
        }
        self.expect(ItemType::RightDelim, "else")?;
        Ok(Parsed::Else(ItemType::Else))
    }

    fn parse_control(&mut self, context: &str) -> PResult<Branch> {
        let nvars = self.vars.len();
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        match next {
            Parsed::End => {}
            Parsed::Else(kind) => {
                if context == "if" && kind == ItemType::If {
                    self.next_non_space();
                    let inner = self.parse_control("if")?;
                    else_list = Some(List {
                        nodes: vec![Node::If(inner)],
                    });
                } else if context == "with" && kind == ItemType::With {
                    self.next_non_space();
                    let inner = self.parse_control("with")?;
                    else_list = Some(List {
                        nodes: vec![Node::With(inner)],
                    });
                } else {
                    if kind != ItemType::Else {
                        // "else if" outside if, "else with" outside with: the
                        // keyword is left pending and read as an ordinary
                        // else followed by a bad token.
                        let t = self.peek_non_space();
                        self.next_non_space();
                        return Err(self.unexpected(&t, "input"));
                    }
                    let (l, n) = self.item_list()?;
                    if !matches!(n, Parsed::End) {
                        return Err(self.errorf(format!("expected end; found {}", n.describe())));
                    }
                    else_list = Some(l);
                }
            }
            Parsed::Node(_) => {}
        }
        self.vars.truncate(nvars);
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn block_control(&mut self) -> PResult<Parsed> {
        let context = "block clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, context)?;
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.item_list()?;
        if !matches!(end, Parsed::End) {
            return Err(self.errorf(format!("unexpected {} in {}", end.describe(), context)));
        }
        self.vars = saved_vars;
        self.range_depth = saved_range;
        self.add(name.clone(), list)?;
        Ok(Parsed::Node(Node::Template {
            pos: t.pos,
            name,
            pipe: Some(pipe),
        }))
    }

    fn template_control(&mut self) -> PResult<Parsed> {
        let context = "template clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, context)?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(context, ItemType::RightDelim)?);
        }
        Ok(Parsed::Node(Node::Template {
            pos: t.pos,
            name,
            pipe,
        }))
    }

    fn template_name(&self, t: &Item, context: &str) -> PResult<String> {
        match t.typ {
            ItemType::String | ItemType::RawString => unquote(&t.val).map_err(|e| self.errorf(e)),
            _ => Err(self.unexpected(t, context)),
        }
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> PResult<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        'decls: loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            let mark = self.idx;
            self.next_non_space();
            let next = self.peek_non_space();
            match next.typ {
                ItemType::Assign | ItemType::Declare => {
                    pipe.is_assign = next.typ == ItemType::Assign;
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    break;
                }
                ItemType::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().typ {
                            ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                                continue 'decls;
                            }
                            _ => return Err(self.errorf("range can only initialize variables")),
                        }
                    }
                    return Err(self.errorf(format!("too many declarations in {context}")));
                }
                _ => {
                    self.idx = mark;
                    break;
                }
            }
        }
        loop {
            let t = self.next_non_space();
            match t.typ {
                typ if typ == end => {
                    self.check_pipeline(&pipe, context)?;
                    return Ok(pipe);
                }
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let c = self.command()?;
                    pipe.cmds.push(c);
                    if pipe.cmds.len() > MAX_PIPELINE_CMDS {
                        return Err(self.errorf("pipeline too long"));
                    }
                }
                _ => return Err(self.unexpected(&t, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool(..)
                        | Arg::Dot(_)
                        | Arg::Nil(_)
                        | Arg::Number { .. }
                        | Arg::String { .. }
                )
            ) {
                return Err(self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                args.push(op);
            }
            let t = self.next();
            match t.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return Err(self.unexpected(&t, "operand")),
            }
            break;
        }
        if args.is_empty() {
            return Err(self.errorf("empty command"));
        }
        Ok(Command { pos, args })
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == ItemType::Field {
            let f = self.next();
            fields.push(f.val[1..].to_string());
        }
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable { pos, idents }
            }
            Arg::Bool(..) | Arg::String { .. } | Arg::Number { .. } | Arg::Nil(_) | Arg::Dot(_) => {
                return Err(self.errorf(format!(
                    "unexpected . after term {}",
                    crate::gofmt::quote(&node.to_string())
                )));
            }
            other => Arg::Chain {
                pos,
                node: Box::new(other),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        Ok(Some(match t.typ {
            ItemType::Identifier => {
                if !(self.has_func)(&t.val) {
                    return Err(self.errorf(format!(
                        "function {} not defined",
                        crate::gofmt::quote(&t.val)
                    )));
                }
                Arg::Identifier {
                    pos: t.pos,
                    name: t.val,
                }
            }
            ItemType::Dot => Arg::Dot(t.pos),
            ItemType::Nil => Arg::Nil(t.pos),
            ItemType::Variable => {
                let idents: Vec<String> = t.val.split('.').map(str::to_string).collect();
                if !self.vars.iter().any(|v| *v == idents[0]) {
                    return Err(self.errorf(format!(
                        "undefined variable {}",
                        crate::gofmt::quote(&idents[0])
                    )));
                }
                Arg::Variable { pos: t.pos, idents }
            }
            ItemType::Field => Arg::Field {
                pos: t.pos,
                idents: vec![t.val[1..].to_string()],
            },
            ItemType::Bool => Arg::Bool(t.pos, t.val == "true"),
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                let value = parse_number(&t.val, t.typ).map_err(|e| self.errorf(e))?;
                Arg::Number {
                    pos: t.pos,
                    text: t.val,
                    value,
                }
            }
            ItemType::LeftParen => {
                if self.paren_depth >= MAX_PAREN_DEPTH {
                    return Err(self.errorf("max expression depth exceeded"));
                }
                self.paren_depth += 1;
                let p = self.pipeline("parenthesized pipeline", ItemType::RightParen);
                self.paren_depth -= 1;
                Arg::Pipe(Box::new(p?))
            }
            ItemType::String | ItemType::RawString => {
                let text = unquote(&t.val).map_err(|e| self.errorf(e))?;
                Arg::String {
                    pos: t.pos,
                    quoted: t.val,
                    text,
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

enum Parsed {
    Node(Node),
    End,
    /// `{{else}}`, or the `if`/`with` of `{{else if}}`/`{{else with}}` left pending.
    Else(ItemType),
}

impl Parsed {
    fn describe(&self) -> &'static str {
        match self {
            Parsed::End => "{{end}}",
            Parsed::Else(_) => "{{else}}",
            Parsed::Node(_) => "node",
        }
    }
}
