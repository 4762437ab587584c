//! Just enough of go.mod to generate a wrapper module: the `go` and `godebug`
//! directives and the `replace` directives, in single-line and block form.

/// The parts of an upstream go.mod a wrapper module must carry over.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GoMod {
    pub go: Option<String>,
    pub godebug: Vec<String>,
    /// Module paths of the `require` directives.
    pub requires: Vec<String>,
    /// `(left side, right side)` of each replace, as written (`path [version]`).
    pub replaces: Vec<(String, String)>,
}

impl GoMod {
    pub fn parse(text: &str) -> Self {
        let mut out = Self::default();
        let mut block: Option<&str> = None;
        for raw in text.lines() {
            let line = raw.split("//").next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            if let Some(kind) = block {
                if line == ")" {
                    block = None;
                } else {
                    out.directive(kind, line);
                }
                continue;
            }
            let (kind, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim();
            if rest == "(" {
                block = Some(match kind {
                    "replace" => "replace",
                    "require" => "require",
                    "godebug" => "godebug",
                    _ => "other",
                });
            } else {
                out.directive(kind, rest);
            }
        }
        out
    }

    fn directive(&mut self, kind: &str, rest: &str) {
        match kind {
            "go" => self.go = Some(rest.to_string()),
            "godebug" => self.godebug.push(rest.to_string()),
            "require" => {
                if let Some(path) = rest.split_whitespace().next() {
                    self.requires.push(path.to_string());
                }
            }
            "replace" => {
                if let Some((left, right)) = rest.split_once("=>") {
                    self.replaces
                        .push((left.trim().to_string(), right.trim().to_string()));
                }
            }
            _ => {}
        }
    }
}

fn is_local_path(target: &str) -> bool {
    target.starts_with("./") || target.starts_with("../") || target.starts_with('/')
}

/// A go.mod that requires `module@version` and mirrors its replacements, with
/// every local-directory replacement pinned to `local_replace` instead.
pub fn wrapper_go_mod(
    name: &str,
    module: &str,
    version: &str,
    upstream: &GoMod,
    local_replace: Option<&str>,
    pins: &std::collections::BTreeMap<String, String>,
) -> String {
    let mut out = format!("module {name}\n\n");
    if let Some(go) = &upstream.go {
        out.push_str(&format!("go {go}\n\n"));
    }
    for debug in &upstream.godebug {
        out.push_str(&format!("godebug {debug}\n"));
    }
    out.push_str(&format!("\nrequire {module} {version}\n\n"));
    for (module, pinned) in pins {
        out.push_str(&format!("replace {module} => {module} {pinned}\n"));
    }
    for (left, right) in &upstream.replaces {
        if pins.contains_key(left.split_whitespace().next().unwrap_or_default()) {
            continue;
        }
        let target = right.split_whitespace().next().unwrap_or_default();
        let left_path = left.split_whitespace().next().unwrap_or_default();
        if is_local_path(target) && !upstream.requires.iter().any(|r| r == left_path) {
            // A local replacement of a module the upstream build does not
            // require cannot matter (etcd uses such lines to forbid modules).
            continue;
        }
        if is_local_path(target) {
            // The module itself lives in the upstream repository at this version
            // (Kubernetes publishes staging/ as k8s.io/<name> v0.<minor>.<patch>).
            let pinned = local_replace.unwrap_or(version);
            out.push_str(&format!("replace {left_path} => {left_path} {pinned}\n"));
        } else {
            out.push_str(&format!("replace {left} => {right}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_modules_are_replaced_with_the_pinned_version_and_win_over_upstream() {
        let m = GoMod::parse("module x\nreplace example.com/a => example.com/a v1.0.0\n");
        let pins = [("example.com/a".to_string(), "v0.9.0".to_string())].into();
        let out = wrapper_go_mod("w", "x", "v1.0.0", &m, None, &pins);
        assert!(
            out.contains("replace example.com/a => example.com/a v0.9.0\n"),
            "{out}"
        );
        assert!(!out.contains("v1.0.0\nreplace example.com/a => example.com/a v1.0.0"));
        assert_eq!(out.matches("replace example.com/a").count(), 1, "{out}");
    }

    const KUBE_LIKE: &str = r#"
// generated
module k8s.io/kubernetes

go 1.26.0

godebug default=go1.26

require (
	k8s.io/api v0.0.0
	k8s.io/client-go v0.0.0
	github.com/x/y v1.0.0 // indirect
)

require example.com/single v0.0.0

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go // comment
	github.com/old/lib v1.2.0 => github.com/new/lib v1.3.0
)

replace example.com/single => ../single

replace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY
"#;

    #[test]
    fn parse_reads_go_godebug_and_both_replace_forms() {
        let m = GoMod::parse(KUBE_LIKE);
        assert_eq!(m.go.as_deref(), Some("1.26.0"));
        assert_eq!(m.godebug, ["default=go1.26"]);
        assert_eq!(m.replaces.len(), 5);
        assert_eq!(
            m.requires,
            [
                "k8s.io/api",
                "k8s.io/client-go",
                "github.com/x/y",
                "example.com/single"
            ]
        );
        assert_eq!(
            m.replaces[2],
            (
                "github.com/old/lib v1.2.0".to_string(),
                "github.com/new/lib v1.3.0".to_string()
            )
        );
    }

    #[test]
    fn local_replacements_become_pinned_versions_and_others_are_kept() {
        let m = GoMod::parse(KUBE_LIKE);
        let out = wrapper_go_mod(
            "w",
            "k8s.io/kubernetes",
            "v1.37.2",
            &m,
            Some("v0.37.2"),
            &Default::default(),
        );
        assert!(out.contains("require k8s.io/kubernetes v1.37.2"));
        assert!(out.contains("replace k8s.io/api => k8s.io/api v0.37.2\n"));
        assert!(out.contains("replace k8s.io/client-go => k8s.io/client-go v0.37.2\n"));
        assert!(out.contains("replace example.com/single => example.com/single v0.37.2\n"));
        assert!(out.contains("replace github.com/old/lib v1.2.0 => github.com/new/lib v1.3.0\n"));
        assert!(out.contains("godebug default=go1.26"));
        assert!(!out.contains("./staging"));
        assert!(
            !out.contains("FORBIDDEN"),
            "unrequired local replacements are dropped"
        );
    }

    #[test]
    fn without_an_explicit_version_local_replacements_follow_the_module_version() {
        let m = GoMod::parse(
            "module go.etcd.io/etcd/v3\nrequire go.etcd.io/etcd/api/v3 v3.6.0\nreplace go.etcd.io/etcd/api/v3 => ./api\n",
        );
        let out = wrapper_go_mod(
            "w",
            "go.etcd.io/etcd/v3",
            "v3.6.8",
            &m,
            None,
            &Default::default(),
        );
        assert!(out.contains("replace go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 v3.6.8\n"));
    }
}
