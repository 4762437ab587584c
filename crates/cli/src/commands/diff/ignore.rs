//! The Kustomization's drift ignore rules (`spec.ignore`): the JSON pointers a rule names are
//! left out of both sides of a selected object before they are compared, so a field another
//! actor owns is not reported as drift. A rule without a target selects every object; a target
//! matches by group, version and kind exactly, name and namespace as anchored regular
//! expressions (kustomize's selector rules), and label and annotation selectors of the
//! equality form (`k=v`, `k!=v`, `k`, `!k`, comma-separated).

use driftless_api::apply::{IgnoreRule, Selector};
use serde_json::Value;

/// `live` and `merged` with every path an applicable rule names removed.
pub fn apply(rules: &[IgnoreRule], live: &mut Value, merged: &mut Value) {
    for rule in rules {
        if !rule.target.as_ref().is_none_or(|t| selects(t, merged)) {
            continue;
        }
        for path in &rule.paths {
            remove(live, path);
            remove(merged, path);
        }
    }
}

fn selects(target: &Selector, object: &Value) -> bool {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let exact = |want: &Option<String>, have: &str| {
        want.as_deref().is_none_or(|w| w.is_empty() || w == have)
    };
    let pattern = |want: &Option<String>, have: &str| {
        want.as_deref().is_none_or(|w| {
            w.is_empty() || regex::Regex::new(&format!("^(?:{w})$")).is_ok_and(|r| r.is_match(have))
        })
    };
    let metadata = &object["metadata"];
    exact(&target.group, group)
        && exact(&target.version, version)
        && exact(&target.kind, object["kind"].as_str().unwrap_or_default())
        && pattern(&target.name, metadata["name"].as_str().unwrap_or_default())
        && pattern(
            &target.namespace,
            metadata["namespace"].as_str().unwrap_or_default(),
        )
        && equality_selector(target.label_selector.as_deref(), &metadata["labels"])
        && equality_selector(
            target.annotation_selector.as_deref(),
            &metadata["annotations"],
        )
}

/// Whether the map `have` satisfies an equality-based selector; a set-based one (`in`,
/// `notin`) is not understood and selects nothing.
fn equality_selector(selector: Option<&str>, have: &Value) -> bool {
    let Some(selector) = selector.filter(|s| !s.trim().is_empty()) else {
        return true;
    };
    let value = |key: &str| have.get(key).and_then(Value::as_str);
    selector.split(',').map(str::trim).all(|term| {
        if term.contains(" in ") || term.contains(" notin ") || term.contains('(') {
            false
        } else if let Some((k, v)) = term.split_once("!=") {
            value(k.trim()) != Some(v.trim())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            value(k.trim()) == Some(v.trim())
        } else if let Some(k) = term.strip_prefix('!') {
            value(k.trim()).is_none()
        } else {
            value(term).is_some()
        }
    })
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
        apply(
            &[rule(&["/spec/ports"], Some(services.clone()))],
            &mut live,
            &mut merged,
        );
        assert_eq!(merged["spec"], json!({"type": "X"}));
        assert_eq!(live, merged);

        let other = Selector {
            name: Some("db-.*".into()),
            ..services
        };
        let (mut live, mut merged) = (service.clone(), service.clone());
        apply(
            &[rule(&["/spec/ports"], Some(other))],
            &mut live,
            &mut merged,
        );
        assert_eq!(merged, service);

        let (mut live, mut merged) = (service.clone(), service.clone());
        apply(
            &[rule(&["/metadata/labels/team", "/spec/ports/0"], None)],
            &mut live,
            &mut merged,
        );
        assert_eq!(merged["metadata"]["labels"], json!({}));
        assert_eq!(merged["spec"]["ports"], json!([]));
    }
}
