//! What an action installs: the release manifest (documents under `# Source:` headers, in
//! Helm's install order), the hooks with their weights and delete policies read from their
//! annotations, NOTES.txt, and the chart's `crds/` files.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::error::ReleaseError;
use super::record::Hook;
use crate::manifest::{self, Manifest};

/// `helm.sh/hook-weight`: an integer, 0 when absent or unparsable (as Helm's Atoi).
pub const HOOK_WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";
/// `helm.sh/hook-delete-policy`: comma-separated policies.
pub const HOOK_DELETE_ANNOTATION: &str = "helm.sh/hook-delete-policy";

/// A rendered chart, ready for an action.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    /// The manifest stored in the release and applied.
    pub manifest: String,
    /// Hooks in install order of kinds (execution orders them by weight, then name).
    pub hooks: Vec<Hook>,
    /// The top chart's NOTES.txt, rendered.
    pub notes: String,
    /// `crds/` documents of the chart and its subcharts: (path, content).
    pub crds: Vec<(String, String)>,
}

impl Rendered {
    /// From rendered templates (path → text, as the template engine returns them): partials
    /// and empty files dropped, `<chart>/templates/NOTES.txt` taken as the notes and every
    /// other NOTES.txt dropped, documents split and sorted as Helm sorts them.
    pub fn from_files(
        chart: &str,
        files: &BTreeMap<String, String>,
    ) -> Result<Rendered, ReleaseError> {
        let notes_path = format!("{chart}/templates/NOTES.txt");
        let notes = files.get(&notes_path).cloned().unwrap_or_default();
        let files: BTreeMap<String, String> = files
            .iter()
            .filter(|(k, _)| !k.ends_with("NOTES.txt"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let (hooks, manifests) =
            manifest::sort(&files).map_err(|e| ReleaseError::Manifest(e.to_string()))?;
        Self::from_sorted(hooks, manifests, notes)
    }

    /// From what `helm template` prints (our [`crate::template`]): each `# Source:` document
    /// back under its path, then sorted again, which keeps the printed order. Rendered with
    /// `include_crds`, the `crds/` documents it prints first become [`Rendered::crds`].
    pub fn from_template_output(text: &str) -> Result<Rendered, ReleaseError> {
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        let mut crds = Vec::new();
        for doc in text.split("---\n# Source: ").skip(1) {
            let (path, content) = doc.split_once('\n').unwrap_or((doc, ""));
            if is_crd_path(path) {
                crds.push((path.to_string(), content.trim_end().to_string()));
                continue;
            }
            let entry = files.entry(path.to_string()).or_default();
            entry.push_str("\n---\n");
            entry.push_str(content);
        }
        let (hooks, manifests) =
            manifest::sort(&files).map_err(|e| ReleaseError::Manifest(e.to_string()))?;
        let mut rendered = Self::from_sorted(hooks, manifests, String::new())?;
        rendered.crds = crds;
        Ok(rendered)
    }

    fn from_sorted(
        hooks: Vec<Manifest>,
        manifests: Vec<Manifest>,
        notes: String,
    ) -> Result<Rendered, ReleaseError> {
        let mut text = String::new();
        for m in &manifests {
            manifest::print(&mut text, &m.path, &m.content);
        }
        let hooks = hooks.iter().map(hook).collect::<Result<_, _>>()?;
        Ok(Rendered {
            manifest: text,
            hooks,
            notes,
            crds: Vec::new(),
        })
    }
}

/// The hook record of a hook document, as Helm's manifest sorter builds it.
fn hook(m: &Manifest) -> Result<Hook, ReleaseError> {
    let doc = crate::values::parse_yaml(&m.content)
        .map_err(|e| ReleaseError::Manifest(format!("{}: {e}", m.path)))?;
    let meta = doc.get("metadata");
    let name = meta
        .and_then(|md| md.get("name"))
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let annotation = |key: &str| {
        meta.and_then(|md| md.get("annotations"))
            .and_then(|a| a.get(key))
            .and_then(Json::as_str)
            .map(str::to_string)
    };
    let weight = annotation(HOOK_WEIGHT_ANNOTATION)
        .and_then(|w| w.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let delete_policies = annotation(HOOK_DELETE_ANNOTATION)
        .map(|p| {
            p.split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok(Hook {
        name,
        kind: m.kind.clone(),
        path: m.path.clone(),
        manifest: m.content.clone(),
        events: m.events.clone(),
        weight,
        delete_policies,
        ..Hook::default()
    })
}

/// Whether a printed path is a `crds/` file of the chart or a subchart
/// (`chart/crds/x.yaml`, `chart/charts/sub/crds/x.yaml`), not a template.
pub fn is_crd_path(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let mut i = 1;
    while parts.get(i) == Some(&"charts") {
        i += 2;
    }
    parts.get(i) == Some(&"crds") && parts.len() > i + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "c/templates/a.yaml".to_string(),
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n".to_string(),
            ),
            (
                "c/templates/hook.yaml".to_string(),
                "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-weight: \"-5\"\n    helm.sh/hook-delete-policy: hook-succeeded, Hook-Failed\n".to_string(),
            ),
            ("c/templates/NOTES.txt".to_string(), "Thanks".to_string()),
            ("c/charts/s/templates/NOTES.txt".to_string(), "sub".to_string()),
        ])
    }

    #[test]
    fn the_manifest_is_in_install_order_under_source_headers() {
        let r = Rendered::from_files("c", &files()).expect("renders");
        assert_eq!(
            r.manifest,
            "---\n# Source: c/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n---\n# Source: c/templates/a.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n"
        );
        assert_eq!(r.notes, "Thanks");
    }

    #[test]
    fn hooks_carry_name_events_weight_and_lower_cased_delete_policies() {
        let r = Rendered::from_files("c", &files()).expect("renders");
        assert_eq!(r.hooks.len(), 1);
        let h = &r.hooks[0];
        assert_eq!(
            (h.name.as_str(), h.kind.as_str(), h.weight),
            ("migrate", "Job", -5)
        );
        assert_eq!(h.events, vec!["pre-install", "pre-upgrade"]);
        assert_eq!(h.delete_policies, vec!["hook-succeeded", "hook-failed"]);
        assert_eq!(h.path, "c/templates/hook.yaml");
    }

    #[test]
    fn crd_files_printed_first_are_set_apart_from_the_manifest() {
        let printed = "---\n# Source: c/crds/a.yaml\nkind: CustomResourceDefinition\nmetadata:\n  name: a\n---\n# Source: c/charts/s/crds/b.yaml\nkind: CustomResourceDefinition\nmetadata:\n  name: b\n---\n# Source: c/templates/crds/cm.yaml\nkind: ConfigMap\nmetadata:\n  name: cm\n";
        let r = Rendered::from_template_output(printed).expect("parses");
        let paths: Vec<&str> = r.crds.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, vec!["c/crds/a.yaml", "c/charts/s/crds/b.yaml"]);
        assert!(r.manifest.contains("# Source: c/templates/crds/cm.yaml"));
        assert!(!r.manifest.contains("CustomResourceDefinition"));
    }

    #[test]
    fn template_output_parses_back_to_the_same_manifest_and_hooks() {
        let r = Rendered::from_files("c", &files()).expect("renders");
        let mut printed = r.manifest.clone();
        for h in &r.hooks {
            manifest::print(&mut printed, &h.path, &h.manifest);
        }
        let back = Rendered::from_template_output(&printed).expect("parses");
        assert_eq!(back.manifest, r.manifest);
        assert_eq!(back.hooks, r.hooks);
    }
}
