//! Validation before anything changes: resolve every object, default namespaces, reject
//! duplicates, then dry-run each object with server-side apply and decide what applying it would
//! do, as `ResourceManager.Apply` decides with its dry-run and drift comparison.

use std::collections::{BTreeSet, HashMap};

use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::Value;

use crate::apply::ResourceManager;
use crate::cleanup::cleanup_patch;
use crate::error::{ObjectFailure, SsaError, api_message, is_immutable};
use crate::metadata::{SsaPolicy, force_enabled, reconcile_disabled, ssa_policy};
use crate::object::{ObjMetadata, gvk_of};
use crate::resolve::Resolved;

/// An object ready to dry-run: identity, namespace defaulted, resource resolved.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    pub object: DynamicObject,
    pub meta: ObjMetadata,
    pub gvk: GroupVersionKind,
    /// None while deferred: its kind is defined by a CRD in the same set.
    pub resolved: Option<Resolved>,
    /// Needs a CRD or Namespace from this set; validated once the first stage is applied.
    pub deferred: bool,
}

/// What applying one object will do.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Plan {
    /// `ssa: Ignore`, `reconcile: disabled`, or `ssa: IfNotPresent` on an existing object.
    Skip,
    /// The dry-run result equals the live object; applying would only bump resourceVersion.
    Unchanged,
    /// Apply; `cleanup` is Flux's metadata cleanup, patched first (it alone makes an object
    /// `configured`, as in Flux).
    Apply {
        create: bool,
        cleanup: Option<Value>,
    },
    /// An immutable field changed and force is on: delete, then create.
    Recreate,
}

/// Live objects the caller has just read, keyed by identity (`None`: the object is absent), so
/// the dry-run does not read them again. Helm's ownership check reads every object of a release
/// right before the apply; with a thousand releases those second reads filled each kind's request
/// budget.
pub type KnownObjects = HashMap<ObjMetadata, Option<DynamicObject>>;

/// What the dry-run decided for one object, with the live object it compared against.
pub(crate) struct DryRun {
    pub plan: Plan,
    pub live: Option<DynamicObject>,
}

/// The CRD in `set` that defines `gvk`, and whether it is namespaced.
fn defined_in_set(set: &[DynamicObject], gvk: &GroupVersionKind) -> Option<bool> {
    set.iter().find_map(|o| {
        let crd = gvk_of(o)?;
        if crd.group != "apiextensions.k8s.io" || crd.kind != "CustomResourceDefinition" {
            return None;
        }
        let spec = o.data.get("spec")?;
        let serves = spec.get("group")?.as_str()? == gvk.group
            && spec.pointer("/names/kind")?.as_str()? == gvk.kind
            && spec
                .get("versions")?
                .as_array()?
                .iter()
                .any(|v| v.get("name").and_then(Value::as_str) == Some(gvk.version.as_str()));
        serves.then(|| spec.get("scope").and_then(Value::as_str) == Some("Namespaced"))
    })
}

impl ResourceManager {
    /// Resolves and normalises every object; all problems are reported together.
    pub(crate) async fn prepare(
        &self,
        mut objects: Vec<DynamicObject>,
    ) -> Result<Vec<Prepared>, SsaError> {
        if let Some(owner) = &self.options.owner {
            for object in &mut objects {
                let labels = object.metadata.labels.get_or_insert_with(Default::default);
                labels.insert(owner.name_label.clone(), owner.name.clone());
                labels.insert(owner.namespace_label.clone(), owner.namespace.clone());
            }
        }
        let new_namespaces: BTreeSet<String> = objects
            .iter()
            .filter(|o| gvk_of(o).is_some_and(|g| g.group.is_empty() && g.kind == "Namespace"))
            .filter_map(|o| o.metadata.name.clone())
            .collect();
        let mut failures = Vec::new();
        let mut seen = BTreeSet::new();
        let mut prepared = Vec::new();
        for mut object in objects.clone() {
            let Some(gvk) = gvk_of(&object) else {
                continue;
            };
            let (resolved, namespaced) = match self.resolver.resolve(&gvk).await {
                Ok(r) => {
                    let namespaced = r.namespaced;
                    (Some(r), namespaced)
                }
                Err(e) => match defined_in_set(&objects, &gvk) {
                    Some(namespaced) => (None, namespaced),
                    None => {
                        let meta = ObjMetadata::of(&object, &gvk);
                        failures.push(ObjectFailure {
                            subject: meta.subject(),
                            message: e.to_string(),
                        });
                        continue;
                    }
                },
            };
            if namespaced {
                if object
                    .metadata
                    .namespace
                    .as_deref()
                    .is_none_or(str::is_empty)
                {
                    object.metadata.namespace = Some(self.options.default_namespace.clone());
                }
            } else {
                // The API server rejects a namespace on a cluster-scoped apply URL mismatch.
                object.metadata.namespace = None;
            }
            let meta = ObjMetadata::of(&object, &gvk);
            if !seen.insert(meta.clone()) {
                failures.push(ObjectFailure {
                    subject: meta.subject(),
                    message: "duplicate object in the set".to_string(),
                });
                continue;
            }
            let mut deferred = resolved.is_none();
            if namespaced && new_namespaces.contains(&meta.namespace) {
                deferred |= !self.namespace_exists(&meta.namespace).await?;
            }
            prepared.push(Prepared {
                object,
                meta,
                gvk,
                resolved,
                deferred,
            });
        }
        if failures.is_empty() {
            Ok(prepared)
        } else {
            Err(SsaError::Validation { failures })
        }
    }

    async fn namespace_exists(&self, name: &str) -> Result<bool, SsaError> {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        api.get_opt(name)
            .await
            .map(|found| found.is_some())
            .map_err(|e| SsaError::Read {
                subject: format!("Namespace/{name}"),
                message: api_message(&e),
            })
    }

    pub(crate) fn api_for(&self, prepared: &Prepared) -> Option<Api<DynamicObject>> {
        let resolved = prepared.resolved.as_ref()?;
        Some(self.dynamic_api(resolved, &prepared.meta.namespace))
    }

    /// Dry-runs one object and compares the result with the live object (read here unless
    /// `known` holds it).
    pub(crate) async fn dry_run(
        &self,
        prepared: &Prepared,
        known: &KnownObjects,
    ) -> Result<DryRun, ObjectFailure> {
        let failure = |message: String| ObjectFailure {
            subject: prepared.meta.subject(),
            message,
        };
        let api = self
            .api_for(prepared)
            .ok_or_else(|| failure("kind is not served by the API server".to_string()))?;
        let name = &prepared.meta.name;
        let existing = match known.get(&prepared.meta) {
            Some(live) => live.clone(),
            None => api
                .get_opt(name)
                .await
                .map_err(|e| failure(api_message(&e)))?,
        };
        let policy = ssa_policy(&prepared.object.metadata);
        let disabled = reconcile_disabled(&prepared.object.metadata)
            || existing
                .as_ref()
                .is_some_and(|e| reconcile_disabled(&e.metadata));
        let skip = disabled
            || policy == SsaPolicy::Ignore
            || (policy == SsaPolicy::IfNotPresent && existing.is_some());
        if skip {
            return Ok(DryRun {
                plan: Plan::Skip,
                live: existing,
            });
        }
        let params = PatchParams::apply(&self.options.field_manager)
            .force()
            .dry_run();
        let plan = match api
            .patch(name, &params, &Patch::Apply(&prepared.object))
            .await
        {
            Ok(dry) => match &existing {
                None => Plan::Apply {
                    create: true,
                    cleanup: None,
                },
                Some(live) => {
                    let cleanup = (policy != SsaPolicy::Merge)
                        .then(|| cleanup_patch(live, &self.options.field_manager))
                        .flatten();
                    if cleanup.is_some() || has_drifted(live, &dry) {
                        Plan::Apply {
                            create: false,
                            cleanup,
                        }
                    } else {
                        Plan::Unchanged
                    }
                }
            },
            Err(e)
                if existing.is_some()
                    && (self.options.force || force_enabled(&prepared.object.metadata))
                    && is_immutable(&e) =>
            {
                Plan::Recreate
            }
            Err(e) => return Err(failure(api_message(&e))),
        };
        Ok(DryRun {
            plan,
            live: existing,
        })
    }
}

/// Flux's `hasDrifted`: the dry-run result differs from the live object. Managed-field
/// timestamps are ignored; a change of field ownership still counts, so adopting an object
/// someone else created is applied rather than reported unchanged.
fn has_drifted(live: &DynamicObject, dry: &DynamicObject) -> bool {
    normalised(live) != normalised(dry)
}

fn normalised(object: &DynamicObject) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(fields) = value
        .pointer_mut("/metadata/managedFields")
        .and_then(Value::as_array_mut)
    {
        for entry in fields.iter_mut().filter_map(Value::as_object_mut) {
            entry.remove("time");
        }
    }
    value
}
