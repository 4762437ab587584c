//! Flux's post-build variable substitution (`spec.postBuild`), as
//! kustomize-controller v1.9.6 runs it with `fluxcd/pkg/envsubst` v1.7.1 (a
//! fork of drone/envsubst): the same syntax, results and error messages.
//!
//! # How Flux uses it
//!
//! kustomize-controller builds the kustomization, then takes each object in
//! turn: unless the object carries `kustomize.toolkit.fluxcd.io/substitute:
//! disabled` as a label or an annotation ([`substitution_disabled`]), it
//! serialises the object to YAML, runs [`substitute`] over that *text*, and
//! parses the result back into an object. Substitution therefore sees keys,
//! values and YAML syntax alike, and a value that is not valid YAML in its
//! position (an unquoted `: `, a number where a string is needed) makes the
//! re-parse fail, not this crate. Variable names are checked first
//! ([`validate_name`], [`substitute_vars`]); Flux strips newlines from values
//! before they reach here. Flux prefixes the errors of this crate with
//! `variable substitution failed: `.
//!
//! # Syntax
//!
//! | Form | Result |
//! |---|---|
//! | `${v}` | the value (unset: empty, or an error in strict mode) |
//! | `${v:=d}` `${v=d}` `${v:-d}` | `d` when `v` is unset **or empty** |
//! | `${v:+d}` `${v:?d}` | the same as `${v:-d}` (not bash's meaning) |
//! | `${#v}` | length in bytes |
//! | `${v^}` `${v^^}` `${v,}` `${v,,}` | upper/lower case first / all characters |
//! | `${v:o}` `${v:o:l}` | bytes from offset `o` (negative: from the end), `l` long (negative: stop `-l` before the end) |
//! | `${v#p}` `${v##p}` `${v%p}` `${v%%p}` | strip shortest/longest prefix/suffix matching the glob `p` (`*` also matches `/`) |
//! | `${v/p/r}` `${v//p/r}` `${v/#p/r}` `${v/%p/r}` | replace first/all/prefix/suffix occurrence of the text `p` (not empty) |
//!
//! Defaults may hold text and nested expressions (`${a:=x-${b}}`) but not a
//! `}`: the first `}` closes the expression. `$$` is a literal `$` outside
//! expressions (`$${v}` prints `${v}`); inside replace patterns `\/` and `\\`
//! escape a slash and a backslash. `$v` without braces is left alone, as is a
//! `$` that does not start `${`. `${v-d}` and `${v+d}` are *not* supported:
//! they fail with "missing closing brace". A NUL character ends the input
//! (everything after it is dropped), as in Flux.
//!
//! # Strict mode
//!
//! Flux's feature gate `StrictPostBuildSubstitutions`: a variable that is not
//! defined is an error naming it (`variable not set (strict mode): "v"`),
//! except under an operator that supplies a fallback (`:=`, `=`, `:-`, `:+`,
//! `:?`). A variable defined as the empty string is not an error. Without
//! strict mode an undefined variable reads as the empty string.
//!
//! # Known differences from Go
//!
//! Go strings may hold invalid UTF-8; a Rust `String` may not. Byte offsets
//! that cut a multi-byte character (`${v:1}` on `é`) therefore give
//! [`EnvsubstError::InvalidUtf8`] where Flux would go on to fail the YAML
//! re-parse. Expressions nested deeper than [`MAX_NESTING`] are refused.
//! Letter and digit classes for names in `${...}` follow Unicode alphabetic /
//! numeric properties, an approximation of Go's categories L and Nd (Flux
//! only defines ASCII names, so non-ASCII names are unset either way).

mod eval;
mod funcs;
mod glob;
mod parse;
mod scan;

use std::collections::BTreeMap;

pub use parse::MAX_NESTING;

/// The label or annotation that turns substitution off for one object.
pub const SUBSTITUTE_KEY: &str = "kustomize.toolkit.fluxcd.io/substitute";
/// The value of [`SUBSTITUTE_KEY`] that turns it off (compared exactly).
pub const DISABLED: &str = "disabled";
/// Flux's rule for variable names (POSIX classes, ASCII only).
pub const NAME_PATTERN: &str = "^[_[:alpha:]][_[:alpha:][:digit:]]*$";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvsubstError {
    #[error("bad substitution")]
    BadSubstitution,
    #[error("missing closing brace")]
    MissingClosingBrace,
    #[error("unable to parse variable name")]
    VariableName,
    #[error("unable to parse substitution within function")]
    FuncSubstitution,
    #[error("unable to parse default function")]
    DefaultFunction,
    #[error("variable not set (strict mode): {}", go_quote(name))]
    VariableNotSet { name: String },
    #[error("'{name}' var name is invalid, must match '{NAME_PATTERN}'")]
    InvalidName { name: String },
    #[error("expressions nest deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("substitution cut a multi-byte character (the result is not valid UTF-8)")]
    InvalidUtf8,
}

/// Go's `%q` for the identifier-like names that reach the strict error.
fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// Substitutes every `${...}` expression in `input`. `lookup` gives a
/// variable's value, `None` when it is not defined.
pub fn substitute(
    input: &str,
    lookup: impl Fn(&str) -> Option<String>,
    strict: bool,
) -> Result<String, EnvsubstError> {
    let nodes = parse::parse(input)?;
    let mut out = Vec::with_capacity(input.len());
    eval::evaluate(&nodes, &lookup, strict, &mut out)?;
    String::from_utf8(out).map_err(|_| EnvsubstError::InvalidUtf8)
}

/// Flux's `varSubstitution`: every name must pass [`validate_name`], then
/// `input` is substituted from `vars`.
pub fn substitute_vars(
    input: &str,
    vars: &BTreeMap<String, String>,
    strict: bool,
) -> Result<String, EnvsubstError> {
    for name in vars.keys() {
        validate_name(name)?;
    }
    substitute(input, |name| vars.get(name).cloned(), strict)
}

/// Checks a variable name against [`NAME_PATTERN`].
pub fn validate_name(name: &str) -> Result<(), EnvsubstError> {
    let mut chars = name.chars();
    let head_ok = chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic());
    if head_ok && chars.all(|c| c == '_' || c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(EnvsubstError::InvalidName { name: name.into() })
    }
}

/// Whether an object opts out of substitution: Flux checks its labels *and*
/// its annotations for `kustomize.toolkit.fluxcd.io/substitute: disabled`.
pub fn substitution_disabled(
    annotations: Option<&BTreeMap<String, String>>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    [annotations, labels]
        .into_iter()
        .flatten()
        .any(|map| map.get(SUBSTITUTE_KEY).is_some_and(|v| v == DISABLED))
}
