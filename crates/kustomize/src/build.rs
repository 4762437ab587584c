//! The build: load a kustomization, accumulate its resources (files,
//! directories, nested kustomizations), apply components, run generators and
//! transformers in kustomize's order, and at the top level add generator
//! hashes and fix name references.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::fsys::{Loader, Target};
use crate::kustomization::{self, Kustomization};
use crate::origin::{self, record};
use crate::resource::Resource;
use crate::smp::Schema;
use crate::yaml::{self, Node};
use crate::{builtin, crds, generators, nameref, patch, replacements, tconfig, transform};

/// How deep kustomizations may include each other.
pub const MAX_DEPTH: usize = 50;

pub struct Builder<'a> {
    pub loader: &'a Loader,
    stack: Vec<PathBuf>,
    /// Vars of every kustomization built, resolved once at the top.
    vars: Vec<(PathBuf, crate::vars::Var)>,
    /// Transformer configurations of the kustomization being built and of
    /// everything it includes.
    config: tconfig::Config,
    /// The strategic merge schema: the built-in one until a kustomization
    /// with `openapi` is loaded, then that one for everything patched after
    /// (kustomize keeps it as process-wide state, set on load).
    schema: Schema,
    /// Without `sortOptions`, keep the resources' input order instead of
    /// kustomize's legacy kind order (Flux's builds: its krusty options
    /// leave the reorder option empty, which sorts nothing).
    input_order: bool,
}

impl<'a> Builder<'a> {
    pub fn new(loader: &'a Loader) -> Self {
        Self {
            loader,
            stack: Vec::new(),
            vars: Vec::new(),
            config: tconfig::Config::default(),
            schema: Schema::kubernetes(),
            input_order: false,
        }
    }

    /// Output in input order unless the top kustomization has `sortOptions`.
    pub fn keep_input_order(mut self, keep: bool) -> Self {
        self.input_order = keep;
        self
    }

    /// The fully built resources of the kustomization in `dir`.
    pub fn build_top(&mut self, dir: &Path) -> Result<Vec<Resource>, Error> {
        let dir = self.loader.check_dir(dir)?;
        let (mut resources, k) = self.accumulate(&dir, Vec::new(), false)?;
        finish(&dir, &mut resources, &k, self)?;
        Ok(resources)
    }

    /// Builds a kustomization that exists only in memory (Flux's generated one).
    pub fn build_generated(
        &mut self,
        dir: &Path,
        k: &Kustomization,
    ) -> Result<Vec<Resource>, Error> {
        let kfile = dir.join(kustomization::FILE_NAMES[0]);
        self.stack.push(dir.to_path_buf());
        let result = self.run(&kfile, dir, k, Vec::new());
        self.stack.pop();
        let mut resources = result?;
        finish(dir, &mut resources, k, self)?;
        Ok(resources)
    }

    fn accumulate(
        &mut self,
        dir: &Path,
        input: Vec<Resource>,
        component: bool,
    ) -> Result<(Vec<Resource>, Kustomization), Error> {
        let kfile =
            kustomization::find_unique(dir)?.ok_or_else(|| Error::MissingKustomization {
                path: dir.to_path_buf(),
            })?;
        if self.stack.iter().any(|p| p == dir) {
            let chain = self
                .stack
                .iter()
                .chain(std::iter::once(&dir.to_path_buf()))
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" -> ");
            return Err(Error::Cycle { path: kfile, chain });
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Error::TooDeep {
                path: kfile,
                limit: MAX_DEPTH,
            });
        }
        let k = kustomization::load(self.loader, &kfile)?;
        refuse_unsupported(&kfile, &k)?;
        if let Some(field) = &k.openapi
            && let Some(schema) = crate::openapi::load(self.loader, &kfile, dir, field)?
        {
            self.schema = schema;
        }
        let is_component = k.kind.as_deref() == Some("Component");
        if is_component != component {
            return Err(Error::Kustomization {
                path: kfile,
                message: if component {
                    "a component must have kind: Component".into()
                } else {
                    "a Component may only be used under components".into()
                },
            });
        }
        self.stack.push(dir.to_path_buf());
        // The included kustomization starts from its own configurations;
        // the includer then inherits them (kustomize merges them upward).
        let outer = std::mem::take(&mut self.config);
        let result = self.run(&kfile, dir, &k, input);
        let inner = std::mem::replace(&mut self.config, outer);
        self.config.merge(inner);
        self.stack.pop();
        Ok((result?, k))
    }

    fn run(
        &mut self,
        kfile: &Path,
        dir: &Path,
        k: &Kustomization,
        mut res: Vec<Resource>,
    ) -> Result<Vec<Resource>, Error> {
        for reference in k.bases.iter().chain(&k.resources) {
            match self.loader.resolve(kfile, dir, "resources", reference)? {
                Target::Dir(sub) => {
                    let (built, _) = self.accumulate(&sub, Vec::new(), false)?;
                    append(&mut res, built)?;
                }
                Target::File(file) => append(&mut res, self.load_file(&file)?)?,
            }
        }
        for reference in &k.components {
            match self.loader.resolve(kfile, dir, "components", reference)? {
                Target::Dir(sub) => {
                    let (built, _) = self.accumulate(&sub, std::mem::take(&mut res), true)?;
                    res = built;
                }
                Target::File(_) => {
                    return Err(Error::Field {
                        path: kfile.to_path_buf(),
                        field: "components".into(),
                        message: format!("{reference:?} must be a directory"),
                    });
                }
            }
        }
        self.vars
            .extend(k.vars.iter().map(|v| (kfile.to_path_buf(), v.clone())));
        let mut own = tconfig::Config::load(self.loader, kfile, dir, &k.configurations)?;
        own.merge(crds::load(self.loader, kfile, dir, &k.crds)?);
        self.config.merge(own);
        let config = &self.config;
        generators::run(self.loader, kfile, dir, k, &mut res)?;
        patch::strategic_merge_files(self.loader, kfile, dir, k, &mut res, &self.schema)?;
        let any = |used: bool| usize::from(used);
        let smp_files = any(!k.patches_strategic_merge.is_empty());
        record(&mut res, kfile, "PatchStrategicMergeTransformer", smp_files);
        patch::patches(self.loader, kfile, dir, &k.patches, &mut res, &self.schema)?;
        record(&mut res, kfile, "PatchTransformer", k.patches.len());
        transform::namespace(k, &mut res);
        if let Some(ns) = k.namespace.as_deref().filter(|n| !n.is_empty()) {
            tconfig::set_namespace(&config.namespace, ns, &mut res);
            record(&mut res, kfile, "NamespaceTransformer", 1);
        }
        transform::prefix_suffix(k, &mut res);
        let prefix = any(k.name_prefix.as_deref().is_some_and(|p| !p.is_empty()));
        record(&mut res, kfile, "PrefixTransformer", prefix);
        let suffix = any(k.name_suffix.as_deref().is_some_and(|s| !s.is_empty()));
        record(&mut res, kfile, "SuffixTransformer", suffix);
        transform::labels(k, &mut res);
        for pairs in tconfig::selector_label_sets(k) {
            tconfig::set_pairs(&config.common_labels, &pairs, &mut res);
        }
        // One transformer per `labels` entry plus the commonLabels one.
        let labels = k.labels.len() + 1;
        let labels = labels * any(!k.labels.is_empty() || !k.common_labels.is_empty());
        record(&mut res, kfile, "LabelTransformer", labels);
        transform::annotations(k, &mut res);
        let annotations: Vec<(String, String)> = k.common_annotations.clone().into_iter().collect();
        tconfig::set_pairs(&config.common_annotations, &annotations, &mut res);
        let common = any(!annotations.is_empty());
        record(&mut res, kfile, "AnnotationsTransformer", common);
        let schema = &self.schema;
        patch::patches(
            self.loader,
            kfile,
            dir,
            &k.patches_json6902,
            &mut res,
            schema,
        )?;
        let json6902 = k.patches_json6902.len();
        record(&mut res, kfile, "PatchJson6902Transformer", json6902);
        transform::replicas(kfile, k, &mut res)?;
        record(&mut res, kfile, "ReplicaCountTransformer", k.replicas.len());
        transform::images(k, &mut res);
        tconfig::images(&config.images, &k.images, &mut res);
        record(&mut res, kfile, "ImageTagTransformer", k.images.len());
        replacements::run(self.loader, kfile, dir, &k.replacements, &mut res)?;
        let replaced = any(!k.replacements.is_empty());
        record(&mut res, kfile, "ReplacementTransformer", replaced);
        builtin::run(self.loader, kfile, dir, &k.transformers, &mut res, schema)?;
        Ok(res)
    }

    /// The objects in one YAML file; `kind: List` documents are expanded.
    pub fn load_file(&self, path: &Path) -> Result<Vec<Resource>, Error> {
        let text = self.loader.read(path)?;
        let mut objects = parse_objects(path, &text)?;
        for r in &mut objects {
            r.origin = Some(origin::Origin::File(path.to_path_buf()));
        }
        Ok(objects)
    }
}

/// What kustomize does once, at the top-level kustomization: generator
/// hashes, name references, cleanup and output order.
fn finish(
    top: &Path,
    resources: &mut [Resource],
    k: &Kustomization,
    builder: &Builder<'_>,
) -> Result<(), Error> {
    generators::add_hashes(resources);
    nameref::fix(resources, &tconfig::name_rules(&builder.config));
    crate::vars::resolve(&builder.vars, resources)?;
    origin::annotate(
        top,
        origin::Wanted::of(k.build_metadata.as_ref()),
        resources,
    );
    for r in resources.iter_mut() {
        r.drop_empty_annotations();
    }
    if !(builder.input_order && k.sort_options.is_none()) {
        crate::order::sort(resources, k.sort_options.as_ref());
    }
    Ok(())
}

/// Parses the objects of a YAML stream, as kustomize reads resource files.
pub fn parse_objects(path: &Path, text: &str) -> Result<Vec<Resource>, Error> {
    let docs = yaml::parse_documents(text).map_err(|source| Error::Yaml {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (index, doc) in docs.into_iter().enumerate() {
        let Some(node) = doc else { continue };
        if node.is_null() {
            continue;
        }
        let bad = |message: &str| Error::Resource {
            path: path.to_path_buf(),
            index,
            message: message.into(),
        };
        if node.as_map().is_none() {
            return Err(bad("a resource must be a mapping"));
        }
        if let Some(value) = yaml::value::non_finite_float(&node) {
            return Err(bad(&format!("json: unsupported value: {value}")));
        }
        if node.str_at(&["kind"]).is_some_and(|k| k.ends_with("List"))
            && let Some(items) = node.at(&["items"]).and_then(Node::as_seq)
        {
            for item in items {
                out.push(Resource::new(item.clone()));
            }
            continue;
        }
        if node.str_at(&["kind"]).is_none_or(str::is_empty) {
            return Err(bad("missing kind"));
        }
        if node.str_at(&["metadata", "name"]).is_none_or(str::is_empty) {
            return Err(bad("missing metadata.name"));
        }
        out.push(Resource::new(node));
    }
    Ok(out)
}

/// Adds resources, refusing two objects with the same id.
pub fn append(res: &mut Vec<Resource>, more: Vec<Resource>) -> Result<(), Error> {
    for r in more {
        let id = r.id();
        if res.iter().any(|x| x.id() == id) {
            return Err(Error::DuplicateId { id });
        }
        res.push(r);
    }
    Ok(())
}

pub(crate) fn refuse_unsupported(kfile: &Path, k: &Kustomization) -> Result<(), Error> {
    let fields = [
        // Only charts to inflate are refused: helmGlobals alone, or an empty
        // list, builds as kustomize builds it without --enable-helm.
        ("helmCharts", non_empty(k.helm_charts.as_ref())),
        (
            "helmChartInflationGenerator",
            non_empty(k.helm_chart_inflation_generator.as_ref()),
        ),
        ("generators", k.generators.is_some()),
        ("validators", k.validators.is_some()),
    ];
    match fields.iter().find(|(_, used)| *used) {
        Some((field, _)) => Err(Error::Unsupported {
            path: kfile.to_path_buf(),
            field: (*field).into(),
            reason: if field.starts_with("helm") {
                "driftless does not inflate Helm charts inside kustomize (use a HelmRelease)"
            } else if matches!(*field, "generators" | "validators") {
                "kustomize plugins are disabled, as in Flux"
            } else {
                "this field is not implemented yet in driftless's kustomize"
            },
        }),
        None => Ok(()),
    }
}

/// Whether a field holds something: not null and not an empty list or map.
fn non_empty(field: Option<&serde_json::Value>) -> bool {
    match field {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Array(a)) => !a.is_empty(),
        Some(serde_json::Value::Object(o)) => !o.is_empty(),
        Some(_) => true,
    }
}
