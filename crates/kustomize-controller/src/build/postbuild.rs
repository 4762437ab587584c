//! `spec.postBuild`: variables from `substituteFrom` ConfigMaps and Secrets (in order, later ones
//! overriding earlier, a missing `optional` one skipped) and then `substitute` (overriding all),
//! every name checked against Flux's rule; then Flux's envsubst over each object's YAML,
//! except objects labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled`.

use std::collections::BTreeMap;

use driftless_api::annotations::{DISABLED, KUSTOMIZE_SUBSTITUTE};
use driftless_api::kustomize::{Kustomization, SubstituteStrategy};
use driftless_api::meta::ConfigSourceKind;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::Api;
use serde_json::Value;

use crate::error::ReconcileError;

/// The variables of `ks`, `None` when it has no `postBuild`.
pub async fn variables(
    client: &kube::Client,
    ks: &Kustomization,
) -> Result<Option<BTreeMap<String, String>>, ReconcileError> {
    let Some(post_build) = &ks.spec.post_build else {
        return Ok(None);
    };
    let namespace = ks.namespace().unwrap_or_default();
    let mut vars = BTreeMap::new();
    for reference in post_build.substitute_from.iter().flatten() {
        let failed = |message: String| ReconcileError::SubstituteFrom {
            kind: kind_name(reference.kind).to_owned(),
            name: reference.name.clone(),
            message,
        };
        let optional = reference.optional.unwrap_or(false);
        let data = match reference.kind {
            ConfigSourceKind::ConfigMap => {
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
                let found = api
                    .get_opt(&reference.name)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                found.map(|cm| cm.data.unwrap_or_default())
            }
            ConfigSourceKind::Secret => {
                let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
                let found = api
                    .get_opt(&reference.name)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                match found {
                    Some(secret) => Some(secret_strings(secret).map_err(failed)?),
                    None => None,
                }
            }
        };
        match data {
            Some(data) => vars.extend(data),
            None if optional => {}
            None => {
                return Err(failed(format!(
                    "{} '{namespace}/{}' not found",
                    kind_name(reference.kind),
                    reference.name
                )));
            }
        }
    }
    vars.extend(post_build.substitute.clone().unwrap_or_default());
    for name in vars.keys() {
        driftless_envsubst::validate_name(name).map_err(|e| ReconcileError::Substitute {
            subject: "spec.postBuild".to_owned(),
            message: e.to_string(),
        })?;
    }
    Ok(Some(vars))
}

fn kind_name(kind: ConfigSourceKind) -> &'static str {
    match kind {
        ConfigSourceKind::ConfigMap => "ConfigMap",
        ConfigSourceKind::Secret => "Secret",
    }
}

/// A Secret's `data` (already decoded by the client) and `stringData` as strings; a value that
/// is not UTF-8 is an error naming its key only.
fn secret_strings(secret: Secret) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (key, value) in secret.data.unwrap_or_default() {
        let text = String::from_utf8(value.0)
            .map_err(|_| format!("value of key '{key}' is not valid UTF-8"))?;
        out.insert(key, text);
    }
    out.extend(secret.string_data.unwrap_or_default());
    Ok(out)
}

/// Substitutes `vars` into every document that allows it. With strategy `WithVariables` (the
/// default) nothing is substituted when there are no variables.
pub fn substitute(
    documents: Vec<String>,
    vars: &BTreeMap<String, String>,
    strategy: SubstituteStrategy,
    strict: bool,
) -> Result<Vec<String>, ReconcileError> {
    if vars.is_empty() && strategy == SubstituteStrategy::WithVariables {
        return Ok(documents);
    }
    documents
        .into_iter()
        .map(|document| {
            let header = Header::of(&document);
            if header.disabled {
                return Ok(document);
            }
            driftless_envsubst::substitute(&document, |name| vars.get(name).cloned(), strict)
                .map_err(|e| ReconcileError::Substitute {
                    subject: header.subject,
                    message: e.to_string(),
                })
        })
        .collect()
}

/// What the controller needs to know of a document before substituting or decrypting it.
pub struct Header {
    /// `Kind/namespace/name` (namespace left out when unset).
    pub subject: String,
    /// Substitution is disabled by label or annotation.
    pub disabled: bool,
}

impl Header {
    /// Reads the header of one YAML document; a document that does not parse gets a
    /// placeholder subject (the decode step reports it properly).
    pub fn of(document: &str) -> Self {
        let value: Value = serde_saphyr::from_str(document).unwrap_or(Value::Null);
        let field = |path: &str| value.pointer(path).and_then(Value::as_str);
        let subject = match field("/metadata/namespace") {
            Some(ns) => format!(
                "{}/{ns}/{}",
                field("/kind").unwrap_or("<no kind>"),
                field("/metadata/name").unwrap_or("<no name>")
            ),
            None => format!(
                "{}/{}",
                field("/kind").unwrap_or("<no kind>"),
                field("/metadata/name").unwrap_or("<no name>")
            ),
        };
        let disabled = ["/metadata/labels", "/metadata/annotations"]
            .iter()
            .any(|p| {
                value
                    .pointer(p)
                    .and_then(|m| m.get(KUSTOMIZE_SUBSTITUTE))
                    .and_then(Value::as_str)
                    == Some(DISABLED)
            });
        Self { subject, disabled }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: apps\ndata:\n  env: ${cluster_env}\n";

    #[test]
    fn variables_reach_every_object_that_allows_it() {
        let disabled = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: raw\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\ndata:\n  env: ${cluster_env}\n";
        let out = substitute(
            vec![CM.to_owned(), disabled.to_owned()],
            &vars(&[("cluster_env", "prod")]),
            SubstituteStrategy::WithVariables,
            false,
        )
        .expect("substitutes");
        assert!(out[0].contains("env: prod"));
        assert_eq!(out[1], disabled);
    }

    #[test]
    fn without_variables_nothing_is_substituted_unless_the_strategy_is_always() {
        let doc = "kind: ConfigMap\nmetadata:\n  name: a\ndata:\n  env: ${env:=dev}\n";
        let none = BTreeMap::new();
        let kept = substitute(
            vec![doc.to_owned()],
            &none,
            SubstituteStrategy::WithVariables,
            false,
        )
        .expect("kept");
        assert_eq!(kept[0], doc);
        let always = substitute(
            vec![doc.to_owned()],
            &none,
            SubstituteStrategy::Always,
            false,
        )
        .expect("substituted");
        assert!(always[0].contains("env: dev"));
    }

    #[test]
    fn strict_mode_names_the_object_and_the_missing_variable() {
        let err = substitute(
            vec![CM.to_owned()],
            &vars(&[("other", "x")]),
            SubstituteStrategy::WithVariables,
            true,
        )
        .expect_err("strict");
        let message = err.to_string();
        assert!(message.contains("ConfigMap/apps/app"), "{message}");
        assert!(message.contains("cluster_env"), "{message}");
    }
}
