//! `--set`, `--set-string` and `--set-file`: Helm's strvals syntax.
//! `a.b=c` nests maps, `a[0]=x` and `a[1].b=y` build lists, `a={x,y}` is a
//! list literal, `\` escapes `.`, `,`, `=` and brackets, `,` separates
//! assignments. Unquoted values are typed: true/false, null (which later
//! deletes the chart default), int64 without a leading zero; everything
//! else stays a string. `--set-string` keeps every value a string and
//! `--set-file` reads the named file as the value.

use std::path::PathBuf;

use serde_json::Value as Json;

use crate::Values;
use crate::error::Error;

/// The largest list index `a[N]=x` may name.
pub const MAX_INDEX: i64 = 65536;
/// How deep `a.b.c…` may nest.
pub const MAX_NESTED_NAME_LEVEL: usize = 30;

/// The user's values, as `helm template` takes them on its command line.
#[derive(Debug, Clone, Default)]
pub struct ValueOptions {
    /// `-f`/`--values` files, merged in order.
    pub value_files: Vec<PathBuf>,
    /// `--set`, applied after every file.
    pub values: Vec<String>,
    /// `--set-string`, after every `--set`.
    pub string_values: Vec<String>,
    /// `--set-file`, last.
    pub file_values: Vec<String>,
}

impl ValueOptions {
    /// Merges everything into one map, in Helm's order.
    pub fn merge(&self) -> Result<Values, Error> {
        self.merge_as(crate::HelmVersion::V3)
    }

    /// [`ValueOptions::merge`] with values files read as the given Helm
    /// release reads them (Helm 4 merges every YAML document of a file).
    pub fn merge_as(&self, version: crate::HelmVersion) -> Result<Values, Error> {
        let mut base = Values::new();
        for f in &self.value_files {
            let data = std::fs::read(f).map_err(|e| Error::go_read(f, &e))?;
            let current = crate::values::parse_values_as(&data, version).map_err(|message| {
                Error::ValuesFile {
                    file: f.display().to_string(),
                    message,
                }
            })?;
            base = crate::values::merge_maps(base, current);
        }
        for (flag, list, kind) in [
            ("set", &self.values, Kind::Typed),
            ("set-string", &self.string_values, Kind::Str),
            ("set-file", &self.file_values, Kind::File),
        ] {
            for s in list {
                parse_into(s, &mut base, kind).map_err(|message| Error::Strvals {
                    flag: flag.into(),
                    message,
                })?;
            }
        }
        Ok(base)
    }
}

/// How a value's text becomes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--set`: typed.
    Typed,
    /// `--set-string`: always a string.
    Str,
    /// `--set-file`: the text names a file to read.
    File,
}

/// Parses `s` into `dest`; the error is Helm's message without its flag prefix.
pub fn parse_into(s: &str, dest: &mut Values, kind: Kind) -> Result<(), String> {
    let mut p = Parser {
        chars: s.chars().collect(),
        pos: 0,
        kind,
    };
    loop {
        match p.key(dest, 0) {
            Ok(()) => {}
            Err(Stop::Eof) => return Ok(()),
            Err(Stop::Err(e)) => return Err(e),
        }
    }
}

/// The typed value of `--set` text.
pub fn typed_val(v: &str) -> Json {
    if v.eq_ignore_ascii_case("true") {
        return Json::Bool(true);
    }
    if v.eq_ignore_ascii_case("false") {
        return Json::Bool(false);
    }
    if v.eq_ignore_ascii_case("null") {
        return Json::Null;
    }
    if v == "0" {
        return Json::from(0i64);
    }
    if !v.is_empty()
        && !v.starts_with('0')
        && let Some(i) = go_parse_int(v)
    {
        return Json::from(i);
    }
    Json::String(v.to_string())
}

/// Go's `strconv.ParseInt(v, 10, 64)`: optional sign, ASCII digits only.
fn go_parse_int(v: &str) -> Option<i64> {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<i64>().ok()
}

enum Stop {
    Eof,
    Err(String),
}

type R<T> = Result<T, Stop>;

fn err<T>(m: String) -> R<T> {
    Err(Stop::Err(m))
}

fn q(s: &[char]) -> String {
    driftless_gotemplate::gofmt::quote(&s.iter().collect::<String>())
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    kind: Kind,
}

impl Parser {
    fn next(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Characters up to one of `stop` (consumed, returned), `\` escaping
    /// the next; None as the stop at the end of input.
    fn until(&mut self, stop: &[char]) -> (Vec<char>, Option<char>) {
        let mut v = Vec::new();
        loop {
            match self.next() {
                None => return (v, None),
                Some(c) if stop.contains(&c) => return (v, Some(c)),
                Some('\\') => match self.next() {
                    Some(n) => v.push(n),
                    None => return (v, None),
                },
                Some(c) => v.push(c),
            }
        }
    }

    fn read(&self, rs: &[char]) -> Result<Json, String> {
        let text: String = rs.iter().collect();
        match self.kind {
            Kind::Typed => Ok(typed_val(&text)),
            Kind::Str => Ok(Json::String(text)),
            Kind::File => std::fs::read(&text)
                .map(|d| Json::String(String::from_utf8_lossy(&d).into_owned()))
                .map_err(|e| format!("open {text}: {}", go_io_error(&e))),
        }
    }

    fn key(&mut self, data: &mut Values, level: usize) -> R<()> {
        let (k, last) = self.until(&['=', '[', ',', '.']);
        let key: String = k.iter().collect();
        match last {
            None if k.is_empty() => Err(Stop::Eof),
            None => err(format!("key {} has no value", q(&k))),
            Some('[') => {
                let i = self.key_index()?;
                let list = match data.remove(&key) {
                    None => Vec::new(),
                    Some(Json::Array(l)) => l,
                    Some(other) => {
                        return err(format!(
                            "unable to parse key: interface conversion: interface {{}} is {}, not []interface {{}}",
                            go_type_name(&other)
                        ));
                    }
                };
                let (list, r) = self.list_item(list, i, level);
                set(data, &key, Json::Array(list));
                r
            }
            Some('=') => match self.val_list() {
                Ok(vl) => {
                    set(data, &key, Json::Array(vl));
                    Ok(())
                }
                Err(ListStop::Eof) => {
                    set(data, &key, Json::String(String::new()));
                    Err(Stop::Eof)
                }
                Err(ListStop::NotList) => {
                    let rs = self.val();
                    let v = self.read(&rs).map_err(Stop::Err)?;
                    set(data, &key, v);
                    Ok(())
                }
                Err(ListStop::Err(e)) => err(e),
            },
            Some(',') => {
                set(data, &key, Json::String(String::new()));
                err(format!("key {} has no value (cannot end with ,)", q(&k)))
            }
            _ => {
                let level = level + 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return err(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    ));
                }
                let mut inner = match data.remove(&key) {
                    None => Values::new(),
                    Some(Json::Object(m)) => m,
                    Some(other) => {
                        return err(format!(
                            "unable to parse key: interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                            go_type_name(&other)
                        ));
                    }
                };
                let r = self.key(&mut inner, level);
                let empty = inner.is_empty();
                if !empty {
                    set(data, &key, Json::Object(inner));
                }
                if r.is_ok() && empty {
                    return err(format!("key map {} has no value", q(&k)));
                }
                r
            }
        }
    }

    fn key_index(&mut self) -> R<i64> {
        let (v, last) = self.until(&[']']);
        if last.is_none() {
            return err("error parsing index: EOF".into());
        }
        let text: String = v.iter().collect();
        go_parse_int(&text).ok_or_else(|| {
            Stop::Err(format!(
                "error parsing index: strconv.Atoi: parsing {}: invalid syntax",
                driftless_gotemplate::gofmt::quote(&text)
            ))
        })
    }

    fn list_item(&mut self, mut list: Vec<Json>, i: i64, level: usize) -> (Vec<Json>, R<()>) {
        if i < 0 {
            return (list, err(format!("negative {i} index not allowed")));
        }
        let (k, last) = self.until(&['[', '.', '=']);
        if !k.is_empty() {
            return (
                list,
                err(format!("unexpected data at end of array index: {}", q(&k))),
            );
        }
        match last {
            None => (list, Err(Stop::Eof)),
            Some('=') => {
                let v = match self.val_list() {
                    Ok(vl) => Json::Array(vl),
                    Err(ListStop::Eof) => Json::String(String::new()),
                    Err(ListStop::NotList) => {
                        let rs = self.val();
                        match self.read(&rs) {
                            Ok(v) => v,
                            Err(e) => return (list, err(e)),
                        }
                    }
                    Err(ListStop::Err(e)) => return (list, err(e)),
                };
                set_index(list, i, v)
            }
            Some('[') => {
                let next = match self.key_index() {
                    Ok(n) => n,
                    Err(e) => return (list, Err(e)),
                };
                let current = match list.get(i as usize) {
                    Some(Json::Array(l)) => l.clone(),
                    _ => Vec::new(),
                };
                let (inner, r) = self.list_item(current, next, level);
                if let Err(e) = r {
                    return (list, Err(e));
                }
                set_index(list, i, Json::Array(inner))
            }
            _ => {
                let mut inner = match list.get_mut(i as usize) {
                    Some(Json::Object(m)) => std::mem::take(m),
                    _ => Values::new(),
                };
                if let Err(e) = self.key(&mut inner, level) {
                    if let Some(slot) = list.get_mut(i as usize) {
                        *slot = Json::Object(inner);
                    }
                    return (list, Err(e));
                }
                set_index(list, i, Json::Object(inner))
            }
        }
    }

    fn val(&mut self) -> Vec<char> {
        self.until(&[',']).0
    }

    fn val_list(&mut self) -> Result<Vec<Json>, ListStop> {
        match self.chars.get(self.pos) {
            None => return Err(ListStop::Eof),
            Some('{') => self.pos += 1,
            Some(_) => return Err(ListStop::NotList),
        }
        let mut list = Vec::new();
        loop {
            let (rs, last) = self.until(&[',', '}']);
            match last {
                None => return Err(ListStop::Err("list must terminate with '}'".into())),
                Some('}') => {
                    if self.chars.get(self.pos) == Some(&',') {
                        self.pos += 1;
                    }
                    list.push(self.read(&rs).map_err(ListStop::Err)?);
                    return Ok(list);
                }
                _ => list.push(self.read(&rs).map_err(ListStop::Err)?),
            }
        }
    }
}

enum ListStop {
    Eof,
    NotList,
    Err(String),
}

fn set(data: &mut Values, key: &str, v: Json) {
    if !key.is_empty() {
        data.insert(key.to_string(), v);
    }
}

fn set_index(mut list: Vec<Json>, i: i64, v: Json) -> (Vec<Json>, R<()>) {
    if i < 0 {
        return (list, err(format!("negative {i} index not allowed")));
    }
    if i > MAX_INDEX {
        return (
            list,
            err(format!(
                "index of {i} is greater than maximum supported index of {MAX_INDEX}"
            )),
        );
    }
    let i = i as usize;
    if list.len() <= i {
        list.resize(i + 1, Json::Null);
    }
    list[i] = v;
    (list, Ok(()))
}

/// Go's wording for the dynamic type in an interface conversion panic.
fn go_type_name(v: &Json) -> &'static str {
    match v {
        Json::Null => "nil",
        other => crate::values::go_type_name(other),
    }
}

fn go_io_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str) -> Result<Json, String> {
        let mut m = Values::new();
        parse_into(s, &mut m, Kind::Typed).map(|()| Json::Object(m))
    }

    #[test]
    fn dotted_keys_nest_and_commas_separate() {
        assert_eq!(
            parse("a.b=1,c=true,d=null,e=0x1,f=007").expect("parses"),
            json!({"a": {"b": 1}, "c": true, "d": null, "e": "0x1", "f": "007"})
        );
    }

    #[test]
    fn indexes_and_list_literals_build_lists() {
        assert_eq!(
            parse("a[1]=x,b={p,q},c[0].n=v").expect("parses"),
            json!({"a": [null, "x"], "b": ["p", "q"], "c": [{"n": "v"}]})
        );
    }

    #[test]
    fn a_backslash_escapes_separators() {
        assert_eq!(parse(r"a\.b=c\,d").expect("parses"), json!({"a.b": "c,d"}));
    }

    #[test]
    fn a_key_without_value_is_an_error_naming_it() {
        assert_eq!(
            parse("name").expect_err("fails"),
            "key \"name\" has no value"
        );
        assert_eq!(
            parse("a=1,b,").expect_err("fails"),
            "key \"b\" has no value (cannot end with ,)"
        );
    }

    #[test]
    fn an_index_past_the_maximum_is_refused() {
        assert!(
            parse("a[70000]=1")
                .expect_err("fails")
                .contains("maximum supported index")
        );
    }

    #[test]
    fn set_string_keeps_text() {
        let mut m = Values::new();
        parse_into("a=true,b=12", &mut m, Kind::Str).expect("parses");
        assert_eq!(Json::Object(m), json!({"a": "true", "b": "12"}));
    }
}
