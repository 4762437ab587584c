//! The `sops` section of an encrypted file: key groups, the MAC, the
//! timestamp it is bound to and the rules that say which values are
//! encrypted.

use regex::Regex;

use crate::error::SopsError;
use crate::tree::{Branch, Value, get};

/// One master key that encrypts (a share of) the data key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MasterKey {
    Age {
        recipient: String,
        enc: String,
    },
    Pgp {
        fingerprint: String,
        enc: String,
    },
    /// A cloud KMS or Vault key: recognised, named in errors, not decrypted here.
    Other {
        provider: &'static str,
        id: String,
    },
}

impl MasterKey {
    /// How the key is named in errors: its recipient, fingerprint or resource.
    pub fn describe(&self) -> String {
        match self {
            MasterKey::Age { recipient, .. } => format!("age {recipient}"),
            MasterKey::Pgp { fingerprint, .. } => format!("pgp {fingerprint}"),
            MasterKey::Other { provider, id } => format!("{provider} {id}"),
        }
    }
}

/// Which values the encryption rules leave in clear (sops allows one rule).
#[derive(Debug, Default)]
pub(crate) struct Rules {
    pub unencrypted_suffix: Option<String>,
    pub encrypted_suffix: Option<String>,
    pub unencrypted_regex: Option<Regex>,
    pub encrypted_regex: Option<Regex>,
    pub unencrypted_comment_regex: Option<Regex>,
    pub encrypted_comment_regex: Option<Regex>,
}

#[derive(Debug)]
pub(crate) struct Metadata {
    pub key_groups: Vec<Vec<MasterKey>>,
    pub shamir_threshold: usize,
    /// `lastmodified` as Go prints it in RFC 3339: the MAC's additional data.
    pub last_modified: String,
    pub mac: String,
    pub mac_only_encrypted: bool,
    pub rules: Rules,
}

/// The providers sops knows besides age and PGP, with the field naming a key.
const OTHER_PROVIDERS: [(&str, &str, &str); 6] = [
    ("kms", "AWS KMS", "arn"),
    ("gcp_kms", "GCP KMS", "resource_id"),
    ("azure_kv", "Azure Key Vault", "vault_url"),
    ("hc_vault", "HashiCorp Vault", "vault_address"),
    ("hckms", "HuaweiCloud KMS", "key_id"),
    ("kms_ring", "KMS", "id"),
];

fn text<'a>(branch: &'a Branch, key: &str) -> Option<&'a str> {
    match get(branch, key)? {
        Value::Str(s) | Value::Time(s) => Some(s),
        _ => None,
    }
}

fn entries<'a>(branch: &'a Branch, key: &str) -> impl Iterator<Item = &'a Branch> {
    let list = match get(branch, key) {
        Some(Value::Seq(items)) => items.as_slice(),
        _ => &[],
    };
    list.iter().filter_map(Value::as_map)
}

fn group(branch: &Branch) -> Vec<MasterKey> {
    let mut keys = Vec::new();
    for e in entries(branch, "age") {
        keys.push(MasterKey::Age {
            recipient: text(e, "recipient").unwrap_or_default().to_owned(),
            enc: text(e, "enc").unwrap_or_default().to_owned(),
        });
    }
    for e in entries(branch, "pgp") {
        keys.push(MasterKey::Pgp {
            fingerprint: text(e, "fp").unwrap_or_default().to_owned(),
            enc: text(e, "enc").unwrap_or_default().to_owned(),
        });
    }
    for (field, provider, id) in OTHER_PROVIDERS {
        for e in entries(branch, field) {
            let id = text(e, id).unwrap_or_default().to_owned();
            keys.push(MasterKey::Other { provider, id });
        }
    }
    keys
}

fn regex(branch: &Branch, key: &str) -> Result<Option<Regex>, SopsError> {
    match text(branch, key).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(re) => Regex::new(re).map(Some).map_err(|e| {
            SopsError::Metadata(format!("{key} is not a valid regular expression: {e}"))
        }),
    }
}

impl Metadata {
    /// Reads the `sops` mapping as sops does.
    pub fn from_branch(branch: &Branch) -> Result<Self, SopsError> {
        let mut key_groups = Vec::new();
        let top = group(branch);
        if !top.is_empty() {
            key_groups.push(top);
        } else {
            for g in entries(branch, "key_groups") {
                key_groups.push(group(g));
            }
        }
        if key_groups.is_empty() {
            return Err(SopsError::Metadata("No keys found in file".into()));
        }
        let shamir_threshold = match get(branch, "shamir_threshold") {
            Some(Value::Int(n)) => usize::try_from(*n).unwrap_or(0),
            _ => 0,
        };
        let last_modified = go_rfc3339(text(branch, "lastmodified").unwrap_or_default())
            .ok_or_else(|| {
                SopsError::Metadata("lastmodified is not an RFC 3339 timestamp".into())
            })?;
        let mut rules = Rules {
            unencrypted_suffix: text(branch, "unencrypted_suffix")
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            encrypted_suffix: text(branch, "encrypted_suffix")
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            unencrypted_regex: regex(branch, "unencrypted_regex")?,
            encrypted_regex: regex(branch, "encrypted_regex")?,
            unencrypted_comment_regex: regex(branch, "unencrypted_comment_regex")?,
            encrypted_comment_regex: regex(branch, "encrypted_comment_regex")?,
        };
        let count = usize::from(rules.unencrypted_suffix.is_some())
            + usize::from(rules.encrypted_suffix.is_some())
            + usize::from(rules.unencrypted_regex.is_some())
            + usize::from(rules.encrypted_regex.is_some())
            + usize::from(rules.unencrypted_comment_regex.is_some())
            + usize::from(rules.encrypted_comment_regex.is_some());
        if count > 1 {
            return Err(SopsError::ConflictingRules);
        }
        if count == 0 {
            rules.unencrypted_suffix = Some("_unencrypted".into());
        }
        Ok(Self {
            key_groups,
            shamir_threshold,
            last_modified,
            mac: text(branch, "mac").unwrap_or_default().to_owned(),
            mac_only_encrypted: matches!(
                get(branch, "mac_only_encrypted"),
                Some(Value::Bool(true))
            ),
            rules,
        })
    }
}

/// Parses an RFC 3339 timestamp and prints it back as Go's `time.RFC3339`
/// layout does: fractional seconds dropped, a zero offset spelled `Z`.
fn go_rfc3339(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let zone = match rest {
        "Z" | "+00:00" | "-00:00" => "Z".to_owned(),
        z if z.len() == 6
            && (z.starts_with('+') || z.starts_with('-'))
            && z.as_bytes()[3] == b':'
            && z[1..3]
                .bytes()
                .chain(z[4..6].bytes())
                .all(|d| d.is_ascii_digit()) =>
        {
            z.to_owned()
        }
        _ => return None,
    };
    Some(format!("{}{zone}", &s[..19]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lastmodified_is_printed_back_as_go_does() {
        assert_eq!(
            go_rfc3339("2024-09-04T13:43:30Z").as_deref(),
            Some("2024-09-04T13:43:30Z")
        );
        assert_eq!(
            go_rfc3339("2024-09-04T13:43:30.123Z").as_deref(),
            Some("2024-09-04T13:43:30Z")
        );
        assert_eq!(
            go_rfc3339("2024-09-04T13:43:30+00:00").as_deref(),
            Some("2024-09-04T13:43:30Z")
        );
        assert_eq!(
            go_rfc3339("2024-09-04T13:43:30+02:00").as_deref(),
            Some("2024-09-04T13:43:30+02:00")
        );
        assert_eq!(go_rfc3339("yesterday"), None);
    }
}
