//! `ResourceManager::diff_all`, Flux's `ResourceManager.Diff` over a set: what applying each
//! object would do, found by a server-side apply dry-run and compared with the live object. A
//! drifted object comes back with both sides, managed fields removed and — for Secrets — every
//! data value replaced by a mask that only says whether it changed, so a diff can be shown
//! without ever printing a secret.

use kube::api::DynamicObject;
use serde_json::{Map, Value};

use crate::apply::ResourceManager;
use crate::changeset::Action;
use crate::error::{ObjectFailure, SsaError, api_message};
use crate::metadata::{SsaPolicy, reconcile_disabled, ssa_policy};
use crate::object::ObjMetadata;

/// A Secret value that is the same on both sides.
pub const MASK: &str = "***";
/// A Secret value that changed, as the live side shows it.
pub const MASK_BEFORE: &str = "*** (before)";
/// A Secret value that changed, as the applied side shows it.
pub const MASK_AFTER: &str = "*** (after)";

/// What applying one object would do.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectDiff {
    /// The object.
    pub object: ObjMetadata,
    /// Its API version without the group (for inventory comparisons).
    pub version: String,
    /// `Created`, `Configured` (drifted), `Unchanged` or `Skipped`.
    pub action: Action,
    /// The live object, for `Configured` (managed fields removed, Secret data masked).
    pub live: Option<Value>,
    /// The object as the dry-run apply left it, likewise.
    pub merged: Option<Value>,
}

impl ResourceManager {
    /// Dry-runs every object of `objects` and compares it with the cluster. Objects that cannot
    /// be dry-run are reported in the second list; the others are still compared, so one bad
    /// object does not hide the drift of the rest.
    pub async fn diff_all(
        &self,
        objects: Vec<DynamicObject>,
    ) -> Result<(Vec<ObjectDiff>, Vec<ObjectFailure>), SsaError> {
        self.diff_set(objects, true).await
    }

    /// [`ResourceManager::diff_all`] with Secret values left as they are: for a caller that
    /// corrects the drift (helm-controller's drift correction patches live objects from the
    /// two sides) and never prints them.
    pub async fn diff_all_unmasked(
        &self,
        objects: Vec<DynamicObject>,
    ) -> Result<(Vec<ObjectDiff>, Vec<ObjectFailure>), SsaError> {
        self.diff_set(objects, false).await
    }

    async fn diff_set(
        &self,
        objects: Vec<DynamicObject>,
        mask: bool,
    ) -> Result<(Vec<ObjectDiff>, Vec<ObjectFailure>), SsaError> {
        let prepared = match self.prepare(objects).await {
            Ok(prepared) => prepared,
            Err(SsaError::Validation { failures }) => return Ok((Vec::new(), failures)),
            Err(other) => return Err(other),
        };
        let mut diffs = Vec::new();
        let mut failures = Vec::new();
        for p in prepared {
            let failure = |message: String| ObjectFailure {
                subject: p.meta.subject(),
                message,
            };
            let api = self.api_for(&p).filter(|_| !p.deferred);
            let Some(api) = api else {
                // Its kind or namespace comes from this same set: it can only be created.
                diffs.push(ObjectDiff {
                    object: p.meta.clone(),
                    version: p.gvk.version.clone(),
                    action: Action::Created,
                    live: None,
                    merged: None,
                });
                continue;
            };
            let name = &p.meta.name;
            let live = match api.get_opt(name).await {
                Ok(live) => live,
                Err(e) => {
                    failures.push(failure(api_message(&e)));
                    continue;
                }
            };
            let policy = ssa_policy(&p.object.metadata);
            let skip = reconcile_disabled(&p.object.metadata)
                || live
                    .as_ref()
                    .is_some_and(|l| reconcile_disabled(&l.metadata))
                || policy == SsaPolicy::Ignore
                || (policy == SsaPolicy::IfNotPresent && live.is_some());
            let (action, live, merged) = if skip {
                (Action::Skipped, None, None)
            } else {
                let params = kube::api::PatchParams::apply(&self.options.field_manager)
                    .force()
                    .dry_run();
                match api
                    .patch(name, &params, &kube::api::Patch::Apply(&p.object))
                    .await
                {
                    Err(e) => {
                        failures.push(failure(api_message(&e)));
                        continue;
                    }
                    Ok(dry) => match live {
                        None => (Action::Created, None, None),
                        Some(live) => {
                            let (live, merged) = comparable(&live, &dry);
                            if live == merged {
                                (Action::Unchanged, None, None)
                            } else {
                                let (live, merged) = if mask {
                                    masked(live, merged)
                                } else {
                                    (live, merged)
                                };
                                (Action::Configured, Some(live), Some(merged))
                            }
                        }
                    },
                }
            };
            diffs.push(ObjectDiff {
                object: p.meta.clone(),
                version: p.gvk.version.clone(),
                action,
                live,
                merged,
            });
        }
        Ok((diffs, failures))
    }
}

/// Both sides without managed fields (who owns a field is not drift a user can act on), and
/// without `status`, `metadata.resourceVersion` and `metadata.generation`, as Flux compares
/// them: those are the server's and the controllers' to write, and they may change between the
/// live read and the dry-run (a Deployment's `readyReplicas` and the resourceVersion its status
/// update bumps), which would otherwise be reported as drift at random.
fn comparable(live: &DynamicObject, dry: &DynamicObject) -> (Value, Value) {
    let strip = |object: &DynamicObject| {
        let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            for server_written in ["managedFields", "resourceVersion", "generation"] {
                meta.remove(server_written);
            }
        }
        if let Some(object) = value.as_object_mut() {
            object.remove("status");
        }
        value
    };
    (strip(live), strip(dry))
}

/// For Secrets, every `data`/`stringData` value replaced by [`MASK`], or by [`MASK_BEFORE`] /
/// [`MASK_AFTER`] where the two sides differ.
pub fn masked(mut live: Value, mut merged: Value) -> (Value, Value) {
    if live.get("kind").and_then(Value::as_str) != Some("Secret") {
        return (live, merged);
    }
    for field in ["data", "stringData"] {
        let before = live.get(field).and_then(Value::as_object).cloned();
        let after = merged.get(field).and_then(Value::as_object).cloned();
        let mask = |own: &Option<Map<String, Value>>,
                    other: &Option<Map<String, Value>>,
                    changed: &str| {
            own.as_ref().map(|own| {
                own.iter()
                    .map(|(k, v)| {
                        let same = other.as_ref().and_then(|o| o.get(k)) == Some(v);
                        let shown = if same { MASK } else { changed };
                        (k.clone(), Value::String(shown.to_owned()))
                    })
                    .collect::<Map<String, Value>>()
            })
        };
        if let (Some(m), Some(obj)) = (mask(&before, &after, MASK_BEFORE), live.as_object_mut()) {
            obj.insert(field.to_owned(), Value::Object(m));
        }
        if let (Some(m), Some(obj)) = (mask(&after, &before, MASK_AFTER), merged.as_object_mut()) {
            obj.insert(field.to_owned(), Value::Object(m));
        }
    }
    (live, merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_values_are_masked_and_only_say_whether_they_changed() {
        let live =
            json!({"kind": "Secret", "data": {"same": "c2FtZQ==", "old": "b2xk", "gone": "eA=="}});
        let merged =
            json!({"kind": "Secret", "data": {"same": "c2FtZQ==", "old": "bmV3", "added": "eQ=="}});
        let (live, merged) = masked(live, merged);
        assert_eq!(
            live["data"],
            json!({"same": MASK, "old": MASK_BEFORE, "gone": MASK_BEFORE})
        );
        assert_eq!(
            merged["data"],
            json!({"same": MASK, "old": MASK_AFTER, "added": MASK_AFTER})
        );
        let text = format!("{live}{merged}");
        for secret in ["c2FtZQ==", "b2xk", "bmV3", "eA==", "eQ=="] {
            assert!(!text.contains(secret), "{secret} leaked");
        }
    }

    #[test]
    fn status_and_server_written_metadata_are_not_compared() {
        let object = |status: Value, manager: &str| -> DynamicObject {
            serde_json::from_value(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "managedFields": [{"manager": manager}],
                             "resourceVersion": manager, "generation": manager.len()},
                "spec": {"replicas": 1}, "status": status,
            }))
            .expect("a Deployment")
        };
        let live = object(json!({"replicas": 1}), "kubectl");
        let dry = object(json!({"replicas": 1, "readyReplicas": 1}), "flux");
        let (live, merged) = comparable(&live, &dry);
        assert_eq!(live, merged);
        assert!(live.get("status").is_none());
    }

    #[test]
    fn other_kinds_are_left_as_they_are() {
        let cm = json!({"kind": "ConfigMap", "data": {"k": "v"}});
        assert_eq!(masked(cm.clone(), cm.clone()), (cm.clone(), cm));
    }
}
