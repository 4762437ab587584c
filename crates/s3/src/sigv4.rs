//! AWS Signature Version 4 for header-authenticated requests: the canonical request, the
//! string to sign, the derived signing key and the `Authorization` header, with ring's HMAC and
//! SHA-256. The same functions let a server recompute the signature a client sent.

use std::fmt;

use ring::{digest, hmac};

/// The algorithm name in the string to sign and the `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Hex SHA-256 of the empty payload, the `x-amz-content-sha256` of a GET or HEAD.
pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Static credentials. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id.
    pub access_key: String,
    /// The secret access key.
    pub secret_key: String,
    /// A temporary session token, sent as `x-amz-security-token`.
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The request parts that are signed.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// `GET`, `HEAD`, …
    pub method: &'a str,
    /// The path as sent on the wire (already URI-encoded), e.g. `/bucket/a%20b.txt`.
    pub path: &'a str,
    /// Decoded query parameters; they are encoded and sorted here.
    pub query: &'a [(String, String)],
    /// Header names and values to sign (must include `host` and `x-amz-date`).
    pub headers: &'a [(String, String)],
    /// Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    pub payload_sha256: &'a str,
}

/// Where and when a request is signed.
#[derive(Clone, Debug)]
pub struct Scope<'a> {
    /// `YYYYMMDDTHHMMSSZ`, the value of `x-amz-date`.
    pub amz_date: &'a str,
    /// The region, e.g. `us-east-1`.
    pub region: &'a str,
    /// The service, `s3`.
    pub service: &'a str,
}

impl Scope<'_> {
    /// `YYYYMMDD/<region>/<service>/aws4_request`.
    pub fn credential_scope(&self) -> String {
        let date = self.amz_date.get(..8).unwrap_or(self.amz_date);
        format!("{date}/{}/{}/aws4_request", self.region, self.service)
    }
}

/// A computed signature and the texts it was computed from (useful in test failures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The canonical request.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// `host;x-amz-date;…`.
    pub signed_headers: String,
    /// Lower-case hex HMAC.
    pub signature: String,
}

impl Signature {
    /// The `Authorization` header value for `access_key`.
    pub fn authorization(&self, access_key: &str, scope: &Scope<'_>) -> String {
        format!(
            "{ALGORITHM} Credential={access_key}/{}, SignedHeaders={}, Signature={}",
            scope.credential_scope(),
            self.signed_headers,
            self.signature
        )
    }
}

/// Signs `request` with `secret_key` in `scope`.
pub fn sign(request: &Request<'_>, secret_key: &str, scope: &Scope<'_>) -> Signature {
    let (canonical_headers, signed_headers) = canonical_headers(request.headers);
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        request.path,
        canonical_query(request.query),
        canonical_headers,
        signed_headers,
        request.payload_sha256
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        scope.amz_date,
        scope.credential_scope(),
        sha256_hex(canonical_request.as_bytes())
    );
    let key = signing_key(secret_key, scope);
    let signature = hex::encode(hmac::sign(&key, string_to_sign.as_bytes()).as_ref());
    Signature {
        canonical_request,
        string_to_sign,
        signed_headers,
        signature,
    }
}

/// `HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")`.
fn signing_key(secret_key: &str, scope: &Scope<'_>) -> hmac::Key {
    let date = scope.amz_date.get(..8).unwrap_or(scope.amz_date);
    let step = |key: &[u8], data: &str| {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes());
        tag.as_ref().to_vec()
    };
    let k_date = step(format!("AWS4{secret_key}").as_bytes(), date);
    let k_region = step(&k_date, scope.region);
    let k_service = step(&k_region, scope.service);
    let k_signing = step(&k_service, "aws4_request");
    hmac::Key::new(hmac::HMAC_SHA256, &k_signing)
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data).as_ref())
}

/// Compares two signatures in constant time.
pub fn signatures_match(a: &str, b: &str) -> bool {
    // No early exit on the first differing byte: timing must not tell how much matched.
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Lower-cased names, values trimmed with inner runs of spaces collapsed, sorted by name,
/// repeated names joined with commas; and the `;`-joined name list.
fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            (name.trim().to_ascii_lowercase(), value)
        })
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut merged: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        match merged.last_mut() {
            Some((last, joined)) if *last == name => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => merged.push((name, value)),
        }
    }
    let text: String = merged.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let names: Vec<&str> = merged.iter().map(|(n, _)| n.as_str()).collect();
    (text, names.join(";"))
}

/// Each name and value URI-encoded (`/` too), sorted by name then value, joined with `&`.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// SigV4's URI encoding: everything but `A-Z a-z 0-9 - . _ ~` as `%XX` (upper-case hex);
/// `/` kept unless `encode_slash`.
pub fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte));
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header a server needs to verify it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id.
    pub access_key: String,
    /// `YYYYMMDD` of the credential scope.
    pub date: String,
    /// The region of the scope.
    pub region: String,
    /// The service of the scope.
    pub service: String,
    /// The lower-case signed header names.
    pub signed_headers: Vec<String>,
    /// The hex signature.
    pub signature: String,
}

/// Parses an `Authorization` header; `None` when it is not a well-formed SigV4 header.
pub fn parse_authorization(header: &str) -> Option<Authorization> {
    let rest = header.strip_prefix(ALGORITHM)?.trim_start();
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (key, value) = part.trim().split_once('=')?;
        match key {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed = Some(value),
            "Signature" => signature = Some(value),
            _ => return None,
        }
    }
    let mut scope = credential?.split('/');
    let access_key = scope.next()?.to_owned();
    let date = scope.next()?.to_owned();
    let region = scope.next()?.to_owned();
    let service = scope.next()?.to_owned();
    if scope.next()? != "aws4_request" || scope.next().is_some() {
        return None;
    }
    Some(Authorization {
        access_key,
        date,
        region,
        service,
        signed_headers: signed?.split(';').map(str::to_owned).collect(),
        signature: signature?.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const S3_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const S3_SCOPE: Scope<'static> = Scope {
        amz_date: "20130524T000000Z",
        region: "us-east-1",
        service: "s3",
    };

    // The "GET Object" example of Amazon S3's header-based SigV4 documentation.
    #[test]
    fn the_s3_get_object_example_signs_as_aws_documents() {
        let headers = headers(&[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256),
            ("x-amz-date", "20130524T000000Z"),
        ]);
        let request = Request {
            method: "GET",
            path: "/test.txt",
            query: &[],
            headers: &headers,
            payload_sha256: EMPTY_PAYLOAD_SHA256,
        };
        let signed = sign(&request, S3_SECRET, &S3_SCOPE);
        assert_eq!(
            sha256_hex(signed.canonical_request.as_bytes()),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
            "{}",
            signed.canonical_request
        );
        assert_eq!(
            signed.signature,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert_eq!(
            signed.authorization("AKIAIOSFODNN7EXAMPLE", &S3_SCOPE),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    // The "GET Bucket (List Objects)" example of the same documentation.
    #[test]
    fn the_s3_list_objects_example_signs_with_its_query_sorted() {
        let headers = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256),
            ("x-amz-date", "20130524T000000Z"),
        ]);
        let query = vec![
            ("prefix".to_owned(), "J".to_owned()),
            ("max-keys".to_owned(), "2".to_owned()),
        ];
        let request = Request {
            method: "GET",
            path: "/",
            query: &query,
            headers: &headers,
            payload_sha256: EMPTY_PAYLOAD_SHA256,
        };
        let signed = sign(&request, S3_SECRET, &S3_SCOPE);
        assert_eq!(
            signed.signature,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    // The `get-vanilla` case of AWS's SigV4 test suite.
    #[test]
    fn the_get_vanilla_suite_case_signs_as_published() {
        let headers = headers(&[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
        ]);
        let request = Request {
            method: "GET",
            path: "/",
            query: &[],
            headers: &headers,
            payload_sha256: EMPTY_PAYLOAD_SHA256,
        };
        let scope = Scope {
            amz_date: "20150830T123600Z",
            region: "us-east-1",
            service: "service",
        };
        let signed = sign(&request, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &scope);
        assert_eq!(
            signed.signature,
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_repeated_names_joined() {
        let (text, names) = canonical_headers(&headers(&[
            ("X-B", "  two   words "),
            ("x-a", "1"),
            ("X-A", "2"),
        ]));
        assert_eq!(text, "x-a:1,2\nx-b:two words\n");
        assert_eq!(names, "x-a;x-b");
    }

    #[test]
    fn query_values_encode_slashes_and_spaces_with_upper_case_hex() {
        let query = vec![
            ("prefix".to_owned(), "a b/c".to_owned()),
            ("list-type".to_owned(), "2".to_owned()),
        ];
        assert_eq!(canonical_query(&query), "list-type=2&prefix=a%20b%2Fc");
        assert_eq!(uri_encode("dir/ä.txt", false), "dir/%C3%A4.txt");
    }

    #[test]
    fn an_authorization_header_round_trips_through_the_parser() {
        let header = "AWS4-HMAC-SHA256 Credential=AKID/20130524/eu-west-1/s3/aws4_request, \
                      SignedHeaders=host;x-amz-date, Signature=abcd";
        let parsed = parse_authorization(header).expect("well-formed");
        assert_eq!(parsed.access_key, "AKID");
        assert_eq!(parsed.region, "eu-west-1");
        assert_eq!(parsed.signed_headers, vec!["host", "x-amz-date"]);
        assert_eq!(parsed.signature, "abcd");
        assert!(parse_authorization("AWS AKID:sig").is_none());
        assert!(
            parse_authorization(
                "AWS4-HMAC-SHA256 Credential=AKID/2013/r/s3/x, SignedHeaders=host, Signature=a"
            )
            .is_none()
        );
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let creds = Credentials {
            access_key: "AKID".into(),
            secret_key: "hunter2".into(),
            session_token: Some("tok".into()),
        };
        let shown = format!("{creds:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok\""),
            "{shown}"
        );
    }
}
