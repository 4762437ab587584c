//! Flux's masking of SOPS-encrypted Secret values: a build never prints them.

use base64::Engine as _;
use serde_json::Value;

/// What flux prints instead of a SOPS-encrypted value.
pub const SOPS_MASK: &str = "**SOPS**";

fn is_sops_text(text: &str) -> bool {
    text.contains("sops") && text.contains("ENC[")
}

/// Flux's masking of SOPS data in Secrets: a Secret that is itself a SOPS document has every
/// value replaced (and its `sops` block dropped); otherwise values that are encrypted files.
pub fn mask_sops(object: &mut Value) {
    if object["kind"] != "Secret" {
        return;
    }
    let whole = object.get("sops").is_some() && object.to_string().contains("ENC[");
    if whole && let Some(o) = object.as_object_mut() {
        o.remove("sops");
    }
    // A registry Secret must stay JSON: its mask is a JSON object.
    let plain_mask = if object["type"] == "kubernetes.io/dockerconfigjson" && whole {
        serde_json::json!({ "mask": SOPS_MASK }).to_string()
    } else {
        SOPS_MASK.to_owned()
    };
    let encoded_mask = base64::engine::general_purpose::STANDARD.encode(&plain_mask);
    // Flux masks encrypted stringData values of an otherwise plain Secret with the encoded
    // mask too; output is kept identical to `flux build`.
    let string_mask = if whole { &plain_mask } else { &encoded_mask };
    for (field, mask, encoded) in [
        ("data", encoded_mask.as_str(), true),
        ("stringData", string_mask.as_str(), false),
    ] {
        let Some(values) = object.get_mut(field).and_then(Value::as_object_mut) else {
            continue;
        };
        for value in values.values_mut() {
            let text = value.as_str().unwrap_or_default();
            let plain = if encoded {
                // Go's decoder skips line breaks, and kustomize cuts long generated values
                // into lines.
                let joined: String = text.chars().filter(|c| !matches!(c, '\n' | '\r')).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(joined)
                    .ok()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default()
            } else {
                text.to_owned()
            };
            if whole || is_sops_text(&plain) {
                *value = Value::String(mask.to_owned());
            }
        }
    }
}
