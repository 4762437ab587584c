//! `driftless get sources git|…`, `get kustomizations`, `get helmreleases`, `get all`: flux's
//! status tables (NAME, REVISION, SUSPENDED, READY, MESSAGE), `-A`, `--watch`.

use clap::{Args, Subcommand};
use futures::StreamExt;
use kube::api::{DynamicObject, ListParams};
use kube::runtime::watcher;
use serde_json::Value;

use super::CommandError;
use super::cluster::{ClusterError, KubeArgs, block_on, is_not_found};
use super::kinds::{self, FluxKind};
use super::output::{Printer, table, truncate_hex};
use super::status::{is_suspended, ready_and_message, title_bool};

/// Arguments of `driftless get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// List the requested object(s) across all namespaces.
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,
    /// Skip the header when printing the results.
    #[arg(long, global = true)]
    pub no_header: bool,
    /// After listing the requested objects, watch for changes (until --timeout).
    #[arg(short = 'w', long, global = true)]
    pub watch: bool,
    /// Filter objects by label selector.
    #[arg(short = 'l', long, global = true)]
    pub label_selector: Option<String>,
    /// Filter by a status condition, e.g. ready=false or ready!=true.
    #[arg(long, global = true)]
    pub status_selector: Option<String>,
    #[command(subcommand)]
    pub what: GetWhat,
}

/// What `driftless get` lists.
#[derive(Debug, Subcommand)]
pub enum GetWhat {
    /// Sources (git, oci, bucket, helm, chart, all).
    #[command(alias = "source")]
    Sources {
        #[command(subcommand)]
        kind: SourceKind,
    },
    /// Kustomizations.
    #[command(aliases = ["ks", "kustomization"])]
    Kustomizations { name: Option<String> },
    /// HelmReleases.
    #[command(aliases = ["hr", "helmrelease"])]
    Helmreleases { name: Option<String> },
    /// Receivers.
    #[command(aliases = ["receiver"])]
    Receivers { name: Option<String> },
    /// Alert Providers.
    #[command(aliases = ["alert-provider"])]
    AlertProviders { name: Option<String> },
    /// Alerts.
    #[command(aliases = ["alert"])]
    Alerts { name: Option<String> },
    /// Every source, HelmRelease, Kustomization, Receiver, Provider and Alert.
    All,
}

/// The source kinds of `get sources`.
#[derive(Debug, Subcommand)]
pub enum SourceKind {
    Git {
        name: Option<String>,
    },
    Oci {
        name: Option<String>,
    },
    Bucket {
        name: Option<String>,
    },
    Helm {
        name: Option<String>,
    },
    Chart {
        name: Option<String>,
    },
    /// Every source kind.
    All,
}

/// Runs `driftless get`.
pub fn run(args: &GetArgs) -> Result<(), CommandError> {
    block_on(async {
        let client = args.kube.client().await?;
        get(&client, args, &mut Printer::stdio()).await
    })
}

/// Lists (and with `--watch` follows) what `args` asks for.
pub async fn get(
    client: &kube::Client,
    args: &GetArgs,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    let (kinds, name, all): (Vec<FluxKind>, Option<&str>, bool) = match &args.what {
        GetWhat::Sources { kind } => match kind {
            SourceKind::Git { name } => (vec![kinds::GIT_REPOSITORY], name.as_deref(), false),
            SourceKind::Oci { name } => (vec![kinds::OCI_REPOSITORY], name.as_deref(), false),
            SourceKind::Bucket { name } => (vec![kinds::BUCKET], name.as_deref(), false),
            SourceKind::Helm { name } => (vec![kinds::HELM_REPOSITORY], name.as_deref(), false),
            SourceKind::Chart { name } => (vec![kinds::HELM_CHART], name.as_deref(), false),
            SourceKind::All => (kinds::SOURCES.to_vec(), None, true),
        },
        GetWhat::Kustomizations { name } => (vec![kinds::KUSTOMIZATION], name.as_deref(), false),
        GetWhat::Helmreleases { name } => (vec![kinds::HELM_RELEASE], name.as_deref(), false),
        GetWhat::Receivers { name } => (vec![kinds::RECEIVER], name.as_deref(), false),
        GetWhat::AlertProviders { name } => (vec![kinds::PROVIDER], name.as_deref(), false),
        GetWhat::Alerts { name } => (vec![kinds::ALERT], name.as_deref(), false),
        GetWhat::All => {
            let mut all = kinds::SOURCES.to_vec();
            all.extend([
                kinds::HELM_RELEASE,
                kinds::KUSTOMIZATION,
                kinds::RECEIVER,
                kinds::PROVIDER,
                kinds::ALERT,
            ]);
            (all, None, true)
        }
    };
    let selector = StatusSelector::parse(args.status_selector.as_deref())?;
    if args.watch {
        let [kind] = kinds.as_slice() else {
            return Err(
                ClusterError::Invalid("--watch needs a single resource type".into()).into(),
            );
        };
        return watch(client, args, *kind, printer).await;
    }
    for kind in kinds {
        let listed = list(client, args, kind, name).await;
        let objects = match listed {
            Err(e) if all && is_not_found(&e) => continue,
            Err(e) if is_not_found(&e) => return Err(kind.crd_missing().into()),
            Err(e) => return Err(ClusterError::api(format!("listing {}", kind.plural), e).into()),
            Ok(objects) => objects,
        };
        if objects.is_empty() {
            if all {
                continue;
            }
            let namespace = scope(args);
            return Err(match name {
                Some(name) => ClusterError::NotFound {
                    kind: kind.kind.to_owned(),
                    name: name.to_owned(),
                    namespace: args.kube.namespace.clone(),
                },
                None => ClusterError::NoneFound {
                    kind: kind.kind.to_owned(),
                    namespace,
                },
            }
            .into());
        }
        let rows: Vec<Vec<String>> = objects
            .iter()
            .filter(|o| selector.matches(kind, o))
            .map(|o| row(kind, o, args.all_namespaces, all))
            .collect();
        if all && rows.is_empty() {
            continue;
        }
        printer.print(&table(&header(args, kind), &rows))?;
        if all {
            printer.print("\n")?;
        }
    }
    Ok(())
}

/// `"ns"` or `any`, as flux quotes the scope in "no objects found".
fn scope(args: &GetArgs) -> String {
    if args.all_namespaces {
        "any".to_owned()
    } else {
        format!("{:?}", args.kube.namespace)
    }
}

/// Flux's columns per kind: notification kinds have no revision, Providers no suspend.
fn header(args: &GetArgs, kind: FluxKind) -> Vec<&'static str> {
    if args.no_header {
        return Vec::new();
    }
    let mut header = match kind.kind {
        "Receiver" | "Alert" => vec!["Name", "Suspended", "Ready", "Message"],
        "Provider" => vec!["Name", "Ready", "Message"],
        _ => vec!["Name", "Revision", "Suspended", "Ready", "Message"],
    };
    if args.all_namespaces {
        header.insert(0, "Namespace");
    }
    header
}

async fn list(
    client: &kube::Client,
    args: &GetArgs,
    kind: FluxKind,
    name: Option<&str>,
) -> Result<Vec<Value>, kube::Error> {
    let namespace = (!args.all_namespaces).then_some(args.kube.namespace.as_str());
    let mut params = ListParams::default();
    if let Some(name) = name {
        params = params.fields(&format!("metadata.name={name}"));
    }
    if let Some(labels) = &args.label_selector {
        params = params.labels(labels);
    }
    let list = kind.api(client, namespace).list(&params).await?;
    let mut objects: Vec<Value> = list
        .items
        .into_iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .collect();
    objects.sort_by_key(|o| (meta(o, "namespace"), meta(o, "name")));
    Ok(objects)
}

fn meta(object: &Value, field: &str) -> String {
    object
        .pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// One row: [NAMESPACE,] NAME (`kind/name` in `get all`), REVISION, SUSPENDED, READY, MESSAGE.
pub fn row(kind: FluxKind, object: &Value, with_namespace: bool, with_kind: bool) -> Vec<String> {
    let mut row = Vec::new();
    if with_namespace {
        row.push(meta(object, "namespace"));
    }
    let name = meta(object, "name");
    row.push(if with_kind {
        format!("{}/{name}", kind.kind.to_lowercase())
    } else {
        name
    });
    let suspended = title_bool(is_suspended(object)).to_owned();
    // Alerts and Providers have no status flux reads: it always calls them Ready.
    match kind.kind {
        "Alert" => row.extend([suspended, "True".into(), "Alert is Ready".into()]),
        "Provider" => row.extend(["True".to_owned(), "Provider is Ready".into()]),
        "Receiver" => {
            let (ready, message) = ready_and_message(object);
            row.extend([suspended, ready, message]);
        }
        _ => {
            let (ready, message) = ready_and_message(object);
            row.extend([
                truncate_hex(&kind.revision(object)),
                suspended,
                ready,
                truncate_hex(&message),
            ]);
        }
    }
    row
}

/// `--status-selector type=status` or `type!=status`, both case-insensitive.
#[derive(Debug, Default)]
struct StatusSelector {
    rule: Option<(String, String, bool)>,
}

impl StatusSelector {
    fn parse(text: Option<&str>) -> Result<Self, ClusterError> {
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            return Ok(Self::default());
        };
        let (separator, negated) = if text.contains("!=") {
            ("!=", true)
        } else {
            ("=", false)
        };
        let (type_, status) = text.split_once(separator).ok_or_else(|| {
            ClusterError::Invalid(format!(
                "expected status selector in type=status or type!=status format, but found: {text}"
            ))
        })?;
        Ok(Self {
            rule: Some((type_.to_owned(), status.to_owned(), negated)),
        })
    }

    fn matches(&self, kind: FluxKind, object: &Value) -> bool {
        let Some((type_, status, negated)) = &self.rule else {
            return true;
        };
        if kind == kinds::ALERT || kind == kinds::PROVIDER {
            let ready = type_.eq_ignore_ascii_case("ready") && status.eq_ignore_ascii_case("true");
            return ready != *negated;
        }
        let found = object
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|conditions| {
                conditions.iter().rev().find(|c| {
                    c.get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.eq_ignore_ascii_case(type_))
                })
            })
            .and_then(|c| c.get("status").and_then(Value::as_str))
            .is_some_and(|s| s.eq_ignore_ascii_case(status));
        found != *negated
    }
}

/// Prints the current objects, then one row per change, each as its own table, until the
/// timeout ends the watch (as flux's watch ends with its context).
async fn watch(
    client: &kube::Client,
    args: &GetArgs,
    kind: FluxKind,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    let namespace = (!args.all_namespaces).then_some(args.kube.namespace.as_str());
    let mut config = watcher::Config::default();
    if let Some(labels) = &args.label_selector {
        config = config.labels(labels);
    }
    let stream = watcher::watcher(kind.api(client, namespace), config);
    let mut stream = std::pin::pin!(stream);
    let deadline = tokio::time::sleep(args.kube.timeout.get());
    let mut deadline = std::pin::pin!(deadline);
    let mut first = true;
    loop {
        let event = tokio::select! {
            () = &mut deadline => return Ok(()),
            event = stream.next() => event,
        };
        let object: DynamicObject = match event {
            None => return Ok(()),
            Some(Err(
                watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e),
            )) if is_not_found(&e) => {
                return Err(kind.crd_missing().into());
            }
            Some(Err(e)) => {
                return Err(ClusterError::Failed(format!("watching {}: {e}", kind.plural)).into());
            }
            Some(Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o))) => o,
            Some(Ok(_)) => continue,
        };
        let value = serde_json::to_value(object).unwrap_or(Value::Null);
        let header = if first {
            header(args, kind)
        } else {
            Vec::new()
        };
        first = false;
        printer.print(&table(
            &header,
            &[row(kind, &value, args.all_namespaces, false)],
        ))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn git_repository() -> Value {
        json!({
            "metadata": {"name": "podinfo", "namespace": "apps"},
            "spec": {"suspend": true},
            "status": {
                "artifact": {"revision": "main@sha1:696f056df216eea4f9401adbee0ff744d4df390f"},
                "conditions": [{"type": "Ready", "status": "True",
                    "message": "stored artifact for revision 'main@sha1:696f056df216eea4f9401adbee0ff744d4df390f'"}]
            }
        })
    }

    #[test]
    fn a_row_has_flux_columns_with_short_revisions() {
        assert_eq!(
            row(kinds::GIT_REPOSITORY, &git_repository(), false, false),
            vec![
                "podinfo",
                "main@sha1:696f056d",
                "True",
                "True",
                "stored artifact for revision 'main@sha1:696f056d'"
            ]
        );
    }

    #[test]
    fn get_all_rows_name_the_kind_and_all_namespaces_adds_the_namespace() {
        let row = row(kinds::GIT_REPOSITORY, &git_repository(), true, true);
        assert_eq!(row[0], "apps");
        assert_eq!(row[1], "gitrepository/podinfo");
    }

    #[test]
    fn alerts_and_providers_are_always_ready_as_flux_shows_them() {
        let alert = json!({"metadata": {"name": "old", "namespace": "n"}, "spec": {}});
        assert_eq!(
            row(kinds::ALERT, &alert, false, true),
            ["alert/old", "False", "True", "Alert is Ready"]
        );
        assert_eq!(
            row(kinds::PROVIDER, &alert, false, false),
            ["old", "True", "Provider is Ready"]
        );
    }

    #[test]
    fn the_status_selector_matches_case_insensitively_and_negates() {
        let object = git_repository();
        let ready = StatusSelector::parse(Some("ready=true")).expect("parses");
        assert!(ready.matches(kinds::GIT_REPOSITORY, &object));
        assert!(ready.matches(kinds::ALERT, &json!({})));
        let not_ready = StatusSelector::parse(Some("ready!=true")).expect("parses");
        assert!(!not_ready.matches(kinds::GIT_REPOSITORY, &object));
        assert!(StatusSelector::parse(Some("ready")).is_err());
    }
}
