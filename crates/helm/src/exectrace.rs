//! Helm 4's wording of template execution errors: the chain of Go template
//! errors (`template: LOC: executing "NAME" at <CTX>: MSG`, one per
//! `include` level, each wrapped in the next by `error calling F: `) printed
//! as a trace, one location, call and message per level:
//!
//! ```text
//! chart/templates/a.yaml:4:11
//!   executing "chart/templates/a.yaml" at <include "x" .>:
//!     error calling include:
//! chart/templates/_helpers.tpl:2:44
//!   executing "x" at <20>:
//!     invalid value; expected string
//! ```
//!
//! Helm walks Go's wrapped-error chain and gives up (keeping the one-line
//! Helm 3 text) as soon as a link is not a template error, such as the
//! error a function like `tpl` or `index` returned. The chain is not kept
//! by our template engine, but each link's text is the tail of the one
//! before it (after `error calling F: `), which is all Helm reads.

/// One level of the trace (Helm's `TraceableError`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Level {
    location: String,
    message: String,
    executed: String,
}

impl Level {
    fn write(&self, out: &mut String) {
        if !self.location.is_empty() {
            out.push_str(&self.location);
            out.push_str("\n  ");
        }
        if !self.executed.is_empty() {
            out.push_str(&self.executed);
            out.push_str("\n    ");
        }
        if !self.message.is_empty() {
            out.push_str(&self.message);
            out.push('\n');
        }
    }
}

const PREFIX: &str = "template: ";

/// The Helm 4 text of a raw Go template execution error, or None when
/// Helm 4 keeps the raw text.
pub fn reformat(raw: &str) -> Option<String> {
    let mut levels: Vec<Level> = Vec::new();
    let mut current = Some(raw);
    while let Some(text) = current {
        let (level, wrapped) = parse(text)?;
        if levels.last() != Some(&level) {
            levels.push(level);
        }
        current = wrapped;
    }
    let mut out = String::new();
    for l in &levels {
        l.write(&mut out);
    }
    Some(out.trim().to_string())
}

/// One link: its level and the text of the error it wraps, if any.
fn parse(text: &str) -> Option<(Level, Option<&str>)> {
    let rest = text.strip_prefix(PREFIX)?;
    if rest.starts_with("no template ") {
        let level = Level {
            location: String::new(),
            message: text.to_string(),
            executed: String::new(),
        };
        return Some((level, None));
    }
    if let Some(parsed) = parse_executing(rest) {
        return Some(parsed);
    }
    // `template: NAME: MSG`, split at the last ": " as Helm does.
    let sep = rest.rfind(": ")?;
    let level = Level {
        location: rest[..sep].to_string(),
        message: cut_chained(&rest[sep + 2..]).to_string(),
        executed: String::new(),
    };
    Some((level, None))
}

/// `LOC: executing "NAME" at <CTX>: MSG`. Go wraps the error a function
/// returned (`error calling F: %w`) and nothing else.
fn parse_executing(rest: &str) -> Option<(Level, Option<&str>)> {
    let (location, after) = rest.split_once(": executing ")?;
    let after = after.strip_prefix('"')?;
    let end = after.find('"')?;
    let name = &after[..end];
    let at = after[end + 1..].strip_prefix(" at <")?;
    let (context, message) = at.split_once(">: ")?;
    let wrapped = message
        .strip_prefix("error calling ")
        .and_then(|m| m.split_once(": "))
        .map(|(_, inner)| inner);
    let level = Level {
        location: location.to_string(),
        message: cut_chained(message).to_string(),
        executed: format!("executing \"{name}\" at <{context}>:"),
    };
    Some((level, wrapped))
}

/// The message up to a chained ` template:` error.
fn cut_chained(message: &str) -> &str {
    message
        .find(" template:")
        .map_or(message, |i| &message[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_include_chain_becomes_one_level_per_template() {
        let raw = "template: p/templates/all.yaml:4:11: executing \"p/templates/all.yaml\" at <include \"p.fullname\" .>: error calling include: template: p/templates/_helpers.tpl:2:44: executing \"p.fullname\" at <20>: invalid value; expected string";
        assert_eq!(
            reformat(raw).as_deref(),
            Some(
                "p/templates/all.yaml:4:11\n  executing \"p/templates/all.yaml\" at <include \"p.fullname\" .>:\n    error calling include:\np/templates/_helpers.tpl:2:44\n  executing \"p.fullname\" at <20>:\n    invalid value; expected string"
            )
        );
    }

    #[test]
    fn a_single_level_error_is_a_three_line_trace() {
        let raw = "template: c/templates/a.yaml:1:3: executing \"c/templates/a.yaml\" at <.Values.x.y>: nil pointer evaluating interface {}.y";
        assert_eq!(
            reformat(raw).as_deref(),
            Some(
                "c/templates/a.yaml:1:3\n  executing \"c/templates/a.yaml\" at <.Values.x.y>:\n    nil pointer evaluating interface {}.y"
            )
        );
    }

    #[test]
    fn a_function_error_that_is_not_a_template_error_keeps_the_raw_text() {
        let raw = "template: c/templates/a.yaml:1:3: executing \"c/templates/a.yaml\" at <index .Values.l 5>: error calling index: index out of range: 5";
        assert_eq!(reformat(raw), None);
    }

    #[test]
    fn a_missing_template_ends_the_trace_with_go_s_whole_message() {
        let raw = "template: c/templates/a.yaml:1:3: executing \"c/templates/a.yaml\" at <include \"nope\" .>: error calling include: template: no template \"nope\" associated with template \"gotpl\"";
        assert_eq!(
            reformat(raw).as_deref(),
            Some(
                "c/templates/a.yaml:1:3\n  executing \"c/templates/a.yaml\" at <include \"nope\" .>:\n    error calling include:\ntemplate: no template \"nope\" associated with template \"gotpl\""
            )
        );
    }

    #[test]
    fn text_that_is_not_a_template_error_is_left_alone() {
        assert_eq!(reformat("execution error at (a.yaml:1:2): boom"), None);
    }
}
