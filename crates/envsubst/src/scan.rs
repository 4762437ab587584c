//! The cursor the parser drives. It works on bytes and decodes one
//! character at a time the way Go does (an invalid byte reads as U+FFFD of
//! width 1), and it keeps Go's quirks because users see their effect:
//! a NUL character reads as the end of input, `unread` steps back by the
//! width of the *last read* character (not of the one being put back), and
//! an escape deletes the escaping byte from the buffer in place.

/// The character value that means "end of input" (Go's `rune(0)`).
pub const EOF: char = '\0';

/// Which tokens a scan may produce.
pub mod mode {
    pub const IDENT: u8 = 1;
    pub const LBRACK: u8 = 1 << 1;
    pub const RBRACK: u8 = 1 << 2;
    pub const ESCAPE: u8 = 1 << 3;
}

/// Which escapes are live while [`mode::ESCAPE`] is on.
pub mod escape {
    /// `$$` reads as `$`.
    pub const DOLLAR: u8 = 1;
    /// `\/` and `\\` read as `/` and `\`.
    pub const BACKSLASH: u8 = 1 << 1;
    pub const ALL: u8 = DOLLAR | BACKSLASH;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Illegal,
    Eof,
    Ident,
    Lbrack,
    Rbrack,
}

/// Which characters an identifier-like token may contain. `at` is the byte
/// offset just past the character, counted from the token start.
#[derive(Debug, Clone, Copy)]
pub enum Accept {
    Any,
    Ident,
    Colon,
    OneHash,
    NotClosing,
    HashOp,
    PercentOp,
    DefaultOp,
    ReplaceOp,
    OneEqual,
    OneColon,
    NotColonOrClose,
    Slash,
    NotSlash,
    CasingOp,
}

impl Accept {
    fn accepts(self, c: char, at: usize) -> bool {
        match self {
            Accept::Any => true,
            // Go's unicode.IsLetter / IsDigit: letters of any script and
            // decimal digits (category Nd).
            Accept::Ident => c.is_alphabetic() && is_letter(c) || is_decimal_digit(c) || c == '_',
            Accept::Colon => c == ':',
            Accept::OneHash => c == '#' && at == 1,
            Accept::NotClosing => c != '}',
            Accept::HashOp => c == '#' && at < 3,
            Accept::PercentOp => c == '%' && at < 3,
            Accept::DefaultOp => {
                (at == 1 && c == ':') || (at == 2 && matches!(c, '=' | '-' | '?' | '+'))
            }
            Accept::ReplaceOp => (at == 1 && c == '/') || (at == 2 && matches!(c, '/' | '#' | '%')),
            Accept::OneEqual => at == 1 && c == '=',
            Accept::OneColon => at == 1 && c == ':',
            Accept::NotColonOrClose => c != ':' && c != '}',
            Accept::Slash => c == '/',
            Accept::NotSlash => c != '/',
            Accept::CasingOp => matches!(c, ',' | '^') && at < 3,
        }
    }
}

/// Go's `unicode.IsLetter` is category L; Rust's `is_alphabetic` also takes
/// Nl, Other_Alphabetic and a few more, which Go does not count as letters.
fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    // Letter-number (Nl) and combining marks are alphabetic in Rust but not
    // letters in Go. A letter has a case mapping or is an "other letter";
    // without a Unicode category table the best portable test is: alphabetic
    // and not a mark or number. Marks are not alphabetic except
    // Other_Alphabetic ones, which are rare in variable names.
    !c.is_numeric()
}

/// Go's `unicode.IsDigit`: decimal digits (Nd) only.
fn is_decimal_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    // Rust has no Nd test; `to_digit` is ASCII only. Non-ASCII decimal digits
    // are numeric and not alphabetic, as are other numerics (No, Nl) that Go
    // rejects; Nd is the overwhelmingly common numeric category in names.
    c.is_numeric() && !c.is_alphabetic()
}

/// Decodes one character at `bytes[at..]` as Go does.
pub fn decode(bytes: &[u8], at: usize) -> (char, usize) {
    let Some(&first) = bytes.get(at) else {
        return (EOF, 0);
    };
    let len = match first {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return (char::REPLACEMENT_CHARACTER, 1),
    };
    match bytes
        .get(at..at + len)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.chars().next())
    {
        Some(c) => (c, len),
        None => (char::REPLACEMENT_CHARACTER, 1),
    }
}

pub struct Scanner {
    buf: Vec<u8>,
    pos: usize,
    start: usize,
    width: usize,
    pub mode: u8,
    pub escapes: u8,
    pub accept: Accept,
}

impl Scanner {
    pub fn new(input: &str) -> Self {
        Self {
            buf: input.as_bytes().to_vec(),
            pos: 0,
            start: 0,
            width: 0,
            mode: 0,
            escapes: 0,
            accept: Accept::Any,
        }
    }

    pub fn read(&mut self) -> char {
        if self.pos >= self.buf.len() {
            self.width = 0;
            return EOF;
        }
        let (c, width) = decode(&self.buf, self.pos);
        self.width = width;
        self.pos += width;
        c
    }

    pub fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(self.width);
    }

    /// Deletes the byte just before the cursor (the escaping `$` or `\`);
    /// the cursor keeps its index, so it now stands past the escaped byte.
    fn skip(&mut self) {
        if self.pos >= 1 && self.pos <= self.buf.len() {
            self.buf.remove(self.pos - 1);
        }
    }

    pub fn peek(&mut self) -> char {
        let c = self.read();
        self.unread();
        c
    }

    /// The bytes of the token scanned last.
    pub fn text(&self) -> Vec<u8> {
        let end = self.pos.min(self.buf.len());
        self.buf.get(self.start..end).unwrap_or_default().to_vec()
    }

    pub fn scan(&mut self) -> Token {
        self.start = self.pos;
        let c = self.read();
        if c == EOF {
            Token::Eof
        } else if self.scan_lbrack(c) {
            Token::Lbrack
        } else if self.scan_rbrack(c) {
            Token::Rbrack
        } else if self.scan_ident(c) {
            Token::Ident
        } else {
            Token::Illegal
        }
    }

    fn offset(&self) -> usize {
        self.pos.saturating_sub(self.start)
    }

    fn scan_ident(&mut self, first: char) -> bool {
        if self.mode & mode::IDENT == 0 {
            return false;
        }
        if self.scan_escaped(first) {
            self.skip();
        } else if !self.accept.accepts(first, self.offset()) {
            return false;
        }
        loop {
            let c = self.read();
            if c == EOF {
                self.unread();
                break;
            }
            if self.scan_lbrack(c) {
                self.unread();
                self.unread();
                break;
            }
            if self.scan_escaped(c) {
                self.skip();
                continue;
            }
            if !self.accept.accepts(c, self.offset()) {
                self.unread();
                break;
            }
        }
        true
    }

    fn scan_lbrack(&mut self, c: char) -> bool {
        if self.mode & mode::LBRACK == 0 {
            return false;
        }
        if c == '$' {
            if self.read() == '{' {
                return true;
            }
            self.unread();
        }
        false
    }

    fn scan_rbrack(&self, c: char) -> bool {
        self.mode & mode::RBRACK != 0 && c == '}'
    }

    fn scan_escaped(&mut self, c: char) -> bool {
        if self.mode & mode::ESCAPE == 0 {
            return false;
        }
        if c == '$' && self.escapes & escape::DOLLAR != 0 && self.peek() == '$' {
            return true;
        }
        if c == '\\' && self.escapes & escape::BACKSLASH != 0 {
            return matches!(self.peek(), '/' | '\\');
        }
        false
    }
}
