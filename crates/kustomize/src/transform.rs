//! The builtin transformers that edit fields in place: namespace,
//! namePrefix/nameSuffix, labels, annotations, replicas and images. Which
//! fields each one touches comes from kustomize's default fieldSpec tables.

use std::path::Path;

use crate::error::Error;
use crate::kustomization::{Image, Kustomization};
use crate::resource::{FieldSpec, Resource, split_path, visit};
use crate::yaml::{Node, Scalar};

/// Kinds that have no namespace (kustomize's cluster-scoped list, common part).
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "Node",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "ComponentStatus",
    "CertificateSigningRequest",
    "TokenReview",
    "SelfSubjectAccessReview",
    "SelfSubjectRulesReview",
    "SubjectAccessReview",
    "PodSecurityPolicy",
    "ClusterIssuer",
    "GatewayClass",
    "ClusterRoleBindingList",
];

pub fn is_cluster_scoped(r: &Resource) -> bool {
    CLUSTER_SCOPED.contains(&r.kind())
}

pub fn namespace(k: &Kustomization, res: &mut [Resource]) {
    let Some(ns) = k.namespace.as_deref().filter(|n| !n.is_empty()) else {
        return;
    };
    for r in res.iter_mut() {
        if r.kind() == "Namespace" {
            // kustomize's namespace field specs include a Namespace's own
            // name: the build's Namespace object becomes the one it sets.
            r.set_name(ns);
        } else if !is_cluster_scoped(r) {
            r.set_namespace(ns);
        }
        if r.kind() == "APIService" {
            // kustomize's field specs create this one even on an APIService
            // without a service (checked against the oracle).
            visit(&mut r.node, &["spec", "service"], true, &mut |node| {
                if let Some(m) = node.as_map_mut() {
                    m.insert("namespace", Node::string(ns));
                }
            });
        }
    }
    binding_subjects(ns, res, false, false);
}

/// Binding subjects the namespace reaches: those named `default` (whatever
/// their kind), or with `all` every ServiceAccount subject; with `unset_only`
/// only those without a namespace. Subjects naming an account of the build
/// follow it through name references instead (checked against the oracle).
pub fn binding_subjects(ns: &str, res: &mut [Resource], all: bool, unset_only: bool) {
    for r in res.iter_mut() {
        if !matches!(r.kind(), "RoleBinding" | "ClusterRoleBinding") {
            continue;
        }
        let Some(subjects) = r.node.at_mut(&["subjects"]).and_then(Node::as_seq_mut) else {
            continue;
        };
        for s in subjects.iter_mut() {
            let chosen = if all {
                s.str_at(&["kind"]) == Some("ServiceAccount")
            } else {
                s.str_at(&["name"]) == Some("default")
            };
            let unset = s.str_at(&["namespace"]).is_none_or(str::is_empty);
            if chosen
                && (unset || !unset_only)
                && let Some(m) = s.as_map_mut()
            {
                m.insert("namespace", Node::string(ns));
            }
        }
    }
}

pub fn prefix_suffix(k: &Kustomization, res: &mut [Resource]) {
    let prefix = k.name_prefix.as_deref().unwrap_or_default();
    let suffix = k.name_suffix.as_deref().unwrap_or_default();
    if prefix.is_empty() && suffix.is_empty() {
        return;
    }
    for r in res.iter_mut().filter(|r| !keeps_its_name(r)) {
        let name = format!("{prefix}{}{suffix}", r.name());
        r.affixes.push((prefix.to_string(), suffix.to_string()));
        r.set_name(&name);
    }
}

/// Kinds whose names a prefix or suffix never changes (their names are
/// fixed by the API: CRDs, APIServices, Namespaces).
pub fn keeps_its_name(r: &Resource) -> bool {
    matches!(
        r.kind(),
        "CustomResourceDefinition" | "APIService" | "Namespace"
    )
}

const SELECTOR_SPECS: &[FieldSpec] = &[
    FieldSpec::kind("Service", "spec/selector", true),
    FieldSpec::kind("ReplicationController", "spec/selector", true),
    FieldSpec::kind("Deployment", "spec/selector/matchLabels", true),
    FieldSpec::kind("ReplicaSet", "spec/selector/matchLabels", true),
    FieldSpec::kind("DaemonSet", "spec/selector/matchLabels", true),
    FieldSpec::gk("apps", "StatefulSet", "spec/selector/matchLabels", true),
    FieldSpec::gk("batch", "Job", "spec/selector/matchLabels", false),
    FieldSpec::gk(
        "batch",
        "CronJob",
        "spec/jobTemplate/spec/selector/matchLabels",
        false,
    ),
    FieldSpec::gk(
        "policy",
        "PodDisruptionBudget",
        "spec/selector/matchLabels",
        false,
    ),
    FieldSpec::gk(
        "networking.k8s.io",
        "NetworkPolicy",
        "spec/podSelector/matchLabels",
        false,
    ),
    FieldSpec::gk(
        "networking.k8s.io",
        "NetworkPolicy",
        "spec/ingress/from/podSelector/matchLabels",
        false,
    ),
    FieldSpec::gk(
        "networking.k8s.io",
        "NetworkPolicy",
        "spec/egress/to/podSelector/matchLabels",
        false,
    ),
    FieldSpec::gk(
        "apps",
        "Deployment",
        "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    FieldSpec::gk(
        "apps",
        "Deployment",
        "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        false,
    ),
    FieldSpec::gk(
        "apps",
        "Deployment",
        "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    FieldSpec::gk(
        "apps",
        "Deployment",
        "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        false,
    ),
    FieldSpec::gk(
        "apps",
        "Deployment",
        "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
        false,
    ),
    FieldSpec::gk(
        "apps",
        "StatefulSet",
        "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    FieldSpec::gk(
        "apps",
        "StatefulSet",
        "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        false,
    ),
    FieldSpec::gk(
        "apps",
        "StatefulSet",
        "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    FieldSpec::gk(
        "apps",
        "StatefulSet",
        "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        false,
    ),
    FieldSpec::gk(
        "apps",
        "StatefulSet",
        "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
        false,
    ),
];

/// Pod template metadata paths; `{}` is `labels` or `annotations`.
const TEMPLATE_PATHS: &[(Option<&str>, &str, &str)] = &[
    (None, "ReplicationController", "spec/template/metadata/{}"),
    (None, "Deployment", "spec/template/metadata/{}"),
    (None, "ReplicaSet", "spec/template/metadata/{}"),
    (None, "DaemonSet", "spec/template/metadata/{}"),
    (None, "StatefulSet", "spec/template/metadata/{}"),
    (Some("batch"), "Job", "spec/template/metadata/{}"),
    (Some("batch"), "CronJob", "spec/jobTemplate/metadata/{}"),
    (
        Some("batch"),
        "CronJob",
        "spec/jobTemplate/spec/template/metadata/{}",
    ),
];

pub fn set_pairs(r: &mut Resource, path: &str, create: bool, pairs: &[(String, String)]) {
    let parts = split_path(path);
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    visit(&mut r.node, &parts, create, &mut |node| {
        insert_pairs(node, pairs)
    });
}

/// Puts string `pairs` into a map (a null becomes the map).
fn insert_pairs(node: &mut Node, pairs: &[(String, String)]) {
    if node.is_null() {
        *node = Node::map();
    }
    if let Some(m) = node.as_map_mut() {
        for (k, v) in pairs {
            m.insert(k, Node::Scalar(Scalar::string(v)));
        }
    }
}

fn apply_templates(r: &mut Resource, what: &str, pairs: &[(String, String)]) {
    for (group, kind, path) in TEMPLATE_PATHS {
        let group_ok = group.is_none_or(|g| g == r.group_version().0);
        if *kind == r.kind() && group_ok {
            set_pairs(r, &path.replace("{}", what), true, pairs);
        }
    }
}

fn label_set(r: &mut Resource, pairs: &[(String, String)], selectors: bool, templates: bool) {
    set_pairs(r, "metadata/labels", true, pairs);
    if selectors || templates {
        apply_templates(r, "labels", pairs);
    }
    if selectors {
        for spec in SELECTOR_SPECS {
            if spec.applies_to(r) {
                set_pairs(r, spec.path, spec.create, pairs);
            }
        }
        // Each claim template gets labels, but a missing list is not made.
        let claims = FieldSpec::gk("apps", "StatefulSet", "spec/volumeClaimTemplates", false);
        if claims.applies_to(r)
            && let Some(templates) = r
                .node
                .at_mut(&["spec", "volumeClaimTemplates"])
                .and_then(Node::as_seq_mut)
        {
            for t in templates.iter_mut() {
                visit(t, &["metadata", "labels"], true, &mut |node| {
                    insert_pairs(node, pairs);
                });
            }
        }
    }
}

pub fn labels(k: &Kustomization, res: &mut [Resource]) {
    for label in &k.labels {
        let pairs: Vec<(String, String)> = label.pairs.clone().into_iter().collect();
        for r in res.iter_mut() {
            label_set(r, &pairs, label.include_selectors, label.include_templates);
            for spec in label
                .fields
                .iter()
                .filter(|s| s.applies_to(r))
                .cloned()
                .collect::<Vec<_>>()
            {
                set_pairs(r, &spec.path, spec.create, &pairs);
            }
        }
    }
    if !k.common_labels.is_empty() {
        let pairs: Vec<(String, String)> = k.common_labels.clone().into_iter().collect();
        for r in res.iter_mut() {
            label_set(r, &pairs, true, true);
        }
    }
}

pub fn annotations(k: &Kustomization, res: &mut [Resource]) {
    if k.common_annotations.is_empty() {
        return;
    }
    let pairs: Vec<(String, String)> = k.common_annotations.clone().into_iter().collect();
    for r in res.iter_mut() {
        set_pairs(r, "metadata/annotations", true, &pairs);
        apply_templates(r, "annotations", &pairs);
    }
}

/// Sets `spec/replicas`; a replicas entry that names no workload is an error
/// in kustomize, not a no-op.
pub fn replicas(kfile: &Path, k: &Kustomization, res: &mut [Resource]) -> Result<(), Error> {
    for rep in &k.replicas {
        let mut hit = false;
        for r in res.iter_mut() {
            let kind_ok = matches!(
                r.kind(),
                "Deployment" | "ReplicationController" | "ReplicaSet" | "StatefulSet"
            );
            if kind_ok && (r.name() == rep.name || r.orig_name == rep.name) {
                hit = true;
                let count = Node::Scalar(Scalar::plain(rep.count.to_string()));
                if let Some(m) = r.node.as_map_mut() {
                    m.map_entry("spec").insert("replicas", count);
                }
            }
        }
        if !hit {
            return Err(Error::Field {
                path: kfile.to_path_buf(),
                field: "replicas".into(),
                message: format!(
                    "{:?} names no Deployment, ReplicationController, ReplicaSet or StatefulSet",
                    rep.name
                ),
            });
        }
    }
    Ok(())
}

const IMAGE_PATHS: &[&str] = &[
    "spec/containers/image",
    "spec/initContainers/image",
    "spec/template/spec/containers/image",
    "spec/template/spec/initContainers/image",
    "spec/jobTemplate/spec/template/spec/containers/image",
    "spec/jobTemplate/spec/template/spec/initContainers/image",
];

/// (name, tag, digest) of an image reference; a `:` after the last `/` is a tag.
pub fn split_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..]), digest),
        None => (rest, None, digest),
    }
}

pub fn images(k: &Kustomization, res: &mut [Resource]) {
    if k.images.is_empty() {
        return;
    }
    let paths: Vec<Vec<String>> = IMAGE_PATHS.iter().map(|p| split_path(p)).collect();
    for r in res.iter_mut() {
        for parts in &paths {
            retag_at(&mut r.node, parts, &k.images);
        }
    }
}

/// Rewrites every image reference at `parts` that one of `images` names.
pub fn retag_at(node: &mut Node, parts: &[String], images: &[Image]) {
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    visit(node, &parts, false, &mut |node| {
        let Some(current) = node.as_str() else {
            return;
        };
        let (name, _, _) = split_image(current);
        if let Some(img) = images.iter().find(|i| i.name == name) {
            *node = Node::string(retag(current, img));
        }
    });
}

fn retag(current: &str, img: &Image) -> String {
    let (name, tag, digest) = split_image(current);
    let new_name = img.new_name.as_deref().unwrap_or(name);
    let mut out = new_name.to_string();
    if let Some(d) = img.digest.as_deref() {
        out = format!("{out}@{d}");
    } else if let Some(t) = img.new_tag.as_deref() {
        out = format!("{out}:{t}");
    } else {
        if let Some(t) = tag {
            out = format!("{out}:{t}");
        }
        if let Some(d) = digest {
            out = format!("{out}@{d}");
        }
    }
    out
}
