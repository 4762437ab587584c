//! Sprig's certificate functions: genCA, genSelfSignedCert, genSignedCert
//! and genPrivateKey. Keys are ECDSA P-256 (or Ed25519 on request) made
//! with ring through rcgen: Sprig makes RSA keys, which ring cannot
//! generate. The certificates serve the same purpose (webhook and
//! in-cluster TLS); their PEM bytes are random in both implementations.

use std::sync::Arc;

use crate::funcs::{FuncMap, Ty};
use crate::value::{Object, Value};

/// Sprig's `certificate` struct (`.Cert`, `.Key`), keeping what is needed
/// to sign with it.
#[derive(Debug)]
struct Certificate {
    cert: String,
    key: String,
    params: Option<rcgen::CertificateParams>,
}

impl Object for Certificate {
    fn type_name(&self) -> &'static str {
        "sprig.certificate"
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::str(self.cert.as_str())),
            "Key" => Some(Value::str(self.key.as_str())),
            _ => None,
        }
    }

    fn print(&self) -> String {
        format!("{{{} {}}}", self.cert, self.key)
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn to_data(&self) -> Value {
        let mut m = crate::value::Map::new();
        m.insert("Cert".into(), Value::str(self.cert.as_str()));
        m.insert("Key".into(), Value::str(self.key.as_str()));
        Value::map(m)
    }
}

fn validity(params: &mut rcgen::CertificateParams, days: i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let ymd = |unix: i64| {
        let t = crate::value::GoTime::utc(unix, 0);
        let text = crate::sprig::format_time(&t, "2006 1 2");
        let mut parts = text.split(' ').map(|p| p.parse::<i64>().unwrap_or(1));
        let (y, m, d) = (
            parts.next().unwrap_or(1970),
            parts.next().unwrap_or(1),
            parts.next().unwrap_or(1),
        );
        rcgen::date_time_ymd(y as i32, m as u8, d as u8)
    };
    params.not_before = ymd(now);
    params.not_after = ymd(now + days.clamp(0, 365 * 1000) * 86_400);
}

fn names(v: &Value) -> Vec<String> {
    v.list_items()
        .unwrap_or_default()
        .iter()
        .filter(|x| !x.is_nil())
        .map(super::conv::strval)
        .collect()
}

fn params(
    cn: &str,
    ips: &Value,
    dns: &Value,
    days: i64,
) -> Result<rcgen::CertificateParams, String> {
    let mut sans = names(ips);
    sans.extend(names(dns));
    let mut p = rcgen::CertificateParams::new(sans).map_err(|e| e.to_string())?;
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    validity(&mut p, days);
    Ok(p)
}

/// The key a `...WithKey` function was given, with Sprig's error prefix.
fn given_key(pem: &Value) -> Result<rcgen::KeyPair, String> {
    let pem = pem.as_str().unwrap_or_default();
    super::custom_cert::check_private_key(pem).map_err(|e| format!("parsing private key: {e}"))?;
    // rcgen reads PKCS#8 keys (what genPrivateKey writes here); Go's SEC1
    // and PKCS#1 blocks are refused with rcgen's reason.
    rcgen::KeyPair::from_pem(pem).map_err(|e| format!("parsing private key: {e}"))
}

fn make(p: rcgen::CertificateParams, issuer: Option<&Certificate>) -> Result<Value, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    make_with(p, issuer, key)
}

fn make_with(
    p: rcgen::CertificateParams,
    issuer: Option<&Certificate>,
    key: rcgen::KeyPair,
) -> Result<Value, String> {
    let cert = match issuer {
        None => p.self_signed(&key),
        Some(ca) => {
            let ca_params = ca
                .params
                .as_ref()
                .ok_or("the CA must come from genCA or genSelfSignedCert")?;
            let ca_key = rcgen::KeyPair::from_pem(&ca.key).map_err(|e| e.to_string())?;
            let issuer = rcgen::Issuer::from_params(ca_params, &ca_key);
            p.signed_by(&key, &issuer)
        }
    }
    .map_err(|e| e.to_string())?;
    Ok(Value::Object(Arc::new(Certificate {
        cert: cert.pem(),
        key: key.serialize_pem(),
        params: Some(p),
    })))
}

/// A certificate struct without signing parameters (buildCustomCert's).
pub(super) fn certificate(cert: String, key: String) -> Value {
    Value::Object(Arc::new(Certificate {
        cert,
        key,
        params: None,
    }))
}

fn days(v: &Value) -> i64 {
    v.as_int().unwrap_or(0)
}

fn ca_params(cn: &str, days: i64) -> Result<rcgen::CertificateParams, String> {
    let mut p = params(cn, &Value::Nil, &Value::Nil, days)?;
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    Ok(p)
}

fn signer(v: &Value) -> Result<&Certificate, String> {
    let ca = match v {
        Value::Object(o) => o.as_any().and_then(|x| x.downcast_ref::<Certificate>()),
        _ => None,
    };
    ca.ok_or_else(|| {
        format!(
            "wrong type for value; expected sprig.certificate; got {}",
            v.type_name()
        )
    })
}

pub fn register(m: &mut FuncMap) {
    m.add("genCA", &[Ty::Str, Ty::Int], None, |a| {
        make(
            ca_params(a[0].as_str().unwrap_or_default(), days(&a[1]))?,
            None,
        )
    });
    m.add(
        "genSelfSignedCert",
        &[Ty::Str, Ty::List, Ty::List, Ty::Int],
        None,
        |a| {
            let p = params(a[0].as_str().unwrap_or_default(), &a[1], &a[2], days(&a[3]))?;
            make(p, None)
        },
    );
    m.add(
        "genSignedCert",
        &[
            Ty::Str,
            Ty::List,
            Ty::List,
            Ty::Int,
            Ty::Named("sprig.certificate"),
        ],
        None,
        |a| {
            let p = params(a[0].as_str().unwrap_or_default(), &a[1], &a[2], days(&a[3]))?;
            let ca = match &a[4] {
                Value::Object(o) => o.as_any().and_then(|x| x.downcast_ref::<Certificate>()),
                _ => None,
            };
            let Some(ca) = ca else {
                return Err(format!(
                    "wrong type for value; expected sprig.certificate; got {}",
                    a[4].type_name()
                ));
            };
            make(p, Some(ca))
        },
    );
    m.add("genCAWithKey", &[Ty::Str, Ty::Int, Ty::Str], None, |a| {
        let key = given_key(&a[2])?;
        make_with(
            ca_params(a[0].as_str().unwrap_or_default(), days(&a[1]))?,
            None,
            key,
        )
    });
    m.add(
        "genSelfSignedCertWithKey",
        &[Ty::Str, Ty::List, Ty::List, Ty::Int, Ty::Str],
        None,
        |a| {
            let key = given_key(&a[4])?;
            let p = params(a[0].as_str().unwrap_or_default(), &a[1], &a[2], days(&a[3]))?;
            make_with(p, None, key)
        },
    );
    m.add(
        "genSignedCertWithKey",
        &[
            Ty::Str,
            Ty::List,
            Ty::List,
            Ty::Int,
            Ty::Named("sprig.certificate"),
            Ty::Str,
        ],
        None,
        |a| {
            let key = given_key(&a[5])?;
            let p = params(a[0].as_str().unwrap_or_default(), &a[1], &a[2], days(&a[3]))?;
            let ca = signer(&a[4])?;
            make_with(p, Some(ca), key)
        },
    );
    m.add("genPrivateKey", &[Ty::Str], None, |a| {
        let alg = match a[0].as_str().unwrap_or_default() {
            "ecdsa" => &rcgen::PKCS_ECDSA_P256_SHA256,
            "ed25519" => &rcgen::PKCS_ED25519,
            "rsa" | "dsa" => {
                return Err(format!(
                    "{} keys cannot be generated here (ring has no such key generation); use ecdsa or ed25519",
                    a[0].as_str().unwrap_or_default()
                ));
            }
            other => return Ok(Value::str(format!("Unknown type {other}"))),
        };
        let key = rcgen::KeyPair::generate_for(alg).map_err(|e| e.to_string())?;
        Ok(Value::str(key.serialize_pem()))
    });
}
