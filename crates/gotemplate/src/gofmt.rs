//! Go's fmt package for template values: `%v` printing of every value
//! (maps, slices, nil, floats in Go's shortest form) and Printf's verbs,
//! flags, width and precision, with Go's `%!verb(type=value)` complaints.

mod float;

pub use float::{format_e, format_f, format_g, format_hex_float};

use crate::value::Value;

/// strconv.Quote: a double-quoted Go string literal.
pub fn quote(s: &str) -> String {
    quote_with(s, false)
}

/// strconv.QuoteToASCII when `ascii` is set.
pub fn quote_with(s: &str, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if ascii && (c as u32) >= 0x80 || !is_print(c) => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An approximation of unicode.IsPrint: graphic characters and the ASCII space.
pub fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    // Unassigned, format and private-use ranges commonly met.
    !matches!(u, 0xad | 0x600..=0x605 | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff | 0xfffe | 0xffff)
}

/// How Go's `%v` prints a value (and `print`, and an action's output).
pub fn sprint_value(v: &Value) -> String {
    let mut p = Printer::default();
    p.print_value(v, 'v', &Flags::default());
    p.out
}

/// fmt.Sprint: operands separated by a space when neither side is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, Value::Str(_));
        if i > 0 && !is_str && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&sprint_value(a));
    }
    out
}

/// fmt.Sprintln: always a space between operands, and a final newline.
pub fn sprintln(args: &[Value]) -> String {
    let parts: Vec<String> = args.iter().map(sprint_value).collect();
    format!("{}\n", parts.join(" "))
}

#[derive(Debug, Default, Clone)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

#[derive(Default)]
struct Printer {
    out: String,
}

/// fmt.Sprintf.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printer::default();
    let b = format.as_bytes();
    let mut i = 0;
    let mut argn = 0;
    let mut reordered = false;
    let mut good_argnum = true;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i] != b'%' {
            i += 1;
        }
        p.out.push_str(&format[start..i]);
        if i >= b.len() {
            break;
        }
        i += 1;
        let mut f = Flags::default();
        while i < b.len() {
            match b[i] {
                b'#' => f.sharp = true,
                b'0' => f.zero = !f.minus,
                b'+' => f.plus = true,
                b'-' => {
                    f.minus = true;
                    f.zero = false;
                }
                b' ' => f.space = true,
                _ => break,
            }
            i += 1;
        }
        // Argument index before the width.
        (argn, i, good_argnum, reordered) =
            arg_number(format, i, argn, args.len(), reordered, good_argnum);
        if i < b.len() && b[i] == b'*' {
            i += 1;
            match args.get(argn).and_then(Value::as_int) {
                Some(w) => {
                    if w < 0 {
                        f.minus = true;
                        f.zero = false;
                    }
                    f.width = Some(w.unsigned_abs() as usize);
                }
                None => p.out.push_str("%!(BADWIDTH)"),
            }
            argn += 1;
            reordered = false;
        } else {
            let (n, ni) = parse_num(b, i);
            if ni > i {
                f.width = Some(n);
            }
            i = ni;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            (argn, i, good_argnum, reordered) =
                arg_number(format, i, argn, args.len(), reordered, good_argnum);
            if i < b.len() && b[i] == b'*' {
                i += 1;
                match args.get(argn).and_then(Value::as_int) {
                    Some(pr) if pr >= 0 => f.prec = Some(pr as usize),
                    Some(_) => f.prec = None,
                    None => p.out.push_str("%!(BADPREC)"),
                }
                argn += 1;
                reordered = false;
            } else {
                let (n, ni) = parse_num(b, i);
                f.prec = Some(n);
                i = ni;
            }
        }
        if !reordered {
            (argn, i, good_argnum, reordered) =
                arg_number(format, i, argn, args.len(), reordered, good_argnum);
        }
        if i >= b.len() {
            p.out.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('%');
        i += verb.len_utf8();
        match verb {
            '%' => p.out.push('%'),
            _ if !good_argnum => p.out.push_str(&format!("%!{verb}(BADINDEX)")),
            _ if argn >= args.len() => p.out.push_str(&format!("%!{verb}(MISSING)")),
            _ => {
                let a = &args[argn];
                argn += 1;
                if verb == 'T' {
                    let t = if a.is_nil() { "<nil>" } else { a.type_name() };
                    p.pad_str(t, &f);
                } else {
                    p.print_value(a, verb, &f);
                }
            }
        }
    }
    if !reordered && argn < args.len() {
        p.out.push_str("%!(EXTRA ");
        for (k, a) in args[argn..].iter().enumerate() {
            if k > 0 {
                p.out.push_str(", ");
            }
            p.type_and_value(a);
        }
        p.out.push(')');
    }
    p.out
}

fn parse_num(b: &[u8], mut i: usize) -> (usize, usize) {
    let mut n: usize = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        n = n.saturating_mul(10).saturating_add((b[i] - b'0') as usize);
        if n > 1_000_000 {
            n = 1_000_000;
        }
        i += 1;
    }
    (n, i)
}

/// `[n]` argument indexes.
fn arg_number(
    format: &str,
    i: usize,
    argn: usize,
    nargs: usize,
    reordered: bool,
    good: bool,
) -> (usize, usize, bool, bool) {
    let b = format.as_bytes();
    if i >= b.len() || b[i] != b'[' {
        return (argn, i, good, reordered);
    }
    let Some(close) = format[i..].find(']') else {
        return (argn, i + 1, false, true);
    };
    let inner = &format[i + 1..i + close];
    match inner.parse::<usize>() {
        Ok(n) if n >= 1 && n <= nargs => (n - 1, i + close + 1, true, true),
        _ => (argn, i + close + 1, false, true),
    }
}

impl Printer {
    fn pad_str(&mut self, s: &str, f: &Flags) {
        let n = s.chars().count();
        let w = f.width.unwrap_or(0);
        if n >= w {
            self.out.push_str(s);
            return;
        }
        let pad = w - n;
        if f.minus {
            self.out.push_str(s);
            self.out.push_str(&" ".repeat(pad));
        } else {
            let c = if f.zero { "0" } else { " " };
            self.out.push_str(&c.repeat(pad));
            self.out.push_str(s);
        }
    }

    /// Pads a number: zero padding goes after the sign.
    fn pad_num(&mut self, s: &str, f: &Flags) {
        let w = f.width.unwrap_or(0);
        let n = s.chars().count();
        if f.zero && !f.minus && n < w {
            let (sign, digits) = match s.chars().next() {
                Some(c @ ('+' | '-' | ' ')) => (c.to_string(), &s[1..]),
                _ => (String::new(), s),
            };
            self.out.push_str(&sign);
            self.out.push_str(&"0".repeat(w - n));
            self.out.push_str(digits);
            return;
        }
        let nf = Flags {
            zero: false,
            ..f.clone()
        };
        self.pad_str(s, &nf);
    }

    fn bad_verb(&mut self, v: &Value, verb: char) {
        self.out.push_str("%!");
        self.out.push(verb);
        self.out.push('(');
        self.type_and_value(v);
        self.out.push(')');
    }

    /// `type=value` (or `<nil>`) inside Go's complaints.
    fn type_and_value(&mut self, v: &Value) {
        if v.is_nil() {
            self.out.push_str("<nil>");
        } else {
            self.out.push_str(v.type_name());
            self.out.push('=');
            self.print_value(v, 'v', &Flags::default());
        }
    }

    fn print_value(&mut self, v: &Value, verb: char, f: &Flags) {
        match v {
            Value::Invalid | Value::Nil => match verb {
                'v' => self.pad_str("<nil>", f),
                _ => self.bad_verb(v, verb),
            },
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad_str(if *b { "true" } else { "false" }, f),
                _ => self.bad_verb(v, verb),
            },
            Value::Int(n) | Value::Int64(n) => self.fmt_int(*n, verb, f, v),
            Value::Float(x) => self.fmt_float(*x, verb, f, v),
            Value::Str(s) => self.fmt_str(s, verb, f, v),
            Value::Bytes(bs) => match verb {
                's' | 'q' | 'x' | 'X' => self.fmt_str(&String::from_utf8_lossy(bs), verb, f, v),
                _ => {
                    let items: Vec<Value> = bs.iter().map(|b| Value::Int(*b as i64)).collect();
                    self.print_list(&items, verb, f);
                }
            },
            Value::List(items) => self.print_list(items, verb, f),
            Value::StrList(items) => {
                let items: Vec<Value> = items.iter().map(|s| Value::str(s.as_str())).collect();
                self.print_list(&items, verb, f);
            }
            Value::Object(o) => match verb {
                'v' | 's' => self.pad_str(&o.print(), f),
                _ => self.bad_verb(v, verb),
            },
            Value::Time(t) => match verb {
                'v' | 's' => self.pad_str(&crate::sprig::time_string(t), f),
                _ => self.bad_verb(v, verb),
            },
            Value::Map(m) => {
                self.out.push_str("map[");
                for (i, (k, val)) in m.entries().iter().enumerate() {
                    if i > 0 {
                        self.out.push(' ');
                    }
                    self.fmt_str(k, verb, f, &Value::str(k.as_str()));
                    self.out.push(':');
                    self.print_value(val, verb, f);
                }
                self.out.push(']');
            }
        }
    }

    fn print_list(&mut self, items: &[Value], verb: char, f: &Flags) {
        self.out.push('[');
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(' ');
            }
            self.print_value(it, verb, f);
        }
        self.out.push(']');
    }

    fn fmt_str(&mut self, s: &str, verb: char, f: &Flags, v: &Value) {
        let s = match f.prec {
            Some(p) if matches!(verb, 's' | 'v' | 'q' | 'x' | 'X') => {
                let end = s.char_indices().nth(p).map(|(i, _)| i).unwrap_or(s.len());
                &s[..end]
            }
            _ => s,
        };
        match verb {
            'v' | 's' => self.pad_str(s, f),
            'q' => {
                let q = if f.sharp
                    && !s.contains('`')
                    && s.chars().all(|c| c == '\t' || !c.is_control())
                {
                    format!("`{s}`")
                } else {
                    quote_with(s, f.plus)
                };
                self.pad_str(&q, f);
            }
            'x' | 'X' => {
                let mut out = String::new();
                for (i, byte) in s.bytes().enumerate() {
                    if f.space && i > 0 {
                        out.push(' ');
                    }
                    if f.sharp && (f.space || i == 0) {
                        out.push_str(if verb == 'x' { "0x" } else { "0X" });
                    }
                    if verb == 'x' {
                        out.push_str(&format!("{byte:02x}"));
                    } else {
                        out.push_str(&format!("{byte:02X}"));
                    }
                }
                self.pad_str(&out, f);
            }
            _ => self.bad_verb(v, verb),
        }
    }

    fn fmt_int(&mut self, n: i64, verb: char, f: &Flags, v: &Value) {
        let neg = n < 0;
        let u = n.unsigned_abs();
        let (mut digits, prefix) = match verb {
            'd' | 'v' => (u.to_string(), ""),
            'b' => (format!("{u:b}"), if f.sharp { "0b" } else { "" }),
            'o' => (format!("{u:o}"), if f.sharp { "0" } else { "" }),
            'O' => (format!("{u:o}"), "0o"),
            'x' => (format!("{u:x}"), if f.sharp { "0x" } else { "" }),
            'X' => (format!("{u:X}"), if f.sharp { "0X" } else { "" }),
            'c' => {
                let c = char::from_u32(n as u32).unwrap_or('\u{FFFD}');
                return self.pad_str(&c.to_string(), f);
            }
            'q' => {
                let c = char::from_u32(n as u32).unwrap_or('\u{FFFD}');
                let q = quote(&c.to_string());
                let inner = &q[1..q.len() - 1];
                let inner = if inner == "\\\"" {
                    "\""
                } else if inner == "'" {
                    "\\'"
                } else {
                    inner
                };
                return self.pad_str(&format!("'{inner}'"), f);
            }
            'U' => {
                let s = format!("U+{:04X}", n);
                return self.pad_str(&s, f);
            }
            'e' | 'E' | 'f' | 'F' | 'g' | 'G' => return self.bad_verb(v, verb),
            _ => return self.bad_verb(v, verb),
        };
        if let Some(p) = f.prec {
            if p == 0 && n == 0 {
                digits.clear();
            }
            while digits.len() < p {
                digits.insert(0, '0');
            }
        }
        let sign = if neg {
            "-"
        } else if f.plus {
            "+"
        } else if f.space {
            " "
        } else {
            ""
        };
        let s = format!("{sign}{prefix}{digits}");
        if f.prec.is_some() {
            let nf = Flags {
                zero: false,
                ..f.clone()
            };
            self.pad_str(&s, &nf);
        } else {
            self.pad_num(&s, f);
        }
    }

    fn fmt_float(&mut self, x: f64, verb: char, f: &Flags, v: &Value) {
        let body = match verb {
            'v' | 'g' | 'G' => format_g(x, f.prec, f.sharp),
            'e' | 'E' => format_e(x, f.prec.unwrap_or(6)),
            'f' | 'F' => format_f(x, f.prec.unwrap_or(6)),
            'x' => format_hex_float(x),
            'X' => format_hex_float(x).to_uppercase(),
            _ => return self.bad_verb(v, verb),
        };
        let body = if verb == 'E' || verb == 'G' {
            body.to_uppercase()
        } else {
            body
        };
        if x.is_infinite() || x.is_nan() {
            let s = if x.is_nan() {
                if f.plus {
                    "+NaN".to_string()
                } else if f.space {
                    " NaN".into()
                } else {
                    "NaN".into()
                }
            } else if x > 0.0 {
                if f.plus {
                    "+Inf".into()
                } else if f.space {
                    " Inf".into()
                } else {
                    "Inf".into()
                }
            } else {
                "-Inf".into()
            };
            let nf = Flags {
                zero: false,
                ..f.clone()
            };
            return self.pad_str(&s, &nf);
        }
        let s = if !body.starts_with('-') && f.plus {
            format!("+{body}")
        } else if !body.starts_with('-') && f.space {
            format!(" {body}")
        } else {
            body
        };
        self.pad_num(&s, f);
    }
}
