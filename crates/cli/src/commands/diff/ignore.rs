//! The Kustomization's drift ignore rules (`spec.ignore`): the JSON pointers a rule names are
//! left out of both sides of a selected object before they are compared, so a field another
//! actor owns is not reported as drift. A rule without a target selects every object; a target
//! matches group, version, kind, name and namespace as anchored regular expressions, and labels
//! and annotations with Kubernetes label selectors (`k=v`, `k!=v`, `k in (a,b)`, `k notin (a)`,
//! `k`, `!k`, `k>1`…), as flux's drift ignore rules do. A rule that does not compile fails the
//! diff of every object that exists, in flux's words.

use driftless_api::apply::{IgnoreRule, Selector};
use driftless_kustomize::label_selector::LabelSelector;
use regex::Regex;
use serde_json::Value;

/// The rules, compiled once.
pub struct Rules {
    rules: Vec<(Option<Target>, Vec<String>)>,
}

/// A compiled target; `None` fields select everything.
struct Target {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Option<LabelSelector>,
    annotations: Option<LabelSelector>,
}

impl Rules {
    /// Compiles `rules`; the error is the message flux fails an object's diff with.
    pub fn compile(rules: &[IgnoreRule]) -> Result<Self, String> {
        let rules = rules
            .iter()
            .map(|rule| {
                let target = rule.target.as_ref().map(Target::compile).transpose();
                target.map(|t| (t, rule.paths.clone()))
            })
            .collect::<Result<_, String>>()
            .map_err(|e| format!("failed to create ignore rule selector: {e}"))?;
        Ok(Self { rules })
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// `live` and `merged` with every path of a rule that selects `merged` removed.
    pub fn apply(&self, live: &mut Value, merged: &mut Value) {
        let mut paths = Vec::new();
        for (target, rule_paths) in &self.rules {
            if target.as_ref().is_none_or(|t| t.selects(merged)) {
                paths.extend(rule_paths);
            }
        }
        for path in paths {
            remove(live, path);
            remove(merged, path);
        }
    }
}

impl Target {
    fn compile(selector: &Selector) -> Result<Self, String> {
        let pattern = |what: &str, text: &Option<String>| {
            text.as_deref()
                .filter(|t| !t.is_empty())
                .map(|t| {
                    Regex::new(&format!("^(?:{t})$"))
                        .map_err(|e| format!("invalid {what} regex: {e}"))
                })
                .transpose()
        };
        let selector_of = |what: &str, text: &Option<String>| {
            text.as_deref()
                .filter(|t| !t.is_empty())
                .map(|t| {
                    LabelSelector::parse(t).map_err(|e| format!("invalid {what} selector: {e}"))
                })
                .transpose()
        };
        Ok(Self {
            group: pattern("group", &selector.group)?,
            version: pattern("version", &selector.version)?,
            kind: pattern("kind", &selector.kind)?,
            name: pattern("name", &selector.name)?,
            namespace: pattern("namespace", &selector.namespace)?,
            labels: selector_of("label", &selector.label_selector)?,
            annotations: selector_of("annotation", &selector.annotation_selector)?,
        })
    }

    fn selects(&self, object: &Value) -> bool {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let metadata = &object["metadata"];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let is =
            |want: &Option<Regex>, have: String| want.as_ref().is_none_or(|r| r.is_match(&have));
        let map = |want: &Option<LabelSelector>, have: &Value| {
            want.as_ref()
                .is_none_or(|s| s.matches(|key| have.get(key).and_then(Value::as_str)))
        };
        is(&self.group, group.to_owned())
            && is(&self.version, version.to_owned())
            && is(&self.kind, text(&object["kind"]))
            && is(&self.name, text(&metadata["name"]))
            && is(&self.namespace, text(&metadata["namespace"]))
            && map(&self.labels, &metadata["labels"])
            && map(&self.annotations, &metadata["annotations"])
    }
}

/// Removes the value at the RFC 6901 pointer `path`, if there is one.
fn remove(object: &mut Value, path: &str) {
    let Some((parent, last)) = path.rsplit_once('/') else {
        return;
    };
    let unescape = |s: &str| s.replace("~1", "/").replace("~0", "~");
    let Some(container) = object.pointer_mut(parent) else {
        return;
    };
    match container {
        Value::Object(map) => {
            map.remove(&unescape(last));
        }
        Value::Array(items) => {
            if let Ok(index) = last.parse::<usize>()
                && index < items.len()
            {
                items.remove(index);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compiled(rules: &[IgnoreRule]) -> Rules {
        Rules::compile(rules).expect("compiles")
    }

    fn rule(paths: &[&str], target: Option<Selector>) -> IgnoreRule {
        IgnoreRule {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            target,
        }
    }

    #[test]
    fn a_rule_removes_its_paths_only_from_the_objects_it_selects() {
        let service = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "labels": {"team": "a"}}, "spec": {"ports": [1], "type": "X"}});
        let services = Selector {
            kind: Some("Service".into()),
            label_selector: Some("team=a".into()),
            ..Selector::default()
        };
        let (mut live, mut merged) = (service.clone(), service.clone());
        compiled(&[rule(&["/spec/ports"], Some(services.clone()))]).apply(&mut live, &mut merged);
        assert_eq!(merged["spec"], json!({"type": "X"}));
        assert_eq!(live, merged);

        let other = Selector {
            name: Some("db-.*".into()),
            ..services
        };
        let (mut live, mut merged) = (service.clone(), service.clone());
        compiled(&[rule(&["/spec/ports"], Some(other))]).apply(&mut live, &mut merged);
        assert_eq!(merged, service);

        let (mut live, mut merged) = (service.clone(), service.clone());
        compiled(&[rule(&["/metadata/labels/team", "/spec/ports/0"], None)])
            .apply(&mut live, &mut merged);
        assert_eq!(merged["metadata"]["labels"], json!({}));
        assert_eq!(merged["spec"]["ports"], json!([]));
    }

    #[test]
    fn targets_select_with_set_based_label_and_annotation_selectors_and_kind_patterns() {
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"tier": "front", "team": "a"},
                "annotations": {"owner": "ops"}},
            "spec": {"replicas": 3}});
        let ignores = |target: Selector| {
            let (mut live, mut merged) = (deployment.clone(), deployment.clone());
            compiled(&[rule(&["/spec/replicas"], Some(target))]).apply(&mut live, &mut merged);
            merged["spec"].get("replicas").is_none()
        };
        let labels = |s: &str| Selector {
            label_selector: Some(s.into()),
            ..Selector::default()
        };
        assert!(ignores(labels("tier in (front, back)")));
        assert!(!ignores(labels("tier notin (front)")));
        assert!(ignores(labels("env notin (prod)")));
        assert!(ignores(labels("team,!legacy")));
        assert!(!ignores(labels("legacy")));
        assert!(ignores(Selector {
            annotation_selector: Some("owner in (ops,dev)".into()),
            ..Selector::default()
        }));
        assert!(ignores(Selector {
            group: Some("apps|batch".into()),
            kind: Some("Deploy.*".into()),
            version: Some("v1".into()),
            ..Selector::default()
        }));
        assert!(!ignores(Selector {
            kind: Some("Deploy".into()),
            ..Selector::default()
        }));
    }

    #[test]
    fn a_rule_that_does_not_compile_is_an_error_in_fluxs_words() {
        let bad = |target: Selector| {
            Rules::compile(&[rule(&["/spec"], Some(target))])
                .err()
                .expect("does not compile")
        };
        assert_eq!(
            bad(Selector {
                label_selector: Some("tier in front".into()),
                ..Selector::default()
            }),
            "failed to create ignore rule selector: invalid label selector: unable to parse requirement: found 'front' expected: '('"
        );
        assert!(
            bad(Selector {
                name: Some("web-(".into()),
                ..Selector::default()
            })
            .starts_with("failed to create ignore rule selector: invalid name regex: ")
        );
    }
}
