//! Go-style boolean flags (pflag): `--flag` means true, `--flag=false` turns it off, and the
//! value is spelled as Go's `strconv.ParseBool` accepts it. clap's own `SetTrue` rejects
//! `--flag=false`, which Flux manifests and kustomize patches use (`--watch-all-namespaces=false`).

/// Parses a boolean as Go's `strconv.ParseBool` does.
pub fn parse_go_bool(value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!(
            "strconv.ParseBool: parsing {other:?}: invalid syntax"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_go_accepts_is_accepted_and_nothing_else() {
        for yes in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_go_bool(yes), Ok(true), "{yes}");
        }
        for no in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_go_bool(no), Ok(false), "{no}");
        }
        for bad in ["", "yes", "no", "tRUE", "on", "2"] {
            assert!(parse_go_bool(bad).is_err(), "{bad}");
        }
    }
}
