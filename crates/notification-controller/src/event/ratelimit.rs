//! Flux's duplicate-event limiter: one event per key per `--rate-limit-interval`, the key a
//! SHA-256 over the involved object (name, namespace, kind), the message and, when present, the
//! revision, origin revision and token metadata. A duplicate is answered 429 and sent nowhere;
//! Flux's sender does not retry a 429.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use driftless_notify::Event;
use sha2::{Digest, Sha256};

/// Past this many remembered keys, expired ones are swept on insert (bounded memory).
const SWEEP_THRESHOLD: usize = 4096;

/// The de-duplication key of an ingested event (controller metadata already unprefixed).
pub fn event_key(event: &Event) -> String {
    let object = &event.involved_object;
    let mut parts = vec![
        "event".to_owned(),
        format!("name={}", object.name),
        format!("namespace={}", object.namespace),
        format!("kind={}", object.kind),
        format!("message={}", event.message),
    ];
    for key in ["originRevision", "revision", "token"] {
        if let Some(value) = event.metadata.get(key) {
            parts.push(format!("{key}={value}"));
        }
    }
    hex::encode(Sha256::digest(parts.join("/").as_bytes()))
}

/// Remembers when each key was last admitted.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    admitted: Mutex<HashMap<String, Instant>>,
}

impl RateLimiter {
    /// A limiter admitting one event per key per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            admitted: Mutex::new(HashMap::new()),
        }
    }

    /// Whether an event with `key` may pass at `now`; admitting it starts a new window.
    pub fn admit(&self, key: &str, now: Instant) -> bool {
        let mut admitted = self
            .admitted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(last) = admitted.get(key)
            && now.saturating_duration_since(*last) < self.interval
        {
            return false;
        }
        if admitted.len() >= SWEEP_THRESHOLD {
            let interval = self.interval;
            admitted.retain(|_, last| now.saturating_duration_since(*last) < interval);
        }
        admitted.insert(key.to_owned(), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use driftless_notify::ObjectRef;

    use super::*;

    fn event(message: &str, revision: Option<&str>) -> Event {
        let mut e = Event {
            involved_object: ObjectRef {
                kind: "Kustomization".into(),
                namespace: "apps".into(),
                name: "web".into(),
                ..ObjectRef::default()
            },
            message: message.into(),
            ..Event::default()
        };
        if let Some(r) = revision {
            e.metadata.insert("revision".into(), r.into());
        }
        e
    }

    #[test]
    fn the_key_covers_object_message_and_revision_but_not_time_or_reason() {
        let a = event("boom", Some("r1"));
        let mut later = a.clone();
        later.timestamp = "2030-01-01T00:00:00Z".into();
        later.reason = "Other".into();
        assert_eq!(event_key(&a), event_key(&later));
        assert_ne!(event_key(&a), event_key(&event("boom", Some("r2"))));
        assert_ne!(event_key(&a), event_key(&event("bang", Some("r1"))));
        assert_ne!(event_key(&a), event_key(&event("boom", None)));
        assert_eq!(event_key(&a).len(), 64);
    }

    #[test]
    fn a_duplicate_within_the_interval_is_refused_and_admitted_after_it() {
        let limiter = RateLimiter::new(Duration::from_secs(300));
        let t0 = Instant::now();
        assert!(limiter.admit("k", t0));
        assert!(!limiter.admit("k", t0 + Duration::from_secs(299)));
        assert!(limiter.admit("other", t0 + Duration::from_secs(1)));
        assert!(limiter.admit("k", t0 + Duration::from_secs(300)));
    }

    #[test]
    fn expired_keys_are_swept_once_many_are_remembered() {
        let limiter = RateLimiter::new(Duration::from_secs(1));
        let t0 = Instant::now();
        for i in 0..SWEEP_THRESHOLD {
            assert!(limiter.admit(&i.to_string(), t0));
        }
        assert!(limiter.admit("late", t0 + Duration::from_secs(2)));
        let remembered = limiter.admitted.lock().map(|m| m.len()).unwrap_or_default();
        assert_eq!(remembered, 1);
    }
}
