//! How `tree` prints: flux's box-drawing text, or `--output json|yaml` in the shape flux
//! marshals its tree (`{"resource": {Namespace, Name, GroupKind: {Group, Kind}},
//! "resources": [...]}`; Go field names, no JSON tags on the object metadata).

use serde_json::{Value, json};

use super::{Entry, Node};
use crate::yaml;

/// The tree in flux's box-drawing layout.
pub fn render(root: &Node) -> String {
    let mut out = format!("{}\n", root.entry.label());
    render_children(&root.children, "", &mut out);
    out
}

fn render_children(children: &[Node], prefix: &str, out: &mut String) {
    for (i, child) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let (branch, indent) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        out.push_str(&format!("{prefix}{branch}{}\n", child.entry.label()));
        render_children(&child.children, &format!("{prefix}{indent}"), out);
    }
}

/// `--output json`: Go's `json.MarshalIndent(tree, "", "  ")`. Written by hand because Go
/// keeps struct field order (Namespace, Name, GroupKind), which a sorted map would not.
pub fn json(root: &Node) -> String {
    let mut out = String::new();
    json_node(root, "", &mut out);
    out
}

fn json_node(node: &Node, indent: &str, out: &mut String) {
    let inner = format!("{indent}  ");
    let meta = format!("{inner}  ");
    let group_kind = format!("{meta}  ");
    let Entry {
        namespace,
        name,
        group,
        kind,
    } = &node.entry;
    out.push_str("{\n");
    out.push_str(&format!("{inner}\"resource\": {{\n"));
    out.push_str(&format!("{meta}\"Namespace\": {},\n", go_string(namespace)));
    out.push_str(&format!("{meta}\"Name\": {},\n", go_string(name)));
    out.push_str(&format!("{meta}\"GroupKind\": {{\n"));
    out.push_str(&format!("{group_kind}\"Group\": {},\n", go_string(group)));
    out.push_str(&format!("{group_kind}\"Kind\": {}\n", go_string(kind)));
    out.push_str(&format!("{meta}}}\n"));
    if node.children.is_empty() {
        // `resources` is omitempty.
        out.push_str(&format!("{inner}}}\n"));
    } else {
        out.push_str(&format!("{inner}}},\n"));
        out.push_str(&format!("{inner}\"resources\": [\n"));
        let item = format!("{inner}  ");
        for (i, child) in node.children.iter().enumerate() {
            out.push_str(&item);
            json_node(child, &item, out);
            if i + 1 < node.children.len() {
                out.push(',');
            }
            out.push('\n');
        }
        out.push_str(&format!("{inner}]\n"));
    }
    out.push_str(&format!("{indent}}}"));
}

/// A JSON string as Go's encoder writes it: `<`, `>` and `&` escaped as well.
fn go_string(s: &str) -> String {
    let quoted = Value::String(s.to_owned()).to_string();
    quoted
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// `--output yaml`: `sigs.k8s.io/yaml` of the same structure (keys sorted, as it converts
/// through JSON).
pub fn yaml(root: &Node) -> Result<String, yaml::YamlError> {
    yaml::go_document(&value(root))
}

fn value(node: &Node) -> Value {
    let Entry {
        namespace,
        name,
        group,
        kind,
    } = &node.entry;
    let mut object = json!({
        "resource": {
            "Namespace": namespace,
            "Name": name,
            "GroupKind": {"Group": group, "Kind": kind},
        }
    });
    if !node.children.is_empty() {
        object["resources"] = node.children.iter().map(value).collect();
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, children: Vec<Node>) -> Node {
        Node {
            entry: Entry::parse(id).expect("an inventory id"),
            children,
        }
    }

    fn sample() -> Node {
        node(
            "flux-system_flux-system_kustomize.toolkit.fluxcd.io_Kustomization",
            vec![
                node("_flux-system__Namespace", vec![]),
                node(
                    "flux-system_infra_kustomize.toolkit.fluxcd.io_Kustomization",
                    vec![node("infra_cache_apps_Deployment", vec![])],
                ),
            ],
        )
    }

    #[test]
    fn the_tree_is_drawn_like_flux_tree() {
        assert_eq!(
            render(&sample()),
            "Kustomization/flux-system/flux-system\n\
             ├── Namespace/flux-system\n\
             └── Kustomization/flux-system/infra\n    \
                 └── Deployment/infra/cache\n"
        );
    }

    #[test]
    fn json_output_keeps_go_field_order_and_omits_empty_resources() {
        let out = json(&node("_flux-system__Namespace", vec![]));
        assert_eq!(
            out,
            "{\n  \"resource\": {\n    \"Namespace\": \"\",\n    \"Name\": \"flux-system\",\n    \
             \"GroupKind\": {\n      \"Group\": \"\",\n      \"Kind\": \"Namespace\"\n    }\n  }\n}"
        );
        let nested = json(&sample());
        let parsed: Value = serde_json::from_str(&nested).expect("valid JSON");
        assert_eq!(
            parsed["resources"][1]["resources"][0]["resource"]["GroupKind"]["Kind"],
            "Deployment"
        );
        assert!(parsed["resources"][0].get("resources").is_none());
        assert!(nested.contains(
            "\n        {\n          \"resource\": {\n            \"Namespace\": \"infra\","
        ));
    }

    #[test]
    fn yaml_output_sorts_keys_as_sigs_k8s_io_yaml_does() {
        let out = yaml(&node("_flux-system__Namespace", vec![])).expect("yaml");
        assert_eq!(
            out,
            "resource:\n  GroupKind:\n    Group: \"\"\n    Kind: Namespace\n  Name: flux-system\n  Namespace: \"\"\n"
        );
    }
}
