//! Behaviour the helm oracle cannot show (Go's own defaults, which helm
//! overrides) and the resource limits.

use driftless_gotemplate::{Error, MissingKey, Templates, Value};

fn render(t: &mut Templates, text: &str, data: &str) -> Result<String, Error> {
    t.parse("t", text)?;
    let data = Value::from_yaml(data).expect("data parses");
    t.execute("t", &data)
}

#[test]
fn a_missing_key_prints_no_value_by_default() {
    let mut t = Templates::new("t");
    assert_eq!(
        render(&mut t, "[{{ .a }}] [{{ .b.c }}]", "b: {}").expect("renders"),
        "[<no value>] [<no value>]"
    );
}

#[test]
fn a_missing_key_is_nil_under_missingkey_zero_so_a_deeper_field_is_an_error() {
    let mut t = Templates::helm();
    let err = render(&mut t, "{{ .a.b }}", "x: 1").expect_err("fails");
    assert_eq!(
        err.to_string(),
        "template: t:1:5: executing \"t\" at <.a.b>: nil pointer evaluating interface {}.b"
    );
}

#[test]
fn missingkey_error_names_the_key() {
    let mut t = Templates::new("t");
    t.options.missing_key = MissingKey::Error;
    let err = render(&mut t, "{{ .a }}", "x: 1").expect_err("fails");
    assert_eq!(
        err.to_string(),
        "template: t:1:3: executing \"t\" at <.a>: map has no entry for key \"a\""
    );
}

#[test]
fn parse_errors_carry_go_name_and_line() {
    let mut t = Templates::new("t");
    let err = t.parse("t", "a\n{{ if }}").expect_err("fails");
    assert_eq!(err.to_string(), "template: t:2: missing value for if");
}

#[test]
fn output_beyond_the_cap_is_an_error_not_an_allocation() {
    let mut t = Templates::helm();
    t.options.max_output = 1000;
    let err = render(&mut t, "{{ range 2000 }}x{{ end }}", "{}").expect_err("capped");
    assert!(
        err.to_string()
            .contains("output exceeds the limit of 1000 bytes"),
        "{err}"
    );
}

#[test]
fn output_of_includes_counts_against_the_cap() {
    let mut t = Templates::helm();
    t.options.max_output = 1000;
    let text = "{{ define \"x\" }}{{ range 600 }}y{{ end }}{{ end }}{{ include \"x\" . }}{{ include \"x\" . }}";
    let err = render(&mut t, text, "{}").expect_err("capped");
    assert!(err.to_string().contains("output exceeds"), "{err}");
}

#[test]
fn include_recursion_stops_at_helms_limit() {
    let mut t = Templates::helm();
    let err = render(
        &mut t,
        "{{ define \"r\" }}{{ include \"r\" . }}{{ end }}{{ include \"r\" . }}",
        "{}",
    )
    .expect_err("recursion stops");
    assert!(
        err.to_string().ends_with(
            "rendering template has a nested reference name: r: unable to execute template"
        ),
        "{err}"
    );
}

#[test]
fn template_recursion_stops_at_the_depth_limit_without_overflowing_the_stack() {
    let mut t = Templates::new("t");
    t.options.max_depth = 20_000;
    let err = render(
        &mut t,
        "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}",
        "{}",
    )
    .expect_err("recursion stops");
    assert!(
        err.to_string()
            .contains("exceeded maximum template depth (20000)"),
        "{err}"
    );
}

#[test]
fn deeply_nested_parentheses_parse_without_overflowing_the_stack() {
    let depth = 5000;
    let text = format!("{{{{ {}1{} }}}}", "(".repeat(depth), ")".repeat(depth));
    let mut t = Templates::new("t");
    assert_eq!(render(&mut t, &text, "{}").expect("renders"), "1");
}

#[test]
fn a_range_over_a_huge_integer_is_refused() {
    let mut t = Templates::new("t");
    t.options.max_range = 1000;
    let err = render(&mut t, "{{ range 1000000 }}{{ end }}", "{}").expect_err("refused");
    assert!(
        err.to_string().contains("exceeds the iteration limit"),
        "{err}"
    );
}

#[test]
fn a_template_that_loops_without_writing_stops_at_the_step_limit() {
    let mut t = Templates::new("t");
    t.options.max_steps = 10_000;
    let err = render(
        &mut t,
        "{{ range 1000 }}{{ range 1000 }}{{ end }}{{ end }}",
        "{}",
    )
    .expect_err("refused");
    assert!(
        err.to_string()
            .contains("execution exceeds the limit of 10000 steps"),
        "{err}"
    );
    t.options.max_steps = 2_000_000;
    assert!(
        render(
            &mut t,
            "{{ range 1000 }}{{ range 1000 }}{{ end }}{{ end }}",
            "{}"
        )
        .is_ok()
    );
}

#[test]
fn set_changes_the_map_every_holder_sees() {
    let mut t = Templates::helm();
    let out = render(
        &mut t,
        "{{ $d := .m }}{{ $_ := set $d \"b\" 2 }}{{ .m }}",
        "m: {a: 1}",
    )
    .expect("renders");
    assert_eq!(out, "map[a:1 b:2]");
}

#[test]
fn values_numbers_are_float64_and_print_in_gos_shortest_form() {
    let mut t = Templates::helm();
    let out = render(
        &mut t,
        "{{ .a }} {{ .b }} {{ .c }} {{ printf \"%T\" .a }}",
        "a: 1000000\nb: 123456789\nc: 0.5",
    )
    .expect("renders");
    assert_eq!(out, "1e+06 1.23456789e+08 0.5 float64");
}

#[test]
fn template_recursion_at_gos_default_limit_stays_within_the_stack() {
    let mut t = Templates::helm();
    let err = render(
        &mut t,
        "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}",
        "{}",
    )
    .expect_err("recursion stops");
    assert!(
        err.to_string()
            .contains("exceeded maximum template depth (100000)"),
        "{err}"
    );
}

#[test]
fn include_recursion_through_nested_names_stays_within_the_stack() {
    // Two names alternating: each stays under Helm's per-name limit for a
    // while, so the total depth reaches twice that.
    let mut t = Templates::helm();
    let text = "{{ define \"a\" }}{{ include \"b\" . }}{{ end }}{{ define \"b\" }}{{ include \"a\" . }}{{ end }}{{ include \"a\" . }}";
    let err = render(&mut t, text, "{}").expect_err("recursion stops");
    assert!(err.to_string().contains("nested reference name"), "{err}");
}

#[test]
fn deeply_nested_values_yaml_is_refused_with_an_error() {
    let depth = 100_000;
    let text = format!("a: {}1{}", "[".repeat(depth), "]".repeat(depth));
    let err = Value::from_yaml(&text).expect_err("too deep");
    assert!(err.contains("recursion limit exceeded"), "{err}");
}

#[test]
fn deeply_nested_data_built_by_a_template_prints_and_drops_without_overflowing() {
    let mut t = Templates::helm();
    let text =
        "{{ $l := list }}{{ range until 20000 }}{{ $l = list $l }}{{ end }}{{ len (toJson $l) }}";
    assert_eq!(render(&mut t, text, "{}").expect("renders"), "40002");
}

/// A stand-in for an embedder's Go object (Helm's `.Files`).
#[derive(Debug)]
struct Files;

impl driftless_gotemplate::Object for Files {
    fn type_name(&self) -> &'static str {
        "engine.Files"
    }

    fn field(&self, name: &str) -> Option<Value> {
        (name == "Count").then(|| Value::Int(2))
    }

    fn method_arity(&self, name: &str) -> Option<usize> {
        (name == "Get").then_some(1)
    }

    fn call(&self, _name: &str, args: Vec<Value>) -> Result<Value, String> {
        match args[0].as_str() {
            Some("a.txt") => Ok(Value::str("content of a")),
            _ => Err("no such file".into()),
        }
    }

    fn print(&self) -> String {
        "{files}".into()
    }
}

fn with_files(text: &str) -> Result<String, Error> {
    let mut t = Templates::helm();
    t.parse("t", text)?;
    let mut top = driftless_gotemplate::Map::new();
    top.insert("Files".into(), Value::Object(std::sync::Arc::new(Files)));
    t.execute("t", &Value::map(top))
}

#[test]
fn an_objects_methods_take_arguments_and_the_piped_value() {
    assert_eq!(
        with_files("{{ .Files.Get \"a.txt\" }}|{{ \"a.txt\" | .Files.Get | upper }}|{{ .Files.Count }}|{{ .Files }}")
            .expect("renders"),
        "content of a|CONTENT OF A|2|{files}"
    );
}

#[test]
fn an_objects_method_errors_read_as_go_prints_them() {
    let err = with_files("{{ .Files.Get }}").expect_err("arity");
    assert!(
        err.to_string()
            .ends_with("at <.Files.Get>: wrong number of args for Get: want 1 got 0"),
        "{err}"
    );
    let err = with_files("{{ .Files.Get \"b\" }}").expect_err("fails");
    assert!(
        err.to_string().ends_with("error calling Get: no such file"),
        "{err}"
    );
    let err = with_files("{{ .Files.Count 1 }}").expect_err("field with args");
    assert!(
        err.to_string()
            .ends_with("Count has arguments but cannot be invoked as function"),
        "{err}"
    );
    let err = with_files("{{ .Files.Nope }}").expect_err("no field");
    assert!(
        err.to_string()
            .ends_with("can't evaluate field Nope in type engine.Files"),
        "{err}"
    );
}
