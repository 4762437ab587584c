//! Kubernetes label selectors in their full string syntax, as the API machinery parses them
//! (and so Flux's drift ignore rules, whose `labelSelector` and `annotationSelector` are read
//! with it): requirements joined by commas, each `key`, `!key`, `key=value`, `key==value`,
//! `key!=value`, `key in (v1,v2)`, `key notin (v1,v2)`, `key>n` or `key<n`. Keys must be
//! qualified names and values label values; whitespace separates tokens anywhere. The empty
//! selector selects everything.
//!
//! Matching follows the API machinery: `!=` and `notin` also hold when the key is absent;
//! `>`/`<` need the key present with an integer value.

use std::fmt;

/// Why a selector did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(String);

/// A requirement's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `=`, `==` and `in`: the key is present with one of the values.
    In,
    /// `!=` and `notin`: the key is absent or has none of the values.
    NotIn,
    /// `key`: the key is present.
    Exists,
    /// `!key`: the key is absent.
    DoesNotExist,
    /// `key>n`: the key's value is an integer greater than n.
    GreaterThan,
    /// `key<n`: the key's value is an integer less than n.
    LessThan,
}

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

/// A parsed label selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses `text` as the API machinery does, with its error wording where it has one.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        Parser::new(text)
            .parse()
            .map(|requirements| Self { requirements })
    }

    /// The requirements, in the order written.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether labels looked up by `get` satisfy every requirement.
    pub fn matches<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|r| r.matches(&get))
    }
}

impl Requirement {
    fn matches<'a>(&self, get: &impl Fn(&str) -> Option<&'a str>) -> bool {
        let value = get(&self.key);
        let listed = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::In => value.is_some_and(listed),
            Operator::NotIn => value.is_none_or(|v| !listed(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(have), Some(want)) = (
                    value.and_then(|v| v.parse::<i64>().ok()),
                    self.values.first().and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    End,
    Ident(String),
    Not,
    Equals,
    DoubleEquals,
    NotEquals,
    Greater,
    Less,
    In,
    NotIn,
    Open,
    Close,
    Comma,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Token::End => "",
            Token::Ident(s) => s,
            Token::Not => "!",
            Token::Equals => "=",
            Token::DoubleEquals => "==",
            Token::NotEquals => "!=",
            Token::Greater => ">",
            Token::Less => "<",
            Token::In => "in",
            Token::NotIn => "notin",
            Token::Open => "(",
            Token::Close => ")",
            Token::Comma => ",",
        })
    }
}

/// The API machinery's whitespace (not Unicode's).
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn symbol(text: &str) -> Option<Token> {
    Some(match text {
        "!" => Token::Not,
        "=" => Token::Equals,
        "==" => Token::DoubleEquals,
        "!=" => Token::NotEquals,
        ">" => Token::Greater,
        "<" => Token::Less,
        "(" => Token::Open,
        ")" => Token::Close,
        "," => Token::Comma,
        _ => return None,
    })
}

/// Splits `text` into tokens: operators are the longest symbol run that forms one, words run
/// to the next symbol or whitespace (`in` and `notin` are keywords).
fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_blank(c) {
            i += 1;
        } else if is_special(c) {
            let mut end = i + 1;
            while end < chars.len()
                && is_special(chars[end])
                && symbol(&chars[i..=end].iter().collect::<String>()).is_some()
            {
                end += 1;
            }
            let run: String = chars[i..end].iter().collect();
            out.extend(symbol(&run));
            i = end;
        } else {
            let start = i;
            while i < chars.len() && !is_special(chars[i]) && !is_blank(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push(match word.as_str() {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Ident(word),
            });
        }
    }
    out.push(Token::End);
    out
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

/// Where a keyword is read: in values, `in` and `notin` are plain words.
#[derive(Clone, Copy, PartialEq)]
enum Context {
    Operator,
    Values,
}

fn error(message: String) -> SelectorError {
    SelectorError(message)
}

impl Parser {
    fn new(text: &str) -> Self {
        Self {
            tokens: tokens(text),
            at: 0,
        }
    }

    fn peek(&self, context: Context) -> Token {
        let token = self.tokens.get(self.at).cloned().unwrap_or(Token::End);
        match token {
            Token::In | Token::NotIn if context == Context::Values => {
                Token::Ident(token.to_string())
            }
            other => other,
        }
    }

    fn next(&mut self, context: Context) -> Token {
        let token = self.peek(context);
        self.at += 1;
        token
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            match self.peek(Context::Values) {
                Token::Ident(_) | Token::Not => {
                    let requirement = self
                        .requirement()
                        .map_err(|e| error(format!("unable to parse requirement: {e}")))?;
                    requirements.push(requirement);
                    match self.next(Context::Values) {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let after = self.peek(Context::Values);
                            if !matches!(after, Token::Ident(_) | Token::Not) {
                                return Err(error(format!(
                                    "found '{after}', expected: identifier after ','"
                                )));
                            }
                        }
                        other => {
                            return Err(error(format!(
                                "found '{other}', expected: ',' or 'end of string'"
                            )));
                        }
                    }
                }
                Token::End => return Ok(requirements),
                other => {
                    return Err(error(format!(
                        "found '{other}', expected: !, identifier, or 'end of string'"
                    )));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        let mut negated = false;
        let mut token = self.next(Context::Values);
        if token == Token::Not {
            negated = true;
            token = self.next(Context::Values);
        }
        let Token::Ident(key) = token else {
            return Err(error(format!("found '{token}', expected: identifier")));
        };
        check_key(&key)?;
        let bare = matches!(self.peek(Context::Values), Token::End | Token::Comma);
        if negated || bare {
            let operator = if negated {
                Operator::DoesNotExist
            } else {
                Operator::Exists
            };
            return Ok(Requirement {
                key,
                operator,
                values: Vec::new(),
            });
        }
        let (operator, values) = match self.next(Context::Operator) {
            Token::In => (Operator::In, self.value_set()?),
            Token::NotIn => (Operator::NotIn, self.value_set()?),
            Token::Equals | Token::DoubleEquals => (Operator::In, self.exact_value()?),
            Token::NotEquals => (Operator::NotIn, self.exact_value()?),
            Token::Greater => (Operator::GreaterThan, self.exact_value()?),
            Token::Less => (Operator::LessThan, self.exact_value()?),
            other => {
                return Err(error(format!(
                    "found '{other}', expected: in, notin, =, ==, !=, gt, lt"
                )));
            }
        };
        if matches!(operator, Operator::GreaterThan | Operator::LessThan) {
            for value in &values {
                if value.parse::<i64>().is_err() {
                    return Err(error(format!(
                        "values[0]: Invalid value: \"{value}\": for 'Gt', 'Lt' operators, the value must be an integer"
                    )));
                }
            }
        }
        for value in &values {
            check_value(&key, value)?;
        }
        Ok(Requirement {
            key,
            operator,
            values,
        })
    }

    /// `(a,b)`; empty entries (`(a,)`, `()`) stand for the empty value.
    fn value_set(&mut self) -> Result<Vec<String>, SelectorError> {
        let open = self.next(Context::Values);
        if open != Token::Open {
            return Err(error(format!("found '{open}' expected: '('")));
        }
        let mut values: Vec<String> = Vec::new();
        let add = |v: String, values: &mut Vec<String>| {
            if !values.contains(&v) {
                values.push(v);
            }
        };
        match self.peek(Context::Values) {
            Token::Close => {
                self.at += 1;
                return Ok(vec![String::new()]);
            }
            Token::Ident(_) | Token::Comma => {}
            other => {
                return Err(error(format!(
                    "found '{other}', expected: ',', ')' or identifier"
                )));
            }
        }
        loop {
            match self.next(Context::Values) {
                Token::Ident(v) => {
                    add(v, &mut values);
                    match self.peek(Context::Values) {
                        Token::Comma => {}
                        Token::Close => break,
                        other => {
                            return Err(error(format!("found '{other}', expected: ',' or ')'")));
                        }
                    }
                }
                Token::Comma => match self.peek(Context::Values) {
                    Token::Close => {
                        add(String::new(), &mut values);
                        break;
                    }
                    Token::Comma => add(String::new(), &mut values),
                    _ if values.is_empty() => add(String::new(), &mut values),
                    _ => {}
                },
                other => {
                    return Err(error(format!(
                        "found '{other}', expected: ',', or identifier"
                    )));
                }
            }
        }
        let close = self.next(Context::Values);
        if close != Token::Close {
            return Err(error(format!("found '{close}', expected: ')'")));
        }
        values.sort();
        Ok(values)
    }

    /// The one value after `=`, `==`, `!=`, `>` or `<` (none written is the empty value).
    fn exact_value(&mut self) -> Result<Vec<String>, SelectorError> {
        if matches!(self.peek(Context::Values), Token::End | Token::Comma) {
            return Ok(vec![String::new()]);
        }
        match self.next(Context::Values) {
            Token::Ident(v) => Ok(vec![v]),
            other => Err(error(format!("found '{other}', expected: identifier"))),
        }
    }
}

/// A name part of a label key, or a label value: up to 63 alphanumerics, `-`, `_` and `.`,
/// beginning and ending alphanumeric.
fn is_name_part(text: &str) -> bool {
    let bytes = text.as_bytes();
    let edge = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
    text.len() <= 63
        && edge(bytes.first())
        && edge(bytes.last())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A DNS-1123 subdomain: dot-separated lowercase labels, up to 253 characters.
fn is_subdomain(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|label| {
            let bytes = label.as_bytes();
            let edge =
                |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            edge(bytes.first())
                && edge(bytes.last())
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        })
}

fn check_key(key: &str) -> Result<(), SelectorError> {
    let valid = match key.split_once('/') {
        Some((prefix, name)) => is_subdomain(prefix) && !name.contains('/') && is_name_part(name),
        None => is_name_part(key),
    };
    if valid {
        Ok(())
    } else {
        Err(error(format!(
            "key: Invalid value: \"{key}\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/'"
        )))
    }
}

fn check_value(key: &str, value: &str) -> Result<(), SelectorError> {
    if value.is_empty() || is_name_part(value) {
        Ok(())
    } else {
        Err(error(format!(
            "values[0][{key}]: Invalid value: \"{value}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        )))
    }
}

#[cfg(test)]
mod tests;
