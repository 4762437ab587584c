//! `driftless create source git`, `create kustomization`, `create secret git`: build the object
//! from flux's flags, then print it (`--export`) or apply it and wait for it to be Ready.

use clap::{Args, Subcommand};
use driftless_runtime::flags::GoDuration;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Map, Value, json};

use super::CommandError;
use super::cluster::{ClusterError, KubeArgs, block_on};
use super::kinds::{self, FluxKind};
use super::output::Printer;
use super::reconcile::wait;
use crate::yaml;

/// The field manager flux's CLI applies with.
const FIELD_MANAGER: &str = "flux-client-side-apply";

/// Arguments of `driftless create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Print the object as YAML instead of applying it.
    #[arg(long, global = true)]
    pub export: bool,
    /// Labels to set, `key=value` (repeatable).
    #[arg(long = "label", global = true, value_delimiter = ',')]
    pub labels: Vec<String>,
    /// How often the object is reconciled.
    #[arg(long, global = true, default_value = "1m0s")]
    pub interval: GoDuration,
    #[command(subcommand)]
    pub what: CreateWhat,
}

/// What `driftless create` creates.
#[derive(Debug, Subcommand)]
pub enum CreateWhat {
    /// A source.
    Source {
        #[command(subcommand)]
        kind: CreateSource,
    },
    /// A Kustomization.
    #[command(aliases = ["ks"])]
    Kustomization(KustomizationFlags),
    /// A Secret.
    Secret {
        #[command(subcommand)]
        kind: CreateSecret,
    },
}

/// `create source …`.
#[derive(Debug, Subcommand)]
pub enum CreateSource {
    /// A GitRepository.
    Git(GitFlags),
}

/// `create secret …`.
#[derive(Debug, Subcommand)]
pub enum CreateSecret {
    /// A Secret with git credentials (basic auth or bearer token).
    Git(SecretGitFlags),
}

/// Flags of `create source git`.
#[derive(Debug, Args)]
pub struct GitFlags {
    pub name: String,
    #[arg(long)]
    pub url: String,
    #[arg(long)]
    pub branch: Option<String>,
    #[arg(long)]
    pub tag: Option<String>,
    #[arg(long = "tag-semver")]
    pub semver: Option<String>,
    #[arg(long)]
    pub commit: Option<String>,
    #[arg(long)]
    pub ref_name: Option<String>,
    /// The name of an existing Secret with the git credentials.
    #[arg(long)]
    pub secret_ref: Option<String>,
    #[arg(long, value_delimiter = ',')]
    pub ignore_paths: Vec<String>,
    #[arg(long, value_delimiter = ',')]
    pub sparse_checkout_paths: Vec<String>,
    #[arg(long)]
    pub recurse_submodules: bool,
}

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

/// Flags of `create secret git`.
#[derive(Debug, Args)]
pub struct SecretGitFlags {
    pub name: String,
    #[arg(long)]
    pub url: String,
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    #[arg(long)]
    pub bearer_token: Option<String>,
}

/// Runs `driftless create`.
pub fn run(args: &CreateArgs) -> Result<(), CommandError> {
    if args.export {
        let mut printer = Printer::stdio();
        return printer.print(&yaml::stream(&[object(args)?])?);
    }
    block_on(async {
        let client = args.kube.client().await?;
        create(&client, args, &mut Printer::stdio()).await
    })
}

/// The object the flags describe.
pub fn object(args: &CreateArgs) -> Result<Value, ClusterError> {
    let mut metadata = json!({"name": "", "namespace": args.kube.namespace});
    let mut labels = Map::new();
    for label in &args.labels {
        let (k, v) = label.split_once('=').ok_or_else(|| {
            ClusterError::Invalid(format!("invalid label format '{label}', must be key=value"))
        })?;
        labels.insert(k.to_owned(), json!(v));
    }
    if !labels.is_empty() {
        metadata["labels"] = Value::Object(labels);
    }
    let interval = args.interval.to_string();
    let (kind, name, body) = match &args.what {
        CreateWhat::Source {
            kind: CreateSource::Git(git),
        } => {
            let url_ok = ["http://", "https://", "ssh://"]
                .iter()
                .any(|s| git.url.starts_with(s));
            if !url_ok {
                return Err(ClusterError::Invalid(format!(
                    "git URL scheme '{}' not supported, can be: ssh, http and https",
                    git.url.split("://").next().unwrap_or_default()
                )));
            }
            let mut reference = Map::new();
            for (key, value) in [
                ("branch", &git.branch),
                ("tag", &git.tag),
                ("semver", &git.semver),
                ("commit", &git.commit),
                ("name", &git.ref_name),
            ] {
                if let Some(v) = value {
                    reference.insert(key.to_owned(), json!(v));
                }
            }
            if reference.is_empty() {
                return Err(ClusterError::Invalid(
                    "a Git ref is required, use one of the following: --branch, --tag, --commit, --ref-name or --tag-semver".into(),
                ));
            }
            let mut spec = json!({"interval": interval, "url": git.url, "ref": reference});
            if let Some(secret) = &git.secret_ref {
                spec["secretRef"] = json!({"name": secret});
            }
            if !git.ignore_paths.is_empty() {
                spec["ignore"] = json!(git.ignore_paths.join("\n"));
            }
            if !git.sparse_checkout_paths.is_empty() {
                spec["sparseCheckout"] = json!(git.sparse_checkout_paths);
            }
            if git.recurse_submodules {
                spec["recurseSubmodules"] = json!(true);
            }
            (
                Some(kinds::GIT_REPOSITORY),
                &git.name,
                json!({"spec": spec}),
            )
        }
        CreateWhat::Kustomization(ks) => {
            let source = ks
                .source
                .as_deref()
                .ok_or_else(|| ClusterError::Invalid("source is required".into()))?;
            let (source_kind, rest) = source.split_once('/').unwrap_or(("GitRepository", source));
            let source_kind = FluxKind::by_name(source_kind)
                .filter(|k| kinds::SOURCES.contains(k))
                .ok_or_else(|| {
                    ClusterError::Invalid(format!("source kind '{source_kind}' is not supported"))
                })?;
            let mut source_ref = json!({"kind": source_kind.kind});
            match rest.split_once('.') {
                Some((name, namespace)) => {
                    source_ref["name"] = json!(name);
                    source_ref["namespace"] = json!(namespace);
                }
                None => source_ref["name"] = json!(rest),
            }
            if !ks.path.starts_with("./") {
                return Err(ClusterError::Invalid("path must begin with ./".into()));
            }
            let mut spec = json!({"interval": interval, "path": ks.path, "prune": ks.prune, "sourceRef": source_ref});
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
                let deps: Vec<Value> = ks
                    .depends_on
                    .iter()
                    .map(|d| match d.split_once('/') {
                        Some((ns, name)) => json!({"name": name, "namespace": ns}),
                        None => json!({"name": d}),
                    })
                    .collect();
                spec["dependsOn"] = json!(deps);
            }
            (Some(kinds::KUSTOMIZATION), &ks.name, json!({"spec": spec}))
        }
        CreateWhat::Secret {
            kind: CreateSecret::Git(secret),
        } => {
            let mut data = Map::new();
            if secret.url.starts_with("ssh://") {
                return Err(ClusterError::Invalid(
                    "SSH secrets are not supported yet: use an https URL with --username/--password or --bearer-token".into(),
                ));
            }
            match (&secret.username, &secret.password, &secret.bearer_token) {
                (Some(_), Some(_), Some(_)) => {
                    return Err(ClusterError::Invalid(
                        "user credentials and bearer token cannot be used together".into(),
                    ));
                }
                (Some(u), Some(p), None) => {
                    data.insert("username".into(), json!(u));
                    data.insert("password".into(), json!(p));
                }
                (None, None, Some(token)) => {
                    data.insert("bearerToken".into(), json!(token));
                }
                _ => {
                    return Err(ClusterError::Invalid(
                        "for Git over HTTP/S the username and password, or a bearer token, are required".into(),
                    ));
                }
            }
            (None, &secret.name, json!({"stringData": data}))
        }
    };
    metadata["name"] = json!(name);
    let mut object = json!({"metadata": metadata});
    match kind {
        Some(kind) => {
            object["apiVersion"] = json!(kind.api_version());
            object["kind"] = json!(kind.kind);
        }
        None => {
            object["apiVersion"] = json!("v1");
            object["kind"] = json!("Secret");
        }
    }
    if let (Some(target), Some(extra)) = (object.as_object_mut(), body.as_object()) {
        target.extend(extra.clone());
    }
    Ok(object)
}

/// Applies the object and, for Flux kinds, waits for it to be Ready as flux create does.
pub async fn create(
    client: &kube::Client,
    args: &CreateArgs,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    let object = object(args)?;
    let namespace = args.kube.namespace.as_str();
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let kind = match &args.what {
        CreateWhat::Source { .. } => Some((kinds::GIT_REPOSITORY, "GitRepository source")),
        CreateWhat::Kustomization(_) => Some((kinds::KUSTOMIZATION, "Kustomization")),
        CreateWhat::Secret { .. } => None,
    };
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let Some((kind, label)) = kind else {
        printer.action("git secret")?;
        let secrets: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(client.clone(), namespace);
        secrets
            .patch(&name, &params, &Patch::Apply(&object))
            .await
            .map_err(|e| ClusterError::api(format!("applying Secret {name}"), e))?;
        printer.success(&format!(
            "git secret '{name}' created in '{namespace}' namespace"
        ))?;
        return Ok(());
    };
    printer.generate(&format!("generating {label}"))?;
    printer.action(&format!("applying {label}"))?;
    let api: Api<DynamicObject> = kind.api(client, Some(namespace));
    let applied = match api.patch(&name, &params, &Patch::Apply(&object)).await {
        Ok(applied) => applied,
        Err(e) => {
            return Err(kind
                .explain(
                    client,
                    &name,
                    namespace,
                    &format!("applying {} {name}", kind.kind),
                    e,
                )
                .await
                .into());
        }
    };
    printer.success(&format!("{label} created"))?;
    printer.waiting(&format!("waiting for {label} reconciliation"))?;
    let generation = applied.metadata.generation.map(Value::from);
    let ready = wait(client, &args.kube, kind, namespace, &name, |o| {
        o.pointer("/status/observedGeneration") == generation.as_ref()
    })
    .await?;
    if kind == kinds::KUSTOMIZATION {
        printer.success(&format!("Kustomization {name} is ready"))?;
        printer.success(&kind.success_message(&ready))?;
    } else {
        printer.success(&format!("{label} reconciliation completed"))?;
        printer.success(&format!("fetched revision: {}", kind.revision(&ready)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: CreateArgs,
    }

    fn export(argv: &str) -> Result<String, ClusterError> {
        let args = Cli::try_parse_from(std::iter::once("create").chain(argv.split_whitespace()))
            .expect("parses")
            .args;
        let object = object(&args)?;
        Ok(yaml::stream(&[object]).expect("renders"))
    }

    #[test]
    fn a_git_source_exports_as_flux_exports_it() {
        // flux's own golden file for this command line.
        let text = export(
            "source git podinfo --url=https://github.com/stefanprodan/podinfo --branch=master \
             --sparse-checkout-paths .cosign,non-existent-dir/ --ignore-paths .cosign,non-existent-dir/ -n default --interval 1m",
        )
        .expect("valid");
        assert_eq!(
            text,
            "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: podinfo\n  namespace: default\n\
             spec:\n  ignore: |-\n    .cosign\n    non-existent-dir/\n  interval: 1m0s\n  ref:\n    branch: master\n\
             \x20 sparseCheckout:\n  - .cosign\n  - non-existent-dir/\n  url: https://github.com/stefanprodan/podinfo\n"
        );
    }

    #[test]
    fn a_basic_auth_git_secret_exports_its_credentials_as_string_data() {
        let text = export(
            "secret git podinfo-auth --url=https://github.com/stefanprodan/podinfo --username=my-username --password=my-password --namespace=my-namespace",
        )
        .expect("valid");
        assert_eq!(
            text,
            "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: podinfo-auth\n  namespace: my-namespace\n\
             stringData:\n  password: my-password\n  username: my-username\n"
        );
    }

    #[test]
    fn a_kustomization_needs_a_source_and_takes_kind_name_and_namespace() {
        let err = export("kustomization my-app --path=./deploy").expect_err("no source");
        assert_eq!(err.to_string(), "invalid argument: source is required");
        let text = export("kustomization apps --source=GitRepository/fleet.infra --path=./apps --prune=true --interval=5m")
            .expect("valid");
        assert!(
            text.contains("  interval: 5m0s\n  path: ./apps\n  prune: true\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "  sourceRef:\n    kind: GitRepository\n    name: fleet\n    namespace: infra\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_git_source_without_a_ref_is_refused() {
        let err = export("source git podinfo --url=https://example.com/repo").expect_err("no ref");
        assert!(err.to_string().contains("a Git ref is required"), "{err}");
    }
}
