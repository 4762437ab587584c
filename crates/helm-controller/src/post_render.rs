//! Post-rendering as Flux runs it inside Helm 4: `spec.postRenderers` (each a kustomize build
//! of the rendered objects with its `patches` and `images`), in order, then the origin labels
//! (`helm.toolkit.fluxcd.io/name` and `/namespace` on every object), over the chart's rendered
//! templates. `spec.postRenderStrategy` decides what the renderers see: `combined` (the
//! default) sends hooks with the manifests, `separate` sends hooks in a stream of their own,
//! `nohooks` lets hooks bypass post-rendering (Helm 3). The chart's `crds/` files are never
//! post-rendered, as in Helm.
//!
//! Like Helm 4, each document carries its template path through the renderers in the
//! `postrenderer.helm.sh/postrender-filename` annotation, so the stored manifest keeps its
//! `# Source:` headers; the annotation is removed again afterwards.
//!
//! [`digest`] is `status.observedPostRenderersDigest`: the canonical digest of the JSON Go's
//! encoder writes for `spec.postRenderers`, so a status written by Flux compares equal.

use std::collections::BTreeMap;
use std::path::Path;

use driftless_api::apply::Selector;
use driftless_api::conditions::types;
use driftless_api::helm::{HelmRelease, HelmReleaseStatus, PostRenderStrategy, PostRenderer};
use driftless_helm::release::rendered::is_crd_path;
use driftless_kustomize::yaml::{self, Node};
use driftless_kustomize::{FluxImage, FluxOverlay, FluxPatch, LoadRestrictions, Options};
use kube::ResourceExt;
use sha2::{Digest, Sha256};

use crate::chart::{NAME_LABEL, NAMESPACE_LABEL};

/// Where a document's template path travels through the renderers (Helm 4's key).
pub const FILENAME_ANNOTATION: &str = "postrenderer.helm.sh/postrender-filename";
/// Marks a hook document.
const HOOK_ANNOTATION: &str = "helm.sh/hook";
/// The path given to a document a renderer returns without its filename annotation.
const UNNAMED: &str = "generated-by-postrender.yaml";
/// Documents are split over resource files of about this size: the kustomize loader bounds
/// every file it reads (5 MiB), and a large chart renders more than that in all.
const RESOURCE_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Why post-rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum PostRenderError {
    /// A rendered document is not YAML.
    #[error("{path}: {source}")]
    Parse {
        /// The template path.
        path: String,
        /// The parser's error.
        #[source]
        source: yaml::YamlError,
    },
    /// A kustomize post-renderer failed (bad patch, unknown target field, …).
    #[error("{message}")]
    Kustomize {
        /// kustomize's message, without the scratch directory's path.
        message: String,
    },
    /// The scratch directory of a kustomize build could not be written.
    #[error("writing the kustomize input: {0}")]
    Io(#[from] std::io::Error),
}

/// The post-renderers of one HelmRelease.
#[derive(Clone, Debug)]
pub struct Pipeline {
    strategy: PostRenderStrategy,
    kustomize: Vec<FluxOverlay>,
    /// `spec.commonMetadata`, set after the kustomize renderers, before the origin labels.
    common: Option<driftless_api::meta::CommonMetadata>,
    labels: BTreeMap<String, String>,
}

/// One rendered document and the template it came from.
#[derive(Clone, Debug)]
struct Doc {
    path: String,
    node: Node,
}

impl Pipeline {
    /// The post-renderers `hr` asks for, plus the origin labels every release gets.
    pub fn of(hr: &HelmRelease) -> Self {
        let kustomize = hr
            .spec
            .post_renderers
            .iter()
            .flatten()
            .filter_map(|r| r.kustomize.as_ref())
            .map(|k| FluxOverlay {
                patches: k
                    .patches
                    .iter()
                    .flatten()
                    .map(|p| FluxPatch {
                        patch: p.patch.clone(),
                        target: p.target.as_ref().map(selector),
                    })
                    .collect(),
                images: k
                    .images
                    .iter()
                    .flatten()
                    .map(|i| FluxImage {
                        name: i.name.clone(),
                        new_name: i.new_name.clone(),
                        new_tag: i.new_tag.clone(),
                        digest: i.digest.clone(),
                    })
                    .collect(),
                ..FluxOverlay::default()
            })
            .collect();
        let labels = BTreeMap::from([
            (NAME_LABEL.to_owned(), hr.name_any()),
            (
                NAMESPACE_LABEL.to_owned(),
                hr.namespace().unwrap_or_default(),
            ),
        ]);
        Pipeline {
            strategy: hr.spec.post_render_strategy.unwrap_or_default(),
            kustomize,
            common: hr.spec.common_metadata.clone(),
            labels,
        }
    }

    /// Post-renders what the template engine printed (`# Source:` documents, `crds/` first)
    /// and returns it in the same form.
    pub fn run(&self, template_output: &str) -> Result<String, PostRenderError> {
        let mut crds = String::new();
        let (mut main, mut hooks, mut bypass) = (Vec::new(), Vec::new(), Vec::new());
        for chunk in template_output.split("---\n# Source: ").skip(1) {
            let (path, content) = chunk.split_once('\n').unwrap_or((chunk, ""));
            if is_crd_path(path) {
                crds.push_str("---\n# Source: ");
                crds.push_str(chunk);
                continue;
            }
            let nodes =
                yaml::parse_documents(content).map_err(|source| PostRenderError::Parse {
                    path: path.to_owned(),
                    source,
                })?;
            for node in nodes.into_iter().flatten() {
                let hook = node
                    .at(&["metadata", "annotations", HOOK_ANNOTATION])
                    .is_some();
                let doc = Doc {
                    path: path.to_owned(),
                    node,
                };
                match (self.strategy, hook) {
                    (PostRenderStrategy::Nohooks, true) => bypass.push(doc),
                    (PostRenderStrategy::Separate, true) => hooks.push(doc),
                    _ => main.push(doc),
                }
            }
        }
        let mut out = crds;
        for doc in self
            .stream(main)?
            .into_iter()
            .chain(self.stream(hooks)?)
            .chain(bypass)
        {
            out.push_str("---\n# Source: ");
            out.push_str(&doc.path);
            out.push('\n');
            out.push_str(&yaml::emit::to_yaml(&doc.node));
        }
        Ok(out)
    }

    /// One stream through the kustomize renderers, then the origin labels.
    fn stream(&self, docs: Vec<Doc>) -> Result<Vec<Doc>, PostRenderError> {
        if docs.is_empty() {
            return Ok(docs);
        }
        let mut docs = docs;
        if !self.kustomize.is_empty() {
            let mut nodes: Vec<Node> = docs.into_iter().map(annotate).collect();
            for overlay in &self.kustomize {
                nodes = kustomize(overlay, &nodes)?;
            }
            docs = nodes.into_iter().map(deannotate).collect();
        }
        for doc in &mut docs {
            if let Some(common) = &self.common {
                crate::metadata::apply(&mut doc.node, common);
            }
            set_labels(&mut doc.node, &self.labels);
        }
        Ok(docs)
    }
}

/// The document with its path in [`FILENAME_ANNOTATION`].
fn annotate(doc: Doc) -> Node {
    let mut node = doc.node;
    if let Some(object) = node.as_map_mut() {
        object
            .map_entry("metadata")
            .map_entry("annotations")
            .insert(FILENAME_ANNOTATION, Node::string(doc.path));
    }
    node
}

/// The document back under its path, the annotation (and an annotation map it leaves
/// empty) removed.
fn deannotate(mut node: Node) -> Doc {
    let mut path = None;
    if let Some(metadata) = node.as_map_mut().and_then(|o| o.get_mut("metadata")) {
        if let Some(annotations) = metadata.as_map_mut().and_then(|m| m.get_mut("annotations"))
            && let Some(map) = annotations.as_map_mut()
        {
            path = map
                .remove(FILENAME_ANNOTATION)
                .and_then(|n| n.as_str().map(str::to_owned));
        }
        let empty = metadata
            .as_map()
            .and_then(|m| m.get("annotations"))
            .and_then(Node::as_map)
            .is_some_and(|a| a.entries.is_empty());
        if empty && let Some(m) = metadata.as_map_mut() {
            m.remove("annotations");
        }
    }
    Doc {
        path: path.unwrap_or_else(|| UNNAMED.to_owned()),
        node,
    }
}

/// `labels` on the object's own `metadata.labels` (created when missing), replacing keys it
/// has: kustomize's label transformer with the field spec `metadata/labels` only.
fn set_labels(node: &mut Node, labels: &BTreeMap<String, String>) {
    let Some(object) = node.as_map_mut() else {
        return;
    };
    let map = object.map_entry("metadata").map_entry("labels");
    for (key, value) in labels {
        map.insert(key, Node::string(value.clone()));
    }
}

/// One kustomize post-renderer: a kustomization whose resources are the documents, with the
/// renderer's patches and images, built as Flux builds it (no load restrictions, nothing
/// outside the scratch directory).
fn kustomize(overlay: &FluxOverlay, nodes: &[Node]) -> Result<Vec<Node>, PostRenderError> {
    let dir = tempfile::tempdir()?;
    let mut files: Vec<String> = Vec::new();
    let mut current = String::new();
    for node in nodes {
        let text = yaml::emit::to_yaml(node);
        if !current.is_empty() && current.len() + text.len() > RESOURCE_FILE_BYTES {
            files.push(std::mem::take(&mut current));
        }
        current.push_str("---\n");
        current.push_str(&text);
    }
    files.push(current);
    let mut resources = Vec::new();
    for (i, text) in files.iter().enumerate() {
        let name = format!("helm-output-{i}.yaml");
        std::fs::write(dir.path().join(&name), text)?;
        resources.push(name);
    }
    let kustomization = serde_json::json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    });
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        kustomization.to_string(),
    )?;
    let options = Options {
        fs_root: Some(dir.path().to_path_buf()),
        load_restrictions: LoadRestrictions::None,
    };
    let built = driftless_kustomize::build_flux(dir.path(), &options, overlay).map_err(|e| {
        PostRenderError::Kustomize {
            message: scrub(&e.to_string(), dir.path()),
        }
    })?;
    let nodes = yaml::parse_documents(&built).map_err(|source| PostRenderError::Parse {
        path: "kustomize output".to_owned(),
        source,
    })?;
    Ok(nodes.into_iter().flatten().collect())
}

/// A kustomize message without the scratch directory's path: it means nothing to a user.
fn scrub(message: &str, dir: &Path) -> String {
    let prefix = format!("{}/", dir.display());
    message
        .replace(&prefix, "")
        .replace(&dir.display().to_string(), ".")
}

fn selector(s: &Selector) -> driftless_kustomize::Selector {
    driftless_kustomize::Selector {
        group: s.group.clone(),
        version: s.version.clone(),
        kind: s.kind.clone(),
        name: s.name.clone(),
        namespace: s.namespace.clone(),
        label_selector: s.label_selector.clone(),
        annotation_selector: s.annotation_selector.clone(),
    }
}

/// Whether `spec.postRenderers` changed since a release was last made with them. As in Flux,
/// only asked while a new generation is unprocessed: the digest is recorded once the
/// generation is Ready.
pub fn changed(hr: &HelmRelease, status: &HelmReleaseStatus) -> bool {
    hr.metadata.generation != status.observed_generation
        && digest(hr.spec.post_renderers.as_deref()) != status.observed_post_renderers_digest
}

/// Records the digest of the post-renderers once the HelmRelease is Ready with them.
pub fn observe(hr: &HelmRelease, status: &mut HelmReleaseStatus) {
    let ready =
        status.conditions.iter().flatten().any(|c| {
            c.type_ == types::READY && c.status == driftless_api::conditions::status::TRUE
        });
    if ready {
        status.observed_post_renderers_digest = digest(hr.spec.post_renderers.as_deref());
    }
}

/// `status.observedPostRenderersDigest` of `spec.postRenderers`: `sha256:<hex>` of the JSON
/// Go's encoder writes for the list (fields in Go's declaration order, empty ones omitted,
/// HTML characters escaped, a newline after), `None` when the field is unset.
pub fn digest(renderers: Option<&[PostRenderer]>) -> Option<String> {
    let json = go_json(renderers?);
    Some(format!("sha256:{}", hex::encode(Sha256::digest(json))))
}

/// The JSON (and newline) Go's `json.Encoder` writes for `spec.postRenderers`.
fn go_json(renderers: &[PostRenderer]) -> String {
    let mut json = String::from("[");
    for (i, r) in renderers.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        let mut fields = Vec::new();
        if let Some(k) = &r.kustomize {
            let mut kf = Vec::new();
            if let Some(patches) = k.patches.as_ref().filter(|p| !p.is_empty()) {
                let items: Vec<String> = patches
                    .iter()
                    .map(|p| {
                        let mut f = vec![format!("\"patch\":{}", go_string(&p.patch))];
                        if let Some(t) = &p.target {
                            f.push(format!("\"target\":{}", go_selector(t)));
                        }
                        format!("{{{}}}", f.join(","))
                    })
                    .collect();
                kf.push(format!("\"patches\":[{}]", items.join(",")));
            }
            if let Some(images) = k.images.as_ref().filter(|i| !i.is_empty()) {
                let items: Vec<String> = images
                    .iter()
                    .map(|i| {
                        let mut f = vec![format!("\"name\":{}", go_string(&i.name))];
                        push_opt(&mut f, "newName", &i.new_name);
                        push_opt(&mut f, "newTag", &i.new_tag);
                        push_opt(&mut f, "digest", &i.digest);
                        format!("{{{}}}", f.join(","))
                    })
                    .collect();
                kf.push(format!("\"images\":[{}]", items.join(",")));
            }
            fields.push(format!("\"kustomize\":{{{}}}", kf.join(",")));
        }
        json.push_str(&format!("{{{}}}", fields.join(",")));
    }
    json.push_str("]\n");
    json
}

fn go_selector(s: &Selector) -> String {
    let mut f = Vec::new();
    push_opt(&mut f, "group", &s.group);
    push_opt(&mut f, "version", &s.version);
    push_opt(&mut f, "kind", &s.kind);
    push_opt(&mut f, "namespace", &s.namespace);
    push_opt(&mut f, "name", &s.name);
    push_opt(&mut f, "annotationSelector", &s.annotation_selector);
    push_opt(&mut f, "labelSelector", &s.label_selector);
    format!("{{{}}}", f.join(","))
}

/// An `omitempty` string field.
fn push_opt(fields: &mut Vec<String>, key: &str, value: &Option<String>) {
    if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
        fields.push(format!("\"{key}\":{}", go_string(v)));
    }
}

/// A JSON string as Go's `encoding/json` writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped.
fn go_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned())
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

#[cfg(test)]
#[path = "post_render_tests.rs"]
mod tests;
