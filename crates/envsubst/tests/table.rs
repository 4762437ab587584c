//! Table-driven behaviour of `substitute`, case by case as Flux's envsubst
//! behaves (cases from fluxcd/pkg envsubst's tests plus edge cases traced
//! through its parser).

use std::collections::BTreeMap;

use driftless_envsubst::{EnvsubstError, substitute, substitute_vars};

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn run(input: &str, pairs: &[(&str, &str)], strict: bool) -> Result<String, EnvsubstError> {
    let vars = vars(pairs);
    substitute(input, |name| vars.get(name).cloned(), strict)
}

/// Variables as (name, value) pairs.
type Vars<'a> = &'a [(&'a str, &'a str)];

fn check(cases: &[(&str, Vars, &str)], strict: bool) {
    let mut failures = Vec::new();
    for (input, pairs, want) in cases {
        match run(input, pairs, strict) {
            Ok(got) if got == *want => {}
            other => failures.push(format!("{input:?}: want {want:?}, got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check_errors(cases: &[(&str, Vars, EnvsubstError)], strict: bool) {
    let mut failures = Vec::new();
    for (input, pairs, want) in cases {
        match run(input, pairs, strict) {
            Err(got) if got == *want => {}
            other => failures.push(format!("{input:?}: want {want:?}, got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const S: &[(&str, &str)] = &[("stringZ", "abcABC123ABCabc")];
const F: &[(&str, &str)] = &[("filename", "bash.string.txt")];
const P: &[(&str, &str)] = &[("path_name", "/home/bozo/ideas/thoughts.for.today")];
const V: &[(&str, &str)] = &[("var01", "abcdEFGH28ij")];
const NONE: &[(&str, &str)] = &[];

#[test]
fn every_operator_gives_fluxs_result() {
    check(
        &[
            ("abcdEFGH28ij", NONE, "abcdEFGH28ij"),
            ("${var01}", V, "abcdEFGH28ij"),
            ("${#var01}", V, "12"),
            ("${var01^}", V, "AbcdEFGH28ij"),
            ("${var01^^}", V, "ABCDEFGH28IJ"),
            ("${var01,}", &[("var01", "ABCDEFGH28IJ")], "aBCDEFGH28IJ"),
            ("${var01,,}", &[("var01", "ABCDEFGH28IJ")], "abcdefgh28ij"),
            ("${path_name:11}", P, "ideas/thoughts.for.today"),
            ("${path_name:11:5}", P, "ideas"),
            ("${path_name:-5}", P, "/home/bozo/ideas/thoughts.for.today"),
            (
                "${path_name:-5:2}",
                P,
                "/home/bozo/ideas/thoughts.for.today",
            ),
            ("${stringZ/%abc/XYZ}", S, "abcABC123ABCXYZ"),
            ("${stringZ/#abc/XYZ}", S, "XYZABC123ABCabc"),
            ("${stringZ//abc/xyz}", S, "xyzABC123ABCxyz"),
            ("${stringZ/abc/xyz}", S, "xyzABC123ABCabc"),
            ("${stringZ/abc/}", S, "ABC123ABCabc"),
            ("${stringZ//abc/}", S, "ABC123ABC"),
            // The prefix/suffix forms need a replacement to do anything.
            ("${stringZ/#abc/}", S, "abcABC123ABCabc"),
            ("${stringZ/%abc/}", S, "abcABC123ABCabc"),
            ("${stringZ/./}", &[("stringZ", "foo.bar")], "foobar"),
            (r"${stringZ/\//-}", &[("stringZ", "foo/bar")], "foo-bar"),
            (
                r"${stringZ//\//-}",
                &[("stringZ", "foo/bar/baz")],
                "foo-bar-baz",
            ),
            (r"${stringZ//\\/-}", &[("stringZ", r"a\b")], "a-b"),
            // A run of slashes is one separator.
            ("${stringZ/a//b}", &[("stringZ", "aa")], "ba"),
            ("${filename#*.}", F, "string.txt"),
            ("${filename##*.}", F, "txt"),
            ("${filename%.*}", F, "bash.string"),
            ("${filename%%.*}", F, "bash"),
            ("${filename#*/}", &[("filename", "path/to/file")], "to/file"),
            (
                "${filename#*/}",
                &[("filename", "/path/to/file")],
                "path/to/file",
            ),
            ("${filename##*/}", &[("filename", "path/to/file")], "file"),
            ("${filename##*/}", &[("filename", "/path/to/file")], "file"),
            ("${filename#nomatch}", F, "bash.string.txt"),
            ("${filename#[}", F, "bash.string.txt"),
            ("${filename#b?sh.}", F, "string.txt"),
            ("${filename%t}", F, "bash.string.tx"),
            ("${filename%?}", F, "bash.string.tx"),
            // The suffix forms reverse the pattern character by character,
            // so a class reverses into something else and matches nothing.
            ("${filename%[tx]}", F, "bash.string.txt"),
            ("${filename%[a-z]}", F, "bash.string.txt"),
        ],
        false,
    );
}

#[test]
fn defaults_apply_when_the_variable_is_unset_or_empty() {
    check(
        &[
            ("${var=xyz}", &[("var", "abc")], "abc"),
            ("${var=xyz}", NONE, "xyz"),
            ("${var:=xyz}", NONE, "xyz"),
            ("${var:-xyz}", NONE, "xyz"),
            ("${var:=xyz}", &[("var", "")], "xyz"),
            ("${var=xyz}", &[("var", "")], "xyz"),
            // Not bash: `:+` and `:?` behave as `:-`.
            ("${var:+xyz}", NONE, "xyz"),
            ("${var:+xyz}", &[("var", "abc")], "abc"),
            ("${var:?xyz}", NONE, "xyz"),
            ("${var:=}", NONE, ""),
            ("${var==x}", NONE, "=x"),
            ("${var:=a:b=c}", NONE, "a:b=c"),
            ("${var:=$x}", NONE, "$x"),
            ("${var:=$${x}}", &[("x", "1")], "$1"),
            (
                "something ${var=${default_var}}",
                &[("default_var", "foo")],
                "something foo",
            ),
            (
                "foo: ${var=${default_var}-suffix}",
                &[("default_var", "foo1")],
                "foo: foo1-suffix",
            ),
            (
                "foo: ${var=prefix${default_var}-suffix}",
                &[("default_var", "foo1")],
                "foo: prefixfoo1-suffix",
            ),
            ("${var=${var01^^}}", V, "ABCDEFGH28IJ"),
            ("${a:=${b:=${c:=deep}}}", NONE, "deep"),
            // The first `}` closes the default.
            ("${var:=a}b}", NONE, "ab}"),
        ],
        false,
    );
}

#[test]
fn escapes_and_bare_dollars_stay_literal() {
    check(
        &[
            ("$${var01}", V, "${var01}"),
            (
                "some text ${var01}$${var$${var01}$var01${var01}",
                V,
                "some text abcdEFGH28ij${var${var01}$var01abcdEFGH28ij",
            ),
            (
                "something $${var=${default_var}}",
                &[("default_var", "foo")],
                "something ${var=foo}",
            ),
            (
                "\\\\something ${var=${d}}",
                &[("d", "foo")],
                "\\\\something foo",
            ),
            ("$var01", V, "$var01"),
            ("$", NONE, "$"),
            ("$$", NONE, "$"),
            ("a$$b", NONE, "a$b"),
            ("$$$${x}", &[("x", "1")], "$${x}"),
            ("$$${x}", &[("x", "1")], "$1"),
            ("cost: 5$ {x}", NONE, "cost: 5$ {x}"),
            ("}", NONE, "}"),
            ("a\0b${x}", NONE, "a"),
        ],
        false,
    );
}

#[test]
fn unset_variables_are_empty_without_strict_mode() {
    check(
        &[
            ("${missing}", NONE, ""),
            ("[${missing^^}]", NONE, "[]"),
            ("${#missing}", NONE, "0"),
            ("${missing:0:3}", NONE, ""),
        ],
        false,
    );
}

#[test]
fn strict_mode_refuses_unset_variables_except_under_defaults() {
    let not_set = |n: &str| EnvsubstError::VariableNotSet { name: n.into() };
    check_errors(
        &[
            ("${missing}", NONE, not_set("missing")),
            ("${#missing}", NONE, not_set("missing")),
            ("${missing^}", NONE, not_set("missing")),
            ("${missing^^}", NONE, not_set("missing")),
            ("${missing,}", NONE, not_set("missing")),
            ("${missing,,}", NONE, not_set("missing")),
            ("${missing:0}", NONE, not_set("missing")),
            ("${missing:0:10}", NONE, not_set("missing")),
            ("${missing/p/r}", NONE, not_set("missing")),
            ("${missing//p/r}", NONE, not_set("missing")),
            ("${missing/#p/r}", NONE, not_set("missing")),
            ("${missing/%p/r}", NONE, not_set("missing")),
            ("${missing#p}", NONE, not_set("missing")),
            ("${missing##p}", NONE, not_set("missing")),
            ("${missing%p}", NONE, not_set("missing")),
            ("${missing%%p}", NONE, not_set("missing")),
            // Arguments are evaluated even when the variable is set.
            ("${set:=${missing}}", &[("set", "x")], not_set("missing")),
        ],
        true,
    );
    check(
        &[
            ("${foo}", &[("foo", "bar")], "bar"),
            ("${foo}", &[("foo", "")], ""),
            ("${missing:=default}", NONE, "default"),
            ("${missing:-fallback}", NONE, "fallback"),
            ("${missing=assigned}", NONE, "assigned"),
            ("${missing:+x}", NONE, "x"),
            ("$missing", NONE, "$missing"),
        ],
        true,
    );
}

#[test]
fn the_strict_error_names_the_variable_as_flux_prints_it() {
    let err = run("a: ${cluster_region}", NONE, true).expect_err("strict");
    assert_eq!(
        err.to_string(),
        "variable not set (strict mode): \"cluster_region\""
    );
}

#[test]
fn malformed_expressions_give_fluxs_errors() {
    use EnvsubstError::*;
    check_errors(
        &[
            ("${", NONE, VariableName),
            ("${}", NONE, VariableName),
            ("${ x}", NONE, VariableName),
            ("${-x}", NONE, VariableName),
            ("${x", NONE, MissingClosingBrace),
            ("${x y}", NONE, MissingClosingBrace),
            ("${x-d}", NONE, MissingClosingBrace),
            ("${x+d}", NONE, MissingClosingBrace),
            ("${x.y}", NONE, MissingClosingBrace),
            ("${x:-abc", NONE, FuncSubstitution),
            ("${x:=", NONE, FuncSubstitution),
            ("${x:}", NONE, FuncSubstitution),
            ("${x::2}", NONE, FuncSubstitution),
            ("${x:", NONE, BadSubstitution),
            ("${x:é}", NONE, BadSubstitution),
            ("${x:1${y}}", NONE, BadSubstitution),
            ("${x:1:2", NONE, BadSubstitution),
            ("${x:1:}", NONE, FuncSubstitution),
            ("${x#}", NONE, FuncSubstitution),
            ("${x%}", NONE, FuncSubstitution),
            ("${x#a${y}}", NONE, BadSubstitution),
            ("${#}", NONE, BadSubstitution),
            ("${##x}", NONE, BadSubstitution),
            ("${#x", NONE, BadSubstitution),
            ("${x^^^}", NONE, BadSubstitution),
            ("${x/a}", NONE, BadSubstitution),
            ("${x//a}", NONE, BadSubstitution),
            ("${x/a/b", NONE, BadSubstitution),
            ("${x/a} ${y}", NONE, BadSubstitution),
            // No empty pattern in the envsubst Flux v1.9 runs (v1.7.1).
            ("${x/#/prefix-}", NONE, FuncSubstitution),
            ("${x/%/-suffix}", NONE, FuncSubstitution),
            ("${x///p}", NONE, FuncSubstitution),
        ],
        false,
    );
}

#[test]
fn odd_but_accepted_forms_evaluate_as_flux_does() {
    check(
        &[
            // Mixed casing operators fall back to the plain value.
            ("${x,^}", &[("x", "aB")], "aB"),
            // A default may start with `:`.
            ("${x:=:}", NONE, ":"),
            // Names may start with a digit inside `${}`.
            ("${1a}", &[("1a", "v")], "v"),
            // A length that is no integer returns the value.
            ("${x:1:2:3}", &[("x", "hello")], "hello"),
            // `###a` is `##` with the pattern `#a`.
            ("${x###a}", &[("x", "#abc")], "bc"),
        ],
        false,
    );
}

#[test]
fn multi_line_yaml_is_substituted_in_place() {
    let yaml = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n  labels:\n    environment: ${cluster_env:=dev}\n    region: \"${cluster_region}\"\n    raw: $HOME\n";
    let got = run(yaml, &[("cluster_region", "eu-central-1")], true).expect("substitutes");
    assert_eq!(
        got,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n  labels:\n    environment: dev\n    region: \"eu-central-1\"\n    raw: $HOME\n"
    );
}

#[test]
fn a_multi_byte_cut_is_reported_not_emitted() {
    assert_eq!(
        run("${x:1}", &[("x", "é")], false),
        Err(EnvsubstError::InvalidUtf8)
    );
    assert_eq!(run("${x:2}", &[("x", "éa")], false).as_deref(), Ok("a"));
}

#[test]
fn variable_names_are_checked_before_substituting() {
    let bad = vars(&[("ok_1", "x"), ("bad-name", "y")]);
    let err = substitute_vars("${ok_1}", &bad, false).expect_err("invalid name");
    assert_eq!(
        err.to_string(),
        "'bad-name' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'"
    );
    let good = vars(&[("_a1", "x")]);
    assert_eq!(substitute_vars("${_a1}", &good, true).as_deref(), Ok("x"));
}

#[test]
fn names_follow_fluxs_ascii_rule() {
    use driftless_envsubst::validate_name;
    for ok in ["a", "_", "A_1", "_9", "cluster_env"] {
        assert!(validate_name(ok).is_ok(), "{ok}");
    }
    for bad in ["", "1a", "a-b", "a.b", "é", "a b", "a$"] {
        assert!(validate_name(bad).is_err(), "{bad}");
    }
}

#[test]
fn substitution_is_disabled_by_a_label_or_an_annotation() {
    use driftless_envsubst::substitution_disabled;
    let on = vars(&[("kustomize.toolkit.fluxcd.io/substitute", "disabled")]);
    let other = vars(&[("kustomize.toolkit.fluxcd.io/substitute", "Disabled")]);
    assert!(substitution_disabled(Some(&on), None));
    assert!(substitution_disabled(None, Some(&on)));
    assert!(substitution_disabled(Some(&other), Some(&on)));
    assert!(!substitution_disabled(Some(&other), Some(&other)));
    assert!(!substitution_disabled(None, None));
}
