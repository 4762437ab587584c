//! The `transformers:` field with builtin transformer configs
//! (`apiVersion: builtin`): the same transformers the kustomization fields
//! drive, but configured by hand, usually with their own fieldSpecs. They
//! run after the kustomization's own transformers, in the order listed, as
//! in kustomize. Plugins (any other apiVersion) stay disabled, as in Flux.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::error::Error;
use crate::fsys::Loader;
use crate::kustomization::{Image, Patch, Replica};
use crate::resource::{Resource, split_path, visit};
use crate::transform;
use crate::yaml::{self, Node, Scalar};

/// One fieldSpec of a transformer config.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub path: String,
    #[serde(default)]
    pub create: bool,
}

impl Spec {
    pub fn applies_to(&self, r: &Resource) -> bool {
        let (group, version) = r.group_version();
        let eq = |want: &Option<String>, have: &str| {
            want.as_deref().is_none_or(|w| w.is_empty() || w == have)
        };
        eq(&self.group, group) && eq(&self.version, version) && eq(&self.kind, r.kind())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    kind: String,
    #[serde(default)]
    metadata: Json,
    #[serde(default)]
    field_specs: Vec<Spec>,
    prefix: Option<String>,
    suffix: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    image_tag: Option<Image>,
    replica: Option<Replica>,
    patch: Option<String>,
    path: Option<String>,
    target: Option<crate::kustomization::Selector>,
    options: Option<BTreeMap<String, bool>>,
    #[serde(default)]
    unset_only: bool,
    set_role_binding_subjects: Option<String>,
    #[serde(default)]
    replacements: Vec<crate::replacements::Replacement>,
}

fn config_err(kfile: &Path, message: String) -> Error {
    Error::Field {
        path: kfile.to_path_buf(),
        field: "transformers".into(),
        message,
    }
}

/// Runs every transformer config listed under `transformers:`.
pub fn run(
    loader: &Loader,
    kfile: &Path,
    dir: &Path,
    entries: &[String],
    res: &mut Vec<Resource>,
    schema: &crate::smp::Schema,
) -> Result<(), Error> {
    for entry in entries {
        // kustomize accepts a config written inline as well as a file name.
        let (source, text) = if entry.contains('\n') {
            (kfile.to_path_buf(), entry.clone())
        } else {
            let file = loader.resolve_file(kfile, dir, "transformers", entry)?;
            let text = loader.read(&file)?;
            (file, text)
        };
        let docs = yaml::parse_documents(&text).map_err(|source_err| Error::Yaml {
            path: source.clone(),
            source: source_err,
        })?;
        for doc in docs.into_iter().flatten().filter(|d| !d.is_null()) {
            if doc.str_at(&["apiVersion"]) != Some("builtin") {
                return Err(Error::Unsupported {
                    path: source.clone(),
                    field: "transformers".into(),
                    reason: "only builtin transformer configs are allowed: kustomize plugins are disabled, as in Flux",
                });
            }
            let config: Config = serde_json::from_value(yaml::to_json(&doc))
                .map_err(|e| config_err(&source, e.to_string()))?;
            apply(loader, kfile, dir, &source, &config, res, schema)?;
            let done = crate::origin::Origin::Configured {
                file: source.clone(),
                kind: config.kind.clone(),
                name: config.metadata["name"].as_str().map(str::to_string),
            };
            for r in res.iter_mut() {
                r.transformations.push(done.clone());
            }
        }
    }
    Ok(())
}

fn apply(
    loader: &Loader,
    kfile: &Path,
    dir: &Path,
    source: &Path,
    c: &Config,
    res: &mut Vec<Resource>,
    schema: &crate::smp::Schema,
) -> Result<(), Error> {
    match c.kind.as_str() {
        "LabelTransformer" => set_maps(c, &c.labels, res),
        "AnnotationsTransformer" => set_maps(c, &c.annotations, res),
        "PrefixSuffixTransformer" => prefix_suffix(c, res),
        "NamespaceTransformer" => namespace(source, c, res)?,
        "ImageTagTransformer" => {
            let image = c
                .image_tag
                .as_ref()
                .ok_or_else(|| config_err(source, "ImageTagTransformer needs imageTag".into()))?;
            for r in res.iter_mut() {
                for spec in selected(&c.field_specs, r) {
                    transform::retag_at(
                        &mut r.node,
                        &split_path(&spec.path),
                        std::slice::from_ref(image),
                    );
                }
            }
        }
        "ReplicaCountTransformer" => replicas(source, c, res)?,
        "ReplacementTransformer" => {
            crate::replacements::run(loader, kfile, dir, &c.replacements, res)?;
        }
        "PatchTransformer" => {
            let patch = Patch {
                path: c.path.clone(),
                patch: c.patch.clone(),
                target: c.target.clone(),
                options: c.options.clone(),
            };
            crate::patch::patches(
                loader,
                kfile,
                dir,
                std::slice::from_ref(&patch),
                res,
                schema,
            )?;
        }
        other => {
            return Err(config_err(
                source,
                format!("{other:?} is not a builtin transformer driftless supports"),
            ));
        }
    }
    Ok(())
}

/// The fieldSpecs that apply to `r` (copied, so `r` can then be edited).
fn selected(specs: &[Spec], r: &Resource) -> Vec<Spec> {
    specs.iter().filter(|s| s.applies_to(r)).cloned().collect()
}

fn set_maps(c: &Config, map: &BTreeMap<String, String>, res: &mut [Resource]) {
    let pairs: Vec<(String, String)> = map.clone().into_iter().collect();
    for r in res.iter_mut() {
        for spec in selected(&c.field_specs, r) {
            transform::set_pairs(r, &spec.path, spec.create, &pairs);
        }
    }
}

/// Calls `f` on every string field a fieldSpec of `c` selects in `r`.
fn edit_strings(r: &mut Resource, specs: &[Spec], f: &dyn Fn(&str) -> String) {
    for spec in selected(specs, r) {
        let parts = split_path(&spec.path);
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        visit(&mut r.node, &parts, false, &mut |node| {
            if let Some(s) = node.as_str() {
                *node = Node::string(f(s));
            }
        });
    }
}

fn prefix_suffix(c: &Config, res: &mut [Resource]) {
    let prefix = c.prefix.clone().unwrap_or_default();
    let suffix = c.suffix.clone().unwrap_or_default();
    for r in res.iter_mut().filter(|r| !transform::keeps_its_name(r)) {
        edit_strings(r, &c.field_specs, &|s| format!("{prefix}{s}{suffix}"));
    }
}

fn namespace(source: &Path, c: &Config, res: &mut [Resource]) -> Result<(), Error> {
    let ns = c
        .metadata
        .get("namespace")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    if ns.is_empty() {
        return Err(config_err(
            source,
            "NamespaceTransformer needs metadata.namespace".into(),
        ));
    }
    for r in res.iter_mut().filter(|r| !transform::is_cluster_scoped(r)) {
        for spec in selected(&c.field_specs, r) {
            let parts = split_path(&spec.path);
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            if let Some((last, parent)) = parts.split_last() {
                visit(&mut r.node, parent, spec.create, &mut |node| {
                    if let Some(m) = node.as_map_mut() {
                        let unset = m.get(last).and_then(Node::as_str).is_none_or(str::is_empty);
                        if (unset || !c.unset_only) && (spec.create || m.get(last).is_some()) {
                            m.insert(last, Node::string(&ns));
                        }
                    }
                });
            }
        }
    }
    match c.set_role_binding_subjects.as_deref() {
        None | Some("") | Some("defaultOnly") => {
            transform::binding_subjects(&ns, res, false, c.unset_only)
        }
        Some("allServiceAccounts") => transform::binding_subjects(&ns, res, true, c.unset_only),
        Some("none") => {}
        Some(other) => {
            return Err(config_err(
                source,
                format!("unknown setRoleBindingSubjects {other:?}"),
            ));
        }
    }
    Ok(())
}

fn replicas(source: &Path, c: &Config, res: &mut [Resource]) -> Result<(), Error> {
    let rep = c
        .replica
        .as_ref()
        .ok_or_else(|| config_err(source, "ReplicaCountTransformer needs replica".into()))?;
    let mut hit = false;
    for r in res.iter_mut() {
        if r.name() != rep.name && r.orig_name != rep.name {
            continue;
        }
        for spec in selected(&c.field_specs, r) {
            hit = true;
            let parts = split_path(&spec.path);
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            if let Some((last, parent)) = parts.split_last() {
                visit(&mut r.node, parent, spec.create, &mut |node| {
                    if let Some(m) = node.as_map_mut() {
                        m.insert(last, Node::Scalar(Scalar::plain(rep.count.to_string())));
                    }
                });
            }
        }
    }
    if hit {
        Ok(())
    } else {
        Err(config_err(
            source,
            format!(
                "ReplicaCountTransformer: {:?} names no object its fieldSpecs select",
                rep.name
            ),
        ))
    }
}
