//! `configurations`: transformer configuration files that add field specs
//! to the builtin transformers (labels and annotations on a custom kind's
//! selector, images in its spec, its fields that name a ConfigMap…). A
//! kustomization's configurations hold for its own transformers and, as in
//! kustomize, for those of every kustomization that includes it.

use std::path::Path;

use serde::Deserialize;

use crate::builtin::Spec;
use crate::error::Error;
use crate::fsys::Loader;
use crate::resource::{Resource, split_path, visit};
use crate::yaml::{self, Node, Scalar};

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(default)]
    pub name_reference: Vec<NameReference>,
    #[serde(default)]
    pub common_labels: Vec<Spec>,
    #[serde(default)]
    pub common_annotations: Vec<Spec>,
    #[serde(default)]
    pub namespace: Vec<Spec>,
    #[serde(default)]
    pub images: Vec<Spec>,
    #[serde(default)]
    pub var_reference: Vec<Spec>,
    // Accepted so kubebuilder-style files load; our prefix/suffix and
    // replicas transformers use kustomize's defaults only.
    #[serde(default)]
    pub name_prefix: Vec<Spec>,
    #[serde(default)]
    pub name_suffix: Vec<Spec>,
    #[serde(default)]
    pub replicas: Vec<Spec>,
}

/// Fields (`field_specs`) that name an object of `kind`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameReference {
    pub kind: String,
    #[serde(default)]
    pub field_specs: Vec<Spec>,
}

impl Config {
    pub fn merge(&mut self, other: Config) {
        self.name_reference.extend(other.name_reference);
        self.common_labels.extend(other.common_labels);
        self.common_annotations.extend(other.common_annotations);
        self.namespace.extend(other.namespace);
        self.images.extend(other.images);
        self.var_reference.extend(other.var_reference);
        self.name_prefix.extend(other.name_prefix);
        self.name_suffix.extend(other.name_suffix);
        self.replicas.extend(other.replicas);
    }

    /// Reads the `configurations` files of one kustomization.
    pub fn load(
        loader: &Loader,
        kfile: &Path,
        dir: &Path,
        files: &[String],
    ) -> Result<Config, Error> {
        let mut out = Config::default();
        for file in files {
            let path = loader.resolve_file(kfile, dir, "configurations", file)?;
            let text = loader.read(&path)?;
            let docs = yaml::parse_documents(&text).map_err(|source| Error::Yaml {
                path: path.clone(),
                source,
            })?;
            for doc in docs.into_iter().flatten() {
                let config: Config =
                    serde_json::from_value(yaml::to_json(&doc)).map_err(|e| Error::Field {
                        path: path.clone(),
                        field: "configurations".into(),
                        message: e.to_string(),
                    })?;
                out.merge(config);
            }
        }
        Ok(out)
    }
}

/// Sets string `pairs` in the maps at each applicable spec's path.
pub fn set_pairs(specs: &[Spec], pairs: &[(String, String)], res: &mut [Resource]) {
    for r in res.iter_mut() {
        let applicable: Vec<&Spec> = specs.iter().filter(|s| s.applies_to(r)).collect();
        for spec in applicable {
            crate::transform::set_pairs(r, &spec.path, spec.create, pairs);
        }
    }
}

/// Sets the namespace at each applicable spec's path.
pub fn set_namespace(specs: &[Spec], ns: &str, res: &mut [Resource]) {
    for r in res.iter_mut() {
        let applicable: Vec<&Spec> = specs.iter().filter(|s| s.applies_to(r)).collect();
        for spec in applicable {
            set_scalar(&mut r.node, &spec.path, spec.create, ns);
        }
    }
}

fn set_scalar(node: &mut Node, path: &str, create: bool, value: &str) {
    let parts = split_path(path);
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let Some((last, parent)) = parts.split_last() else {
        return;
    };
    visit(node, parent, create, &mut |node| {
        if let Some(m) = node.as_map_mut()
            && (create || m.get(last).is_some())
        {
            m.insert(last, Node::Scalar(Scalar::string(value)));
        }
    });
}

/// Extra name-reference rules: (referenced kind, referrer spec).
pub fn name_rules(config: &Config) -> Vec<(String, Spec)> {
    config
        .name_reference
        .iter()
        .flat_map(|n| n.field_specs.iter().map(|s| (n.kind.clone(), s.clone())))
        .collect()
}

/// The label sets a kustomization puts on selectors: commonLabels, and each
/// `labels` entry with includeSelectors.
pub fn selector_label_sets(k: &crate::kustomization::Kustomization) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = k
        .labels
        .iter()
        .filter(|l| l.include_selectors)
        .map(|l| l.pairs.clone().into_iter().collect())
        .collect();
    if !k.common_labels.is_empty() {
        out.push(k.common_labels.clone().into_iter().collect());
    }
    out
}

/// Image references at each applicable spec's path.
pub fn images(specs: &[Spec], images: &[crate::kustomization::Image], res: &mut [Resource]) {
    if images.is_empty() {
        return;
    }
    for r in res.iter_mut() {
        let applicable: Vec<&Spec> = specs.iter().filter(|s| s.applies_to(r)).collect();
        for spec in applicable {
            crate::transform::retag_at(&mut r.node, &split_path(&spec.path), images);
        }
    }
}
