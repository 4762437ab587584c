//! `driftless events [--for Kind/name] [-A]`: the Kubernetes Events of Flux objects, oldest first,
//! in flux's columns (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE); with `--for`, the events of the
//! object's source too.

use clap::Args;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};

use super::CommandError;
use super::cluster::{ClusterError, KubeArgs, block_on};
use super::kinds::{self, FluxKind};
use super::output::{Printer, table};
use super::reconcile::source_of;
use super::target::fetch;

/// Arguments of `driftless events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Show events across all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Only the events of one object or kind: `<kind>[/<name>]`.
    #[arg(long = "for")]
    pub for_object: Option<String>,
    /// Only events of these types (Normal, Warning).
    #[arg(long = "types", value_delimiter = ',')]
    pub types: Vec<String>,
}

/// Runs `driftless events`.
pub fn run(args: &EventsArgs) -> Result<(), CommandError> {
    block_on(async {
        let client = args.kube.client().await?;
        events(&client, args, &mut Printer::stdio()).await
    })
}

/// Prints the table, or flux's "No events found" line.
pub async fn events(
    client: &kube::Client,
    args: &EventsArgs,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    for t in &args.types {
        if !t.eq_ignore_ascii_case("Normal") && !t.eq_ignore_ascii_case("Warning") {
            return Err(ClusterError::Invalid(format!("type '{t}' not supported")).into());
        }
    }
    let namespace = (!args.all_namespaces).then_some(args.kube.namespace.as_str());
    // (namespace, field selector) of every list to make.
    let mut queries: Vec<(Option<String>, Option<String>)> = Vec::new();
    let mut other_namespace = false;
    match &args.for_object {
        None => queries.push((namespace.map(str::to_owned), None)),
        Some(selector) => {
            let (kind_name, name) = selector.split_once('/').unwrap_or((selector, ""));
            let kind = FluxKind::by_name(kind_name).ok_or_else(|| {
                ClusterError::Invalid("--for selector must be of format <kind>[/<name>]".into())
            })?;
            queries.push((namespace.map(str::to_owned), Some(involved(kind, name))));
            if !name.is_empty() {
                let object = fetch(client, kind, &args.kube.namespace, name).await?;
                if let Ok((source, source_ns, source_name)) =
                    source_of(&object, &args.kube.namespace)
                {
                    other_namespace = source_ns != args.kube.namespace;
                    queries.push((Some(source_ns), Some(involved(source, &source_name))));
                }
            }
        }
    }
    let mut found: Vec<Event> = Vec::new();
    for (ns, fields) in queries {
        let api: Api<Event> = match &ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let mut params = ListParams::default();
        if let Some(fields) = &fields {
            params = params.fields(fields);
        }
        let list = api
            .list(&params)
            .await
            .map_err(|e| ClusterError::api("listing events", e))?;
        found.extend(list.items);
    }
    found.retain(|e| is_shown(e, &args.types));
    found.sort_by_key(event_time);
    let show_namespace = args.all_namespaces || other_namespace;
    if found.is_empty() {
        let what = match namespace {
            Some(ns) => format!("No events found in {ns} namespace."),
            None => "No events found.".to_owned(),
        };
        return printer.failure(&what);
    }
    let now = Timestamp::now();
    let rows: Vec<Vec<String>> = found.iter().map(|e| row(e, show_namespace, now)).collect();
    let mut header = vec!["Last seen", "Type", "Reason", "Object", "Message"];
    if show_namespace {
        header.insert(0, "Namespace");
    }
    printer.print(&table(&header, &rows))
}

fn involved(kind: FluxKind, name: &str) -> String {
    if name.is_empty() {
        format!("involvedObject.kind={}", kind.kind)
    } else {
        format!(
            "involvedObject.kind={},involvedObject.name={name}",
            kind.kind
        )
    }
}

/// Flux shows only events about its own kinds, filtered by `--types`.
fn is_shown(event: &Event, types: &[String]) -> bool {
    let kind = event.involved_object.kind.as_deref().unwrap_or_default();
    let flux_kind = kinds::ALL.iter().any(|k| k.kind == kind)
        || ["ImageRepository", "ImagePolicy", "ImageUpdateAutomation"].contains(&kind);
    let event_type = event.type_.as_deref().unwrap_or_default();
    flux_kind && (types.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case(event_type)))
}

/// The time an event sorts by: its series' last observation, else its last timestamp, else
/// its event time.
fn event_time(event: &Event) -> Option<Timestamp> {
    event
        .series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref().map(|t| t.0))
        .or_else(|| event.last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
}

fn row(event: &Event, show_namespace: bool, now: Timestamp) -> Vec<String> {
    let mut row = Vec::new();
    if show_namespace {
        row.push(event.metadata.namespace.clone().unwrap_or_default());
    }
    let since = |t: Option<Timestamp>| t.map_or("<unknown>".to_owned(), |t| human_duration(now, t));
    let first = event
        .event_time
        .as_ref()
        .map(|t| t.0)
        .or_else(|| event.first_timestamp.as_ref().map(|t| t.0));
    let count = event.count.unwrap_or(0);
    let last_seen = if let Some(series) = &event.series {
        format!(
            "{} (x{} over {})",
            since(series.last_observed_time.as_ref().map(|t| t.0)),
            series.count.unwrap_or(0),
            since(first)
        )
    } else if count > 1 {
        format!(
            "{} (x{count} over {})",
            since(event.last_timestamp.as_ref().map(|t| t.0)),
            since(first)
        )
    } else {
        since(first)
    };
    let object = &event.involved_object;
    row.extend([
        last_seen,
        event.type_.clone().unwrap_or_default(),
        event.reason.clone().unwrap_or_default(),
        format!(
            "{}/{}",
            object.kind.as_deref().unwrap_or_default(),
            object.name.as_deref().unwrap_or_default()
        ),
        event.message.clone().unwrap_or_default(),
    ]);
    row
}

/// Kubernetes' human-readable age ("45s", "3m20s", "2h5m", "4d"), as kubectl and flux print it.
pub fn human_duration(now: Timestamp, then: Timestamp) -> String {
    let seconds = now.as_second() - then.as_second();
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        };
    }
    if days < 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if years < 8 {
        return match days % 365 {
            0 => format!("{years}y"),
            d => format!("{years}y{d}d"),
        };
    }
    format!("{years}y")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ago(seconds: i64) -> String {
        let now = Timestamp::from_second(10_000_000_000).expect("valid");
        let then = Timestamp::from_second(10_000_000_000 - seconds).expect("valid");
        human_duration(now, then)
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(ago(45), "45s");
        assert_eq!(ago(119), "119s");
        assert_eq!(ago(200), "3m20s");
        assert_eq!(ago(600), "10m");
        assert_eq!(ago(3 * 3600 + 300), "3h5m");
        assert_eq!(ago(30 * 3600), "30h");
        assert_eq!(ago(4 * 86400), "4d");
        assert_eq!(ago(100 * 86400), "100d");
        assert_eq!(ago(-5), "<invalid>");
    }

    fn event(kind: &str, type_: &str) -> Event {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "e", "namespace": "apps"},
            "involvedObject": {"kind": kind, "name": "podinfo"},
            "type": type_, "reason": "ReconciliationSucceeded", "message": "done", "count": 1
        }))
        .expect("an event")
    }

    #[test]
    fn only_events_of_flux_kinds_and_asked_types_are_shown() {
        assert!(is_shown(&event("Kustomization", "Normal"), &[]));
        assert!(!is_shown(&event("Pod", "Normal"), &[]));
        assert!(!is_shown(
            &event("Kustomization", "Normal"),
            &["warning".to_owned()]
        ));
    }

    #[test]
    fn an_event_without_timestamps_is_of_unknown_age() {
        let row = row(&event("Kustomization", "Normal"), false, Timestamp::now());
        assert_eq!(
            row,
            [
                "<unknown>",
                "Normal",
                "ReconciliationSucceeded",
                "Kustomization/podinfo",
                "done"
            ]
        );
    }
}
