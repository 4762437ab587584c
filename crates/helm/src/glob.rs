//! The two pattern languages charts meet: Go's `filepath.Match` (rules in
//! `.helmignore`) and gobwas/glob with `/` as separator (`.Files.Glob`,
//! where `**` crosses directories and `{a,b}` picks alternatives).

/// Why a pattern is refused (Go's `filepath.ErrBadPattern`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern")]
pub struct BadPattern;

/// Go's `filepath.Match` on `/`-separated names: `*` and `?` never match
/// `/`, `[...]` classes (`^` negates), `\` escapes.
pub fn path_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Go reports a bad pattern even when the name already failed to match.
    validate(&p)?;
    Ok(match_from(&p, &n, false))
}

fn validate(p: &[char]) -> Result<(), BadPattern> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(BadPattern);
                }
                i += 2;
            }
            '[' => {
                let (_, next) = parse_class(p, i)?;
                i = next;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// A bracket class starting at `p[start] == '['`: (negated, ranges) and
/// the index after `]`.
type Class = (bool, Vec<(char, char)>);

fn parse_class(p: &[char], start: usize) -> Result<(Class, usize), BadPattern> {
    let mut i = start + 1;
    let negated = matches!(p.get(i), Some('^') | Some('!'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let Some(&c) = p.get(i) else {
            return Err(BadPattern);
        };
        if c == ']' && !first {
            return Ok(((negated, ranges), i + 1));
        }
        first = false;
        let (lo, after) = class_char(p, i)?;
        i = after;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|&c| c != ']') {
            let (h, after) = class_char(p, i + 1)?;
            hi = h;
            i = after;
            if hi < lo {
                return Err(BadPattern);
            }
        }
        ranges.push((lo, hi));
    }
}

fn class_char(p: &[char], i: usize) -> Result<(char, usize), BadPattern> {
    match p.get(i) {
        Some('\\') => p.get(i + 1).map(|&c| (c, i + 2)).ok_or(BadPattern),
        Some(&c) if c != '-' || i > 0 => Ok((c, i + 1)),
        _ => Err(BadPattern),
    }
}

fn class_matches((negated, ranges): &Class, c: char) -> bool {
    ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
}

/// Backtracking matcher shared by both languages: `deep` makes `**`
/// cross `/`.
fn match_from(p: &[char], n: &[char], deep: bool) -> bool {
    let (mut pi, mut ni) = (0usize, 0usize);
    // Where the last star was, to retry with one more character eaten.
    let mut star: Option<(usize, usize, bool)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    let double = deep && p.get(pi + 1) == Some(&'*');
                    pi += if double { 2 } else { 1 };
                    star = Some((pi, ni, double));
                    continue;
                }
                '?' if ni < n.len() && n[ni] != '/' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' if ni < n.len() => {
                    if let Ok((class, next)) = parse_class(p, pi)
                        && n[ni] != '/'
                        && class_matches(&class, n[ni])
                    {
                        pi = next;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if ni < n.len() && p.get(pi + 1) == Some(&n[ni]) => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                c if c != '?' && c != '[' && c != '\\' && ni < n.len() && n[ni] == c => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        } else if ni == n.len() {
            return true;
        }
        // Mismatch: let the last star swallow one more character.
        match star {
            Some((sp, sn, double)) if sn < n.len() && (double || n[sn] != '/') => {
                star = Some((sp, sn + 1, double));
                pi = sp;
                ni = sn + 1;
            }
            _ => return false,
        }
    }
}

/// gobwas/glob with separator `/`, as Helm's `.Files.Glob` compiles it.
/// A pattern that does not compile matches everything (Helm falls back
/// to `**`).
pub fn files_glob(pattern: &str, name: &str) -> bool {
    let chars: Vec<char> = pattern.chars().collect();
    let Some(alternatives) = expand_braces(&chars) else {
        return true;
    };
    if alternatives.iter().any(|a| validate(a).is_err()) {
        return true;
    }
    let n: Vec<char> = name.chars().collect();
    alternatives.iter().any(|a| match_from(a, &n, true))
}

/// `{a,b}c` as the patterns `ac` and `bc` (nesting allowed); None when the
/// braces do not balance.
fn expand_braces(p: &[char]) -> Option<Vec<Vec<char>>> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => i += 2,
            '{' => {
                let mut depth = 0;
                let mut parts = Vec::new();
                let mut part_start = i + 1;
                let mut j = i;
                let close = loop {
                    let c = *p.get(j)?;
                    match c {
                        '\\' => j += 1,
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                parts.push(&p[part_start..j]);
                                break j;
                            }
                        }
                        ',' if depth == 1 => {
                            parts.push(&p[part_start..j]);
                            part_start = j + 1;
                        }
                        _ => {}
                    }
                    j += 1;
                };
                let mut out = Vec::new();
                for part in parts {
                    let mut joined = p[..i].to_vec();
                    joined.extend_from_slice(part);
                    joined.extend_from_slice(&p[close + 1..]);
                    out.extend(expand_braces(&joined)?);
                }
                return Some(out);
            }
            '}' => return None,
            _ => i += 1,
        }
    }
    Some(vec![p.to_vec()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_star_stays_inside_one_path_segment() {
        assert_eq!(path_match("*.txt", "a.txt"), Ok(true));
        assert_eq!(path_match("*.txt", "d/a.txt"), Ok(false));
        assert_eq!(path_match("d/*.txt", "d/a.txt"), Ok(true));
    }

    #[test]
    fn classes_ranges_and_escapes_match_as_go_does() {
        assert_eq!(path_match("[a-c]x", "bx"), Ok(true));
        assert_eq!(path_match("[^a-c]x", "bx"), Ok(false));
        assert_eq!(path_match("\\*", "*"), Ok(true));
        assert_eq!(path_match("a?c", "abc"), Ok(true));
    }

    #[test]
    fn an_unclosed_class_is_a_bad_pattern() {
        assert_eq!(path_match("[abc", "a"), Err(BadPattern));
        assert_eq!(path_match("ab\\", "ab"), Err(BadPattern));
    }

    #[test]
    fn files_glob_double_star_crosses_directories() {
        assert!(files_glob("**.yaml", "a/b/c.yaml"));
        assert!(!files_glob("*.yaml", "a/c.yaml"));
        assert!(files_glob("files/*", "files/x"));
        assert!(!files_glob("files/*", "files/a/x"));
    }

    #[test]
    fn files_glob_braces_pick_alternatives() {
        assert!(files_glob("conf/{a,b}.toml", "conf/b.toml"));
        assert!(!files_glob("conf/{a,b}.toml", "conf/c.toml"));
    }
}
