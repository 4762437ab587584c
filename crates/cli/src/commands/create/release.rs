//! The appliers `create` builds from flux's flags: Kustomization and HelmRelease. Each builder
//! returns the object's `spec` or the error flux prints for the same flags.

use std::path::PathBuf;

use clap::Args;
use serde_json::{Map, Value, json};

use super::super::cluster::ClusterError;
use super::super::kinds::{self, FluxKind};

/// Flags of `create kustomization`.
#[derive(Debug, Args)]
pub struct KustomizationFlags {
    pub name: String,
    /// `[<kind>/]<name>[.<namespace>]` of the source (kind GitRepository when omitted).
    #[arg(long)]
    pub source: Option<String>,
    #[arg(long, default_value = "./")]
    pub path: String,
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub prune: bool,
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub wait: bool,
    #[arg(long)]
    pub target_namespace: Option<String>,
    #[arg(long)]
    pub service_account: Option<String>,
    #[arg(long, value_delimiter = ',')]
    pub depends_on: Vec<String>,
}

/// Flags of `create helmrelease`.
#[derive(Debug, Args)]
pub struct HelmReleaseFlags {
    pub name: String,
    /// `<kind>/<name>[.<namespace>]` of the chart source: HelmRepository, GitRepository or Bucket.
    #[arg(long)]
    pub source: Option<String>,
    /// Helm chart name or path.
    #[arg(long)]
    pub chart: Option<String>,
    /// `<kind>/<name>[.<namespace>]` of a chart artifact: OCIRepository or HelmChart.
    #[arg(long)]
    pub chart_ref: Option<String>,
    /// Helm chart version, a semver range.
    #[arg(long)]
    pub chart_version: Option<String>,
    /// Name used for the Helm release.
    #[arg(long)]
    pub release_name: Option<String>,
    /// Namespace to install the release into.
    #[arg(long)]
    pub target_namespace: Option<String>,
    /// Create the target namespace if it does not exist.
    #[arg(long)]
    pub create_target_namespace: bool,
    #[arg(long, value_delimiter = ',')]
    pub depends_on: Vec<String>,
    /// Local values.yaml files, merged in order.
    #[arg(long, value_delimiter = ',')]
    pub values: Vec<PathBuf>,
    /// `<kind>/<name>` of a ConfigMap or Secret holding `values.yaml`.
    #[arg(long, value_delimiter = ',')]
    pub values_from: Vec<String>,
    #[arg(long)]
    pub service_account: Option<String>,
    /// CRD upgrade policy: Skip, Create or CreateReplace.
    #[arg(long)]
    pub crds: Option<String>,
    /// ChartVersion or Revision.
    #[arg(long, default_value = "ChartVersion")]
    pub reconcile_strategy: String,
    /// How often the chart source is checked for new versions.
    #[arg(long)]
    pub chart_interval: Option<driftless_runtime::flags::GoDuration>,
    /// Secret holding a kubeconfig for a remote cluster.
    #[arg(long)]
    pub kubeconfig_secret_ref: Option<String>,
}

fn invalid(message: impl Into<String>) -> ClusterError {
    ClusterError::Invalid(message.into())
}

/// `<kind>/<name>[.<namespace>]` as a `sourceRef`; `default` when the kind is left out.
fn source_ref(
    text: &str,
    allowed: &[FluxKind],
    default: Option<FluxKind>,
) -> Result<Value, ClusterError> {
    let (kind, rest) = match (text.split_once('/'), default) {
        (Some((kind, rest)), _) => (FluxKind::by_name(kind).ok_or(kind), rest),
        (None, Some(default)) => (Ok(default), text),
        (None, None) => {
            return Err(invalid(format!(
                "invalid source '{text}', must be in format <kind>/<name>"
            )));
        }
    };
    let kind = kind.ok().filter(|k| allowed.contains(k)).ok_or_else(|| {
        let names: Vec<&str> = allowed.iter().map(|k| k.kind).collect();
        invalid(format!(
            "source kind '{}' is not supported, must be one of: {}",
            text.split('/').next().unwrap_or_default(),
            names.join(", ")
        ))
    })?;
    let mut reference = json!({"kind": kind.kind});
    match rest.split_once('.') {
        Some((name, namespace)) => {
            reference["name"] = json!(name);
            reference["namespace"] = json!(namespace);
        }
        None => reference["name"] = json!(rest),
    }
    Ok(reference)
}

/// `dependsOn` from `name` and `namespace/name` entries.
fn depends_on(entries: &[String]) -> Value {
    json!(
        entries
            .iter()
            .map(|d| match d.split_once('/') {
                Some((ns, name)) => json!({"name": name, "namespace": ns}),
                None => json!({"name": d}),
            })
            .collect::<Vec<_>>()
    )
}

/// A Kustomization spec.
pub fn kustomization(ks: &KustomizationFlags, interval: &str) -> Result<Value, ClusterError> {
    let source = ks
        .source
        .as_deref()
        .ok_or_else(|| invalid("source is required"))?;
    let source_ref = source_ref(source, &kinds::SOURCES, Some(kinds::GIT_REPOSITORY))?;
    if !ks.path.starts_with("./") {
        return Err(invalid("path must begin with ./"));
    }
    let mut spec =
        json!({"interval": interval, "path": ks.path, "prune": ks.prune, "sourceRef": source_ref});
    if ks.wait {
        spec["wait"] = json!(true);
    }
    if let Some(target) = &ks.target_namespace {
        spec["targetNamespace"] = json!(target);
    }
    if let Some(sa) = &ks.service_account {
        spec["serviceAccountName"] = json!(sa);
    }
    if !ks.depends_on.is_empty() {
        spec["dependsOn"] = depends_on(&ks.depends_on);
    }
    Ok(json!({"spec": spec}))
}

/// `b` merged into `a`, maps key by key, everything else replaced.
fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in b {
                match a.get_mut(&key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value);
                    }
                    _ => {
                        a.insert(key, value);
                    }
                }
            }
        }
        (a, b) => *a = b,
    }
}

/// A HelmRelease spec: a chart template (`--source` + `--chart`) or a `chartRef`.
pub fn helm_release(hr: &HelmReleaseFlags, interval: &str) -> Result<Value, ClusterError> {
    if !["ChartVersion", "Revision"].contains(&hr.reconcile_strategy.as_str()) {
        return Err(invalid(format!(
            "'{}' is an invalid reconcile strategy(valid: Revision, ChartVersion)",
            hr.reconcile_strategy
        )));
    }
    let mut spec = json!({"interval": interval});
    match (&hr.chart_ref, &hr.chart, &hr.source) {
        (Some(reference), None, None) => {
            spec["chartRef"] =
                source_ref(reference, &[kinds::OCI_REPOSITORY, kinds::HELM_CHART], None)?;
        }
        (Some(_), _, _) => {
            return Err(invalid(
                "--chart-ref cannot be used with --chart or --source",
            ));
        }
        (None, None, _) => return Err(invalid("chart name or path is required")),
        (None, Some(chart), source) => {
            let source = source
                .as_deref()
                .ok_or_else(|| invalid("source is required"))?;
            let allowed = [kinds::HELM_REPOSITORY, kinds::GIT_REPOSITORY, kinds::BUCKET];
            let mut template = json!({"chart": chart,
                "reconcileStrategy": hr.reconcile_strategy,
                "sourceRef": source_ref(source, &allowed, None)?});
            if let Some(version) = &hr.chart_version {
                template["version"] = json!(version);
            }
            if let Some(every) = &hr.chart_interval {
                template["interval"] = json!(every.to_string());
            }
            spec["chart"] = json!({"spec": template});
        }
    }
    let mut install = Map::new();
    if hr.create_target_namespace {
        install.insert("createNamespace".into(), json!(true));
    }
    if let Some(policy) = &hr.crds {
        if !["Skip", "Create", "CreateReplace"].contains(&policy.as_str()) {
            return Err(invalid(format!(
                "unsupported CRD policy '{policy}', must be one of: Skip, Create, CreateReplace"
            )));
        }
        install.insert("crds".into(), json!("Create"));
        spec["upgrade"] = json!({"crds": policy});
    }
    if !install.is_empty() {
        spec["install"] = Value::Object(install);
    }
    for (key, value) in [
        ("releaseName", &hr.release_name),
        ("targetNamespace", &hr.target_namespace),
        ("serviceAccountName", &hr.service_account),
    ] {
        if let Some(v) = value {
            spec[key] = json!(v);
        }
    }
    if let Some(secret) = &hr.kubeconfig_secret_ref {
        spec["kubeConfig"] = json!({"secretRef": {"name": secret}});
    }
    if !hr.depends_on.is_empty() {
        spec["dependsOn"] = depends_on(&hr.depends_on);
    }
    if !hr.values.is_empty() {
        let mut values = json!({});
        for file in &hr.values {
            let text = std::fs::read_to_string(file).map_err(|e| {
                invalid(format!(
                    "reading values from {} failed: {e}",
                    file.display()
                ))
            })?;
            let parsed: Value = serde_saphyr::from_str(&text).map_err(|e| {
                invalid(format!(
                    "converting values to JSON from {} failed: {e}",
                    file.display()
                ))
            })?;
            if !parsed.is_null() {
                merge(&mut values, parsed);
            }
        }
        spec["values"] = values;
    }
    if !hr.values_from.is_empty() {
        let mut references = Vec::new();
        for entry in &hr.values_from {
            let (kind, name) = entry.split_once('/').ok_or_else(|| {
                invalid(format!(
                    "invalid Kubernetes object reference '{entry}', must be in format <kind>/<name>"
                ))
            })?;
            let kind = ["Secret", "ConfigMap"]
                .into_iter()
                .find(|k| k.eq_ignore_ascii_case(kind))
                .ok_or_else(|| {
                    invalid(format!(
                        "reference kind '{kind}' is not supported, must be one of: Secret, ConfigMap"
                    ))
                })?;
            references.push(json!({"kind": kind, "name": name}));
        }
        spec["valuesFrom"] = json!(references);
    }
    Ok(json!({"spec": spec}))
}
