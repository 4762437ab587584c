//! Properties over arbitrary input.

use proptest::prelude::*;

fn lookup(name: &str) -> Option<String> {
    match name {
        "a" => Some("value/with.dots".into()),
        "b" => Some(String::new()),
        "é" => Some("ünï".into()),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn input_without_a_dollar_is_returned_unchanged(input in "[^$\\x00]*") {
        let out = driftless_envsubst::substitute(&input, lookup, true);
        prop_assert_eq!(out.as_deref(), Ok(input.as_str()));
    }

    #[test]
    fn arbitrary_input_never_panics(input in any::<String>(), strict in any::<bool>()) {
        let _ = driftless_envsubst::substitute(&input, lookup, strict);
    }

    #[test]
    fn expression_soup_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("${"), Just("}"), Just("$"), Just("$$"), Just(":"), Just("="),
                Just("-"), Just("#"), Just("%"), Just("/"), Just("\\"), Just("^"),
                Just(","), Just("a"), Just("b"), Just("é"), Just("*"), Just("?"),
                Just("["), Just("]"), Just("1"), Just("-2"), Just("😀"),
            ],
            0..40,
        ),
        strict in any::<bool>(),
    ) {
        let input = parts.concat();
        let _ = driftless_envsubst::substitute(&input, lookup, strict);
    }

    #[test]
    fn an_escaped_expression_prints_itself(name in "[a-z_][a-z0-9_]{0,8}") {
        let input = format!("$${{{name}}}");
        let out = driftless_envsubst::substitute(&input, lookup, true);
        prop_assert_eq!(out, Ok(format!("${{{name}}}")));
    }
}
