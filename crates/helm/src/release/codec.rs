//! A release in a Secret, as Helm's secrets driver stores it: named
//! `sh.helm.release.v1.<name>.v<version>`, type `helm.sh/release.v1`, the data key `release`
//! holding base64(gzip(JSON)) (so the API shows it base64-encoded twice), and the labels
//! `name`, `owner=helm`, `status`, `version` plus `createdAt` or `modifiedAt` (Unix seconds).

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;

use super::error::ReleaseError;
use super::record::Release;

/// The Secret type of a Helm 3 release.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";
/// The data key holding the encoded release.
pub const DATA_KEY: &str = "release";
/// Labels Helm sets itself; user labels may not use them.
pub const SYSTEM_LABELS: &[&str] = &[
    "name",
    "owner",
    "status",
    "version",
    "createdAt",
    "modifiedAt",
];

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b, 0x08];

/// The storage key of a revision.
pub fn key(name: &str, version: u32) -> String {
    format!("sh.helm.release.v1.{name}.v{version}")
}

/// The record's JSON as Go's encoder writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped
/// (they only ever occur inside strings).
pub fn to_json(release: &Release) -> Result<String, ReleaseError> {
    let json = serde_json::to_string(release).map_err(|e| ReleaseError::Encode {
        name: release.name.clone(),
        message: e.to_string(),
    })?;
    Ok(json
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029"))
}

/// JSON, gzipped at best compression, base64: what Helm puts under the `release` key.
pub fn encode(release: &Release) -> Result<String, ReleaseError> {
    let json = to_json(release)?.into_bytes();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zipped = gz
        .write_all(&json)
        .and_then(|()| gz.finish())
        .map_err(|e| ReleaseError::Encode {
            name: release.name.clone(),
            message: e.to_string(),
        })?;
    Ok(STANDARD.encode(zipped))
}

/// The inverse of [`encode`]; like Helm, a payload that is not gzipped is read as plain JSON.
pub fn decode(data: &[u8]) -> Result<Release, String> {
    let raw = STANDARD
        .decode(data)
        .map_err(|e| format!("illegal base64 data: {e}"))?;
    let json = if raw.starts_with(GZIP_MAGIC) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| format!("gzip: {e}"))?;
        out
    } else {
        raw
    };
    serde_json::from_slice(&json).map_err(|e| e.to_string())
}

/// Which timestamp label a write sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Create,
    Update,
}

/// Refuses custom labels that Helm reserves for itself, with Helm's message.
pub fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), ReleaseError> {
    if labels.keys().any(|k| SYSTEM_LABELS.contains(&k.as_str())) {
        return Err(ReleaseError::Manifest(format!(
            "user supplied labels contains system reserved label name. System labels: [{}]",
            SYSTEM_LABELS.join(" ")
        )));
    }
    Ok(())
}

/// The Secret holding `release`; `unix_now` is the value of the `createdAt`/`modifiedAt` label.
pub fn to_secret(release: &Release, write: Write, unix_now: i64) -> Result<Secret, ReleaseError> {
    let data = encode(release)?;
    let mut labels: BTreeMap<String, String> = release
        .labels
        .iter()
        .filter(|(k, _)| !SYSTEM_LABELS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let stamp = match write {
        Write::Create => "createdAt",
        Write::Update => "modifiedAt",
    };
    labels.insert(stamp.into(), unix_now.to_string());
    labels.insert("name".into(), release.name.clone());
    labels.insert("owner".into(), "helm".into());
    labels.insert("status".into(), release.status().to_string());
    labels.insert("version".into(), release.version.to_string());
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(key(&release.name, release.version)),
            // The store's namespace (Flux's storageNamespace), which need not be the
            // release's (where its objects go).
            namespace: None,
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        type_: Some(SECRET_TYPE.into()),
        data: Some(BTreeMap::from([(
            DATA_KEY.to_string(),
            ByteString(data.into_bytes()),
        )])),
        ..Secret::default()
    })
}

/// The release a Secret holds, its custom labels restored from the Secret's labels.
pub fn from_secret(secret: &Secret) -> Result<Release, ReleaseError> {
    let key = secret.metadata.name.clone().unwrap_or_default();
    let data = secret
        .data
        .as_ref()
        .and_then(|d| d.get(DATA_KEY))
        .ok_or_else(|| ReleaseError::Decode {
            key: key.clone(),
            message: format!("no {DATA_KEY:?} key"),
        })?;
    let mut release = decode(&data.0).map_err(|message| ReleaseError::Decode {
        key: key.clone(),
        message,
    })?;
    release.labels = secret
        .metadata
        .labels
        .iter()
        .flatten()
        .filter(|(k, _)| !SYSTEM_LABELS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(release)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::record::{Info, Status};

    fn sample() -> Release {
        Release {
            name: "web".into(),
            namespace: "apps".into(),
            version: 3,
            info: Some(Info {
                status: Status::Deployed,
                description: "Upgrade complete".into(),
                ..Info::default()
            }),
            manifest: "---\n# Source: c/templates/cm.yaml\nkind: ConfigMap\n".into(),
            labels: BTreeMap::from([("team".to_string(), "a".to_string())]),
            ..Release::default()
        }
    }

    #[test]
    fn a_release_survives_the_secret_round_trip_with_helms_labels() {
        let secret = to_secret(&sample(), Write::Create, 1_700_000_000).expect("encodes");
        assert_eq!(
            secret.metadata.name.as_deref(),
            Some("sh.helm.release.v1.web.v3")
        );
        assert_eq!(secret.type_.as_deref(), Some("helm.sh/release.v1"));
        assert_eq!(secret.metadata.namespace, None, "the store decides");
        let labels = secret.metadata.labels.clone().unwrap_or_default();
        let want: BTreeMap<String, String> = [
            ("createdAt", "1700000000"),
            ("name", "web"),
            ("owner", "helm"),
            ("status", "deployed"),
            ("team", "a"),
            ("version", "3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(labels, want);
        assert_eq!(from_secret(&secret).expect("decodes"), sample());
    }

    #[test]
    fn the_payload_is_base64_of_gzip_of_helms_json() {
        let text = encode(&sample()).expect("encodes");
        let raw = STANDARD.decode(text).expect("base64");
        assert_eq!(&raw[..3], GZIP_MAGIC);
        let mut json = String::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_string(&mut json)
            .expect("gunzips");
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(v["info"]["status"], "deployed");
        assert_eq!(v["info"]["deleted"], "");
        assert_eq!(v["version"], 3);
        assert!(v.get("labels").is_none(), "labels are not in the JSON");
    }

    #[test]
    fn a_payload_that_is_not_gzipped_is_read_as_plain_json() {
        let plain = STANDARD.encode(br#"{"name":"x","version":1,"info":{"status":"failed"}}"#);
        let r = decode(plain.as_bytes()).expect("decodes");
        assert_eq!(
            (r.name.as_str(), r.version, r.status()),
            ("x", 1, Status::Failed)
        );
    }

    #[test]
    fn fields_this_code_does_not_know_are_kept_on_rewrite() {
        let plain = STANDARD.encode(
            br#"{"name":"x","version":1,"apply_method":"ssa","info":{"status":"deployed","resources":{"a":[]}}}"#,
        );
        let r = decode(plain.as_bytes()).expect("decodes");
        let again = serde_json::to_value(&r).expect("encodes");
        assert_eq!(again["apply_method"], "ssa");
        assert_eq!(again["info"]["resources"], serde_json::json!({"a": []}));
    }
}
