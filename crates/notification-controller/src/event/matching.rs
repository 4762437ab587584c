//! Which Alerts an event matches, as Flux decides: an event source matches when its kind and
//! namespace (the Alert's when unset) are the event object's, its name is the object's or `*`,
//! and its `apiVersion`, when set, is the object's; `matchLabels` are then checked against the
//! live object (see `dispatch`). The Alert's severity lets `info` through for `info` and `error`
//! events and only errors for `error`; a message must match one `inclusionList` regex when the
//! list is set and none of `exclusionList` (exclusion wins).

use std::collections::BTreeMap;

use driftless_api::notification::{Alert, EventSeverity, EventSourceReference};

use crate::kinds::kind_name;
use driftless_notify::Event;
use kube::ResourceExt;
use regex::Regex;

/// Whether an Alert of `alert` severity forwards an event of `severity`.
pub fn severity_passes(alert: EventSeverity, severity: &str) -> bool {
    match alert {
        EventSeverity::Info => true,
        EventSeverity::Error => severity == "error",
    }
}

/// How one Alert relates to one event, before its label selectors are checked.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// Not for this Alert.
    No,
    /// Matched by a source without labels.
    Yes,
    /// Matched only if the live object carries one of these label sets.
    IfLabels(Vec<&'a BTreeMap<String, String>>),
}

/// Whether `source` of an Alert in `alert_namespace` names the event's object (labels aside).
pub fn source_names_object(
    source: &EventSourceReference,
    alert_namespace: &str,
    event: &Event,
    no_cross_namespace_refs: bool,
) -> bool {
    let object = &event.involved_object;
    let namespace = source.namespace.as_deref().unwrap_or(alert_namespace);
    if no_cross_namespace_refs && namespace != alert_namespace {
        return false;
    }
    namespace == object.namespace
        && kind_name(source.kind) == object.kind
        && (source.name == "*" || source.name == object.name)
        && source
            .api_version
            .as_deref()
            .is_none_or(|v| Some(v) == object.api_version.as_deref())
}

/// An Alert against an event: suspension, severity, sources, then the message filters.
/// Invalid regexes are errors naming the expression; Flux skips such an Alert.
pub fn judge<'a>(
    alert: &'a Alert,
    event: &Event,
    no_cross_namespace_refs: bool,
) -> Result<Verdict<'a>, regex::Error> {
    let spec = &alert.spec;
    if spec.suspend.unwrap_or(false)
        || !severity_passes(spec.event_severity.unwrap_or_default(), &event.severity)
    {
        return Ok(Verdict::No);
    }
    let namespace = alert.namespace().unwrap_or_default();
    let mut label_sets = Vec::new();
    let mut plain = false;
    for source in spec
        .event_sources
        .iter()
        .filter(|s| source_names_object(s, &namespace, event, no_cross_namespace_refs))
    {
        match source.match_labels.as_ref().filter(|l| !l.is_empty()) {
            Some(labels) if source.name == "*" => label_sets.push(labels),
            _ => plain = true,
        }
    }
    if !plain && label_sets.is_empty() {
        return Ok(Verdict::No);
    }
    if !message_passes(
        spec.inclusion_list.as_deref(),
        spec.exclusion_list.as_deref(),
        &event.message,
    )? {
        return Ok(Verdict::No);
    }
    Ok(if plain {
        Verdict::Yes
    } else {
        Verdict::IfLabels(label_sets)
    })
}

/// The inclusion and exclusion lists against `message`.
pub fn message_passes(
    inclusion: Option<&[String]>,
    exclusion: Option<&[String]>,
    message: &str,
) -> Result<bool, regex::Error> {
    if let Some(inclusion) = inclusion.filter(|l| !l.is_empty()) {
        let mut included = false;
        for expr in inclusion {
            if Regex::new(expr)?.is_match(message) {
                included = true;
                break;
            }
        }
        if !included {
            return Ok(false);
        }
    }
    for expr in exclusion.unwrap_or_default() {
        if Regex::new(expr)?.is_match(message) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether `labels` carries every pair of one of `label_sets`.
pub fn labels_match(
    label_sets: &[&BTreeMap<String, String>],
    labels: &BTreeMap<String, String>,
) -> bool {
    label_sets
        .iter()
        .any(|set| set.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

#[cfg(test)]
mod tests {
    use driftless_api::meta::LocalObjectReference;
    use driftless_api::notification::{AlertSpec, FluxKind};
    use driftless_notify::ObjectRef;

    use super::*;

    fn event(kind: &str, ns: &str, name: &str, severity: &str, message: &str) -> Event {
        Event {
            involved_object: ObjectRef {
                kind: kind.into(),
                namespace: ns.into(),
                name: name.into(),
                api_version: Some("kustomize.toolkit.fluxcd.io/v1".into()),
                ..ObjectRef::default()
            },
            severity: severity.into(),
            message: message.into(),
            ..Event::default()
        }
    }

    fn source(kind: FluxKind, name: &str, ns: Option<&str>) -> EventSourceReference {
        EventSourceReference {
            kind,
            name: name.into(),
            namespace: ns.map(str::to_owned),
            ..EventSourceReference::default()
        }
    }

    fn alert(sources: Vec<EventSourceReference>, spec: AlertSpec) -> Alert {
        let mut alert = Alert::new(
            "a",
            AlertSpec {
                event_sources: sources,
                provider_ref: LocalObjectReference { name: "p".into() },
                ..spec
            },
        );
        alert.metadata.namespace = Some("apps".into());
        alert
    }

    fn verdict(alert: &Alert, event: &Event) -> Verdict<'static> {
        match judge(alert, event, false).expect("valid regexes") {
            Verdict::No => Verdict::No,
            Verdict::Yes => Verdict::Yes,
            Verdict::IfLabels(_) => Verdict::IfLabels(Vec::new()),
        }
    }

    #[test]
    fn a_source_matches_by_kind_namespace_and_name_or_wildcard() {
        let ks = event("Kustomization", "apps", "web", "info", "ok");
        let exact = alert(
            vec![source(FluxKind::Kustomization, "web", None)],
            AlertSpec::default(),
        );
        let star = alert(
            vec![source(FluxKind::Kustomization, "*", None)],
            AlertSpec::default(),
        );
        let other_name = alert(
            vec![source(FluxKind::Kustomization, "api", None)],
            AlertSpec::default(),
        );
        let other_kind = alert(
            vec![source(FluxKind::GitRepository, "web", None)],
            AlertSpec::default(),
        );
        let other_ns = alert(
            vec![source(FluxKind::Kustomization, "*", Some("flux-system"))],
            AlertSpec::default(),
        );
        assert_eq!(verdict(&exact, &ks), Verdict::Yes);
        assert_eq!(verdict(&star, &ks), Verdict::Yes);
        assert_eq!(verdict(&other_name, &ks), Verdict::No);
        assert_eq!(verdict(&other_kind, &ks), Verdict::No);
        assert_eq!(verdict(&other_ns, &ks), Verdict::No);
    }

    #[test]
    fn cross_namespace_sources_are_ignored_when_refs_are_locked_down() {
        let e = event("Kustomization", "flux-system", "web", "info", "ok");
        let a = alert(
            vec![source(FluxKind::Kustomization, "*", Some("flux-system"))],
            AlertSpec::default(),
        );
        assert_eq!(judge(&a, &e, false).expect("valid"), Verdict::Yes);
        assert_eq!(judge(&a, &e, true).expect("valid"), Verdict::No);
    }

    #[test]
    fn error_alerts_take_only_errors_and_info_alerts_take_both() {
        let sources = vec![source(FluxKind::Kustomization, "*", None)];
        let errors_only = alert(
            sources.clone(),
            AlertSpec {
                event_severity: Some(EventSeverity::Error),
                ..AlertSpec::default()
            },
        );
        let info = alert(sources, AlertSpec::default());
        let ok = event("Kustomization", "apps", "web", "info", "ok");
        let failed = event("Kustomization", "apps", "web", "error", "boom");
        assert_eq!(verdict(&errors_only, &ok), Verdict::No);
        assert_eq!(verdict(&errors_only, &failed), Verdict::Yes);
        assert_eq!(verdict(&info, &ok), Verdict::Yes);
        assert_eq!(verdict(&info, &failed), Verdict::Yes);
    }

    #[test]
    fn suspended_alerts_match_nothing() {
        let a = alert(
            vec![source(FluxKind::Kustomization, "*", None)],
            AlertSpec {
                suspend: Some(true),
                ..AlertSpec::default()
            },
        );
        assert_eq!(
            verdict(&a, &event("Kustomization", "apps", "web", "error", "x")),
            Verdict::No
        );
    }

    #[test]
    fn exclusion_beats_inclusion_and_an_unmatched_inclusion_list_drops() {
        let list = |items: &[&str]| Some(items.iter().map(|s| (*s).to_owned()).collect());
        let a = alert(
            vec![source(FluxKind::Kustomization, "*", None)],
            AlertSpec {
                inclusion_list: list(&[".*succeeded.*", "^Applied"]),
                exclusion_list: list(&["waiting.*socket"]),
                ..AlertSpec::default()
            },
        );
        let e = |m: &str| event("Kustomization", "apps", "web", "info", m);
        assert_eq!(verdict(&a, &e("Applied revision: main")), Verdict::Yes);
        assert_eq!(verdict(&a, &e("upgrade succeeded")), Verdict::Yes);
        assert_eq!(verdict(&a, &e("health check failed")), Verdict::No);
        assert_eq!(verdict(&a, &e("succeeded, waiting on socket")), Verdict::No);
    }

    #[test]
    fn an_invalid_regex_is_an_error() {
        let a = alert(
            vec![source(FluxKind::Kustomization, "*", None)],
            AlertSpec {
                exclusion_list: Some(vec!["(".into()]),
                ..AlertSpec::default()
            },
        );
        assert!(
            judge(
                &a,
                &event("Kustomization", "apps", "web", "info", "x"),
                false
            )
            .is_err()
        );
    }

    #[test]
    fn wildcard_sources_with_labels_defer_to_the_live_objects_labels() {
        let labels: BTreeMap<String, String> = [("team".to_owned(), "dev".to_owned())].into();
        let mut s = source(FluxKind::Kustomization, "*", None);
        s.match_labels = Some(labels.clone());
        let a = alert(vec![s], AlertSpec::default());
        let e = event("Kustomization", "apps", "web", "info", "x");
        let Verdict::IfLabels(sets) = judge(&a, &e, false).expect("valid") else {
            unreachable!("a labelled wildcard source defers to labels")
        };
        assert!(labels_match(&sets, &labels));
        assert!(!labels_match(&sets, &BTreeMap::new()));
    }

    #[test]
    fn a_source_api_version_must_equal_the_objects() {
        let mut s = source(FluxKind::Kustomization, "*", None);
        s.api_version = Some("kustomize.toolkit.fluxcd.io/v1beta2".into());
        let a = alert(vec![s], AlertSpec::default());
        assert_eq!(
            verdict(&a, &event("Kustomization", "apps", "web", "info", "x")),
            Verdict::No
        );
    }
}
