//! Parses the input into text runs and `${...}` expressions, with the same
//! token rules (and therefore the same accepted inputs and error kinds) as
//! Flux's envsubst.

use crate::EnvsubstError;
use crate::scan::{Accept, Scanner, Token, escape, mode};

/// Expressions may nest (`${a:=${b:=${c}}}`) this deep; beyond it the input
/// is refused instead of exhausting the stack.
pub const MAX_NESTING: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Text(Vec<u8>),
    /// `${param}` or `${<op-prefix>param<op>args...}`: `op` is the operator
    /// as written (`""`, `":="`, `"//"`, `"#"` for the length...).
    Expr {
        op: Vec<u8>,
        param: String,
        args: Vec<Node>,
    },
}

pub fn parse(input: &str) -> Result<Vec<Node>, EnvsubstError> {
    let mut parser = Parser {
        scanner: Scanner::new(input),
        depth: 0,
    };
    parser.top_level()
}

struct Parser {
    scanner: Scanner,
    depth: usize,
}

type Parsed = Result<Node, EnvsubstError>;

fn expr(op: Vec<u8>, param: String, args: Vec<Node>) -> Node {
    Node::Expr { op, param, args }
}

impl Parser {
    fn set(&mut self, accept: Accept, scan_mode: u8) {
        self.scanner.accept = accept;
        self.scanner.mode = scan_mode;
    }

    /// Scans one token of `accept` characters; anything else is `err`.
    fn word(&mut self, accept: Accept, err: EnvsubstError) -> Result<Vec<u8>, EnvsubstError> {
        self.set(accept, mode::IDENT);
        match self.scanner.scan() {
            Token::Ident => Ok(self.scanner.text()),
            _ => Err(err),
        }
    }

    fn top_level(&mut self) -> Result<Vec<Node>, EnvsubstError> {
        let mut nodes = Vec::new();
        loop {
            self.set(Accept::Any, mode::IDENT | mode::LBRACK | mode::ESCAPE);
            self.scanner.escapes = escape::DOLLAR;
            match self.scanner.scan() {
                Token::Ident => nodes.push(Node::Text(self.scanner.text())),
                Token::Eof => return Ok(nodes),
                Token::Lbrack => nodes.push(self.expression()?),
                _ => return Err(EnvsubstError::BadSubstitution),
            }
        }
    }

    /// After `${`.
    fn expression(&mut self) -> Parsed {
        if self.depth >= MAX_NESTING {
            return Err(EnvsubstError::TooDeep { limit: MAX_NESTING });
        }
        self.depth += 1;
        let node = self.expression_body();
        self.depth -= 1;
        node
    }

    fn expression_body(&mut self) -> Parsed {
        self.scanner.escapes = escape::ALL;
        if self.scanner.peek() == '#' {
            return self.length();
        }
        let name = self.word(Accept::Ident, EnvsubstError::VariableName)?;
        let name = String::from_utf8_lossy(&name).into_owned();
        match self.scanner.peek() {
            ':' => return self.default_or_substring(name),
            '=' => return self.default(name),
            ',' | '^' => return self.casing(name),
            '/' => return self.replace(name),
            '#' => return self.remove(name, Accept::HashOp),
            '%' => return self.remove(name, Accept::PercentOp),
            _ => {}
        }
        self.set(Accept::Ident, mode::RBRACK);
        match self.scanner.scan() {
            Token::Rbrack => Ok(expr(Vec::new(), name, Vec::new())),
            _ => Err(EnvsubstError::MissingClosingBrace),
        }
    }

    /// One argument: a nested expression or a run of `accept` characters.
    fn argument(&mut self, accept: Accept, scan_mode: u8) -> Parsed {
        self.set(accept, scan_mode | mode::LBRACK);
        match self.scanner.scan() {
            Token::Lbrack => self.expression(),
            Token::Ident | Token::Rbrack => Ok(Node::Text(self.scanner.text())),
            _ => Err(EnvsubstError::FuncSubstitution),
        }
    }

    fn close(&mut self, node: Node) -> Parsed {
        self.scanner.mode = mode::RBRACK;
        match self.scanner.scan() {
            Token::Rbrack => Ok(node),
            _ => Err(EnvsubstError::BadSubstitution),
        }
    }

    fn default_or_substring(&mut self, name: String) -> Parsed {
        // Go reads the `:` and peeks past it, then steps back by the width
        // of the peeked character: a multi-byte character (or the end of
        // input) after `:` leaves the cursor misplaced, which ends in
        // "bad substitution" just as it does there.
        self.scanner.read();
        let next = self.scanner.peek();
        self.scanner.unread();
        if matches!(next, '=' | '-' | '?' | '+') {
            self.default(name)
        } else {
            self.substring(name)
        }
    }

    /// `${v:offset}` and `${v:offset:length}`.
    fn substring(&mut self, name: String) -> Parsed {
        let op = self.word(Accept::OneColon, EnvsubstError::BadSubstitution)?;
        let mut args = vec![self.argument(Accept::NotColonOrClose, mode::IDENT)?];
        self.set(Accept::Colon, mode::IDENT | mode::RBRACK);
        match self.scanner.scan() {
            Token::Rbrack => return Ok(expr(op, name, args)),
            Token::Ident => {}
            _ => return Err(EnvsubstError::BadSubstitution),
        }
        args.push(self.argument(Accept::NotClosing, mode::IDENT)?);
        self.close(expr(op, name, args))
    }

    /// `${v#p}`, `${v##p}`, `${v%p}`, `${v%%p}`.
    fn remove(&mut self, name: String, accept: Accept) -> Parsed {
        let op = self.word(accept, EnvsubstError::BadSubstitution)?;
        let args = vec![self.argument(Accept::NotClosing, mode::IDENT)?];
        self.close(expr(op, name, args))
    }

    /// `${v/p/r}`, `${v//p/r}`, `${v/#p/r}`, `${v/%p/r}`.
    fn replace(&mut self, name: String) -> Parsed {
        let op = self.word(Accept::ReplaceOp, EnvsubstError::BadSubstitution)?;
        // The pattern may not be empty: `${v/#/prefix}` fails in the
        // envsubst kustomize-controller v1.9 uses (v1.7.1; later versions
        // read it as an empty pattern).
        let mut args = vec![self.argument(Accept::NotSlash, mode::IDENT | mode::ESCAPE)?];
        // The separator token takes every `/` in a row.
        self.word(Accept::Slash, EnvsubstError::BadSubstitution)?;
        if self.scanner.peek() == '}' {
            return self.close(expr(op, name, args));
        }
        args.push(self.argument(Accept::NotClosing, mode::IDENT | mode::ESCAPE)?);
        self.close(expr(op, name, args))
    }

    /// `${v=d}`, `${v:=d}`, `${v:-d}`, `${v:?d}`, `${v:+d}`: the default may
    /// mix text and nested expressions.
    fn default(&mut self, name: String) -> Parsed {
        let accept = if self.scanner.peek() == '=' {
            Accept::OneEqual
        } else {
            Accept::DefaultOp
        };
        let op = self.word(accept, EnvsubstError::DefaultFunction)?;
        let mut args = Vec::new();
        loop {
            if self.scanner.peek() == '}' {
                return self.close(expr(op, name, args));
            }
            args.push(self.argument(Accept::NotClosing, mode::IDENT)?);
        }
    }

    /// `${v,}`, `${v,,}`, `${v^}`, `${v^^}` (and mixes such as `${v,^}`,
    /// which Flux accepts and evaluates to the plain value).
    fn casing(&mut self, name: String) -> Parsed {
        let op = self.word(Accept::CasingOp, EnvsubstError::BadSubstitution)?;
        self.close(expr(op, name, Vec::new()))
    }

    /// `${#v}`.
    fn length(&mut self) -> Parsed {
        let op = self.word(Accept::OneHash, EnvsubstError::BadSubstitution)?;
        let name = self.word(Accept::Ident, EnvsubstError::BadSubstitution)?;
        let name = String::from_utf8_lossy(&name).into_owned();
        self.close(expr(op, name, Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::EOF;

    #[test]
    fn text_and_expressions_alternate() {
        let nodes = parse("a ${b} c").expect("parses");
        assert_eq!(nodes.len(), 3);
        assert_eq!(nodes[0], Node::Text(b"a ".to_vec()));
        assert_eq!(nodes[1], expr(Vec::new(), "b".into(), Vec::new()));
    }

    #[test]
    fn a_default_keeps_text_and_nested_expressions_as_separate_arguments() {
        let nodes = parse("${a:=x${b}y}").expect("parses");
        let Node::Expr { op, args, .. } = &nodes[0] else {
            panic!("not an expression")
        };
        assert_eq!(op, b":=");
        assert_eq!(args.len(), 3);
    }

    #[test]
    fn nesting_past_the_limit_is_refused() {
        let deep = "${a:=".repeat(MAX_NESTING + 1);
        assert!(matches!(parse(&deep), Err(EnvsubstError::TooDeep { .. })));
    }

    #[test]
    fn a_nul_character_ends_the_input() {
        assert_eq!(
            parse("a\0b").expect("parses"),
            vec![Node::Text(b"a".to_vec())]
        );
        assert_eq!(EOF, '\0');
    }
}
