//! Reading a Flux object's status the way the flux CLI does: its Ready condition, whether it is
//! suspended, and the kstatus verdict `reconcile` and `resume` wait on.

use serde_json::Value;

/// The condition `type_` of `object`, if it has one.
pub fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

fn field<'a>(condition: &'a Value, name: &str) -> &'a str {
    condition
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The READY and MESSAGE columns: the Ready condition's status and message, or `False` and
/// `waiting to be reconciled` for an object no controller has touched.
pub fn ready_and_message(object: &Value) -> (String, String) {
    match condition(object, "Ready") {
        Some(c) => (
            field(c, "status").to_owned(),
            field(c, "message").to_owned(),
        ),
        None => ("False".to_owned(), "waiting to be reconciled".to_owned()),
    }
}

/// Whether `spec.suspend` is true.
pub fn is_suspended(object: &Value) -> bool {
    object
        .pointer("/spec/suspend")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// `True`/`False`, as flux title-cases a Go bool.
pub fn title_bool(value: bool) -> &'static str {
    if value { "True" } else { "False" }
}

/// kstatus's verdict on a Flux object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Being deleted.
    Terminating,
    /// Not yet observed, reconciling, or Ready not True yet.
    InProgress,
    /// Stalled: it will not get better without a change.
    Failed(String),
    /// Ready=True for the current generation.
    Current,
}

/// kstatus's order: deletion, then observedGeneration, Reconciling, Stalled, Ready.
pub fn verdict(object: &Value) -> Verdict {
    if object.pointer("/metadata/deletionTimestamp").is_some() {
        return Verdict::Terminating;
    }
    let generation = object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64);
    let observed = object
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64);
    if let (Some(generation), Some(observed)) = (generation, observed)
        && generation != observed
    {
        return Verdict::InProgress;
    }
    if condition(object, "Reconciling").is_some_and(|c| field(c, "status") == "True") {
        return Verdict::InProgress;
    }
    if let Some(c) = condition(object, "Stalled").filter(|c| field(c, "status") == "True") {
        return Verdict::Failed(field(c, "message").to_owned());
    }
    match condition(object, "Ready") {
        Some(c) if field(c, "status") == "True" => Verdict::Current,
        _ => Verdict::InProgress,
    }
}

/// `status.lastHandledReconcileAt`, empty when never set.
pub fn last_handled(object: &Value) -> String {
    object
        .pointer("/status/lastHandledReconcileAt")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// `reconcile.fluxcd.io/requestedAt` now: RFC 3339 with nanoseconds, as Go's RFC3339Nano.
pub fn requested_at_now() -> String {
    jiff::Timestamp::now().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(generation: i64, observed: i64, conditions: Value) -> Value {
        json!({"metadata": {"generation": generation},
               "status": {"observedGeneration": observed, "conditions": conditions}})
    }

    #[test]
    fn an_object_without_ready_is_waiting_to_be_reconciled() {
        let (ready, message) = ready_and_message(&json!({"status": {}}));
        assert_eq!(
            (ready.as_str(), message.as_str()),
            ("False", "waiting to be reconciled")
        );
    }

    #[test]
    fn an_unobserved_generation_is_in_progress_even_when_ready() {
        let ready = json!([{"type": "Ready", "status": "True", "message": "ok"}]);
        assert_eq!(verdict(&object(2, 1, ready.clone())), Verdict::InProgress);
        assert_eq!(verdict(&object(2, 2, ready)), Verdict::Current);
    }

    #[test]
    fn stalled_is_failed_with_its_message_and_reconciling_wins_over_it() {
        let stalled = json!([{"type": "Stalled", "status": "True", "message": "bad path"},
                             {"type": "Ready", "status": "False", "message": "bad path"}]);
        assert_eq!(
            verdict(&object(1, 1, stalled)),
            Verdict::Failed("bad path".into())
        );
        let reconciling = json!([{"type": "Reconciling", "status": "True"},
                                 {"type": "Stalled", "status": "True"}]);
        assert_eq!(verdict(&object(1, 1, reconciling)), Verdict::InProgress);
    }

    #[test]
    fn a_deleted_object_is_terminating() {
        let deleting = json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}});
        assert_eq!(verdict(&deleting), Verdict::Terminating);
    }

    #[test]
    fn requested_at_is_an_rfc3339_timestamp() {
        let now = requested_at_now();
        assert!(now.parse::<jiff::Timestamp>().is_ok(), "{now}");
        assert!(now.ends_with('Z'), "{now}");
    }
}
