//! A SigV4-signing S3 client for the calls a Bucket source needs: HeadBucket, ListObjectsV2
//! (every page, following continuation tokens) and GetObject streamed to a file with a size
//! bound. Addressing follows minio-go's automatic lookup, which Flux's generic provider uses:
//! virtual-host style for Amazon S3, Google Cloud Storage and Aliyun OSS endpoints when the
//! bucket name allows it, path style everywhere else.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::error::S3Error;
use crate::response::{parse_list, read_limited, service_error};
use crate::sigv4::{self, Credentials, EMPTY_PAYLOAD_SHA256, Request, Scope};

/// The region requests are signed for when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Largest listing page accepted; a page of 1000 keys is a few hundred KiB.
const MAX_LIST_BODY: u64 = 16 * 1024 * 1024;

/// Bucket addressing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Addressing {
    /// minio-go's rule (see the module documentation).
    #[default]
    Auto,
    /// `https://<endpoint>/<bucket>/<key>`.
    Path,
    /// `https://<bucket>.<endpoint>/<key>`.
    VirtualHost,
}

/// An HTTP proxy and its optional credentials.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// `http://proxy:3128`.
    pub url: String,
    /// Basic-auth user.
    pub username: Option<String>,
    /// Basic-auth password.
    pub password: Option<String>,
}

/// How to reach a service.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// `host[:port]`, without scheme or path.
    pub endpoint: String,
    /// Plain HTTP instead of HTTPS.
    pub insecure: bool,
    /// The signing region; [`DEFAULT_REGION`] when `None`.
    pub region: Option<String>,
    /// Static credentials; anonymous requests when `None`.
    pub credentials: Option<Credentials>,
    /// TLS settings (roots, client certificate); system roots when `None`.
    pub tls: Option<rustls::ClientConfig>,
    /// An HTTP proxy.
    pub proxy: Option<ProxyConfig>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Bucket addressing.
    pub addressing: Addressing,
}

/// One listed object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The key.
    pub key: String,
    /// The ETag without its quotes.
    pub etag: String,
    /// The size in bytes.
    pub size: u64,
}

/// One ListObjectsV2 page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    /// The objects of the page.
    pub objects: Vec<ObjectInfo>,
    /// The token of the next page, when the listing is truncated.
    pub next_continuation_token: Option<String>,
}

/// A configured client.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    scheme: &'static str,
    endpoint: String,
    /// The signing region; learnt from HeadBucket's `x-amz-bucket-region` when not configured.
    region: Arc<RwLock<String>>,
    region_configured: bool,
    credentials: Option<Credentials>,
    addressing: Addressing,
}

impl Client {
    /// Builds a client; fails on an endpoint with a scheme or path, or a bad proxy.
    pub fn new(options: ClientOptions) -> Result<Client, S3Error> {
        validate_endpoint(&options.endpoint)?;
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(30)));
        // Set even for plain HTTP: reqwest needs a configured backend to build at all, and
        // only ring may provide it.
        let tls = match options.tls {
            Some(tls) => tls,
            None => default_tls()?,
        };
        builder = builder.tls_backend_preconfigured(tls);
        if let Some(proxy) = &options.proxy {
            let mut p = reqwest::Proxy::all(&proxy.url)
                .map_err(|e| S3Error::Client(format!("invalid proxy address: {e}")))?;
            if proxy.username.is_some() || proxy.password.is_some() {
                p = p.basic_auth(
                    proxy.username.as_deref().unwrap_or_default(),
                    proxy.password.as_deref().unwrap_or_default(),
                );
            }
            builder = builder.proxy(p);
        }
        let http = builder
            .build()
            .map_err(|e| S3Error::Client(e.without_url().to_string()))?;
        Ok(Client {
            http,
            scheme: if options.insecure { "http" } else { "https" },
            endpoint: options.endpoint,
            region_configured: options.region.as_deref().is_some_and(|r| !r.is_empty()),
            region: Arc::new(RwLock::new(
                options
                    .region
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| DEFAULT_REGION.to_owned()),
            )),
            credentials: options.credentials,
            addressing: options.addressing,
        })
    }

    /// HeadBucket: `Ok(false)` when the bucket does not exist. A refused HEAD has no body, so
    /// the refusal is asked again with a one-key listing to report S3's own code and message.
    /// Without a configured region, a refusal naming the bucket's region in
    /// `x-amz-bucket-region` (as Amazon S3 answers) switches to that region once.
    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool, S3Error> {
        let mut response = self.send("HEAD", bucket, "", &[]).await?;
        let learnt = response
            .headers()
            .get("x-amz-bucket-region")
            .and_then(|v| v.to_str().ok())
            .filter(|r| !r.is_empty() && *r != self.region().as_str())
            .map(str::to_owned);
        if let Some(region) =
            learnt.filter(|_| !self.region_configured && !response.status().is_success())
        {
            *self.region.write().unwrap_or_else(PoisonError::into_inner) = region;
            response = self.send("HEAD", bucket, "", &[]).await?;
        }
        let status = response.status();
        if status.is_success() {
            return Ok(true);
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(false);
        }
        if status == reqwest::StatusCode::FORBIDDEN || status == reqwest::StatusCode::BAD_REQUEST {
            let query = [("list-type", "2"), ("max-keys", "1")];
            let response = self.send("GET", bucket, "", &pairs(&query)).await?;
            if !response.status().is_success() {
                return Err(service_error(response).await);
            }
        }
        Err(S3Error::Service {
            status: status.as_u16(),
            code: status
                .canonical_reason()
                .unwrap_or("Error")
                .replace(' ', ""),
            message: format!("HEAD bucket answered {status}"),
        })
    }

    /// One ListObjectsV2 page of the keys under `prefix` (no delimiter: the whole tree).
    pub async fn list_page(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        continuation_token: Option<&str>,
        max_keys: Option<u32>,
    ) -> Result<ListPage, S3Error> {
        let mut query = vec![("list-type".to_owned(), "2".to_owned())];
        if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
            query.push(("prefix".to_owned(), prefix.to_owned()));
        }
        if let Some(token) = continuation_token {
            query.push(("continuation-token".to_owned(), token.to_owned()));
        }
        if let Some(max) = max_keys {
            query.push(("max-keys".to_owned(), max.to_string()));
        }
        let response = self.send("GET", bucket, "", &query).await?;
        if !response.status().is_success() {
            return Err(service_error(response).await);
        }
        let body = read_limited(response, MAX_LIST_BODY, "ListObjectsV2").await?;
        parse_list(&body)
    }

    /// Every object under `prefix`, following continuation tokens.
    pub async fn list_all(
        &self,
        bucket: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<ObjectInfo>, S3Error> {
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .list_page(bucket, prefix, token.as_deref(), None)
                .await?;
            objects.extend(page.objects);
            match page.next_continuation_token {
                None => return Ok(objects),
                // A server repeating its token would page forever.
                Some(next) if token.as_deref() == Some(next.as_str()) => {
                    return Err(S3Error::Malformed {
                        what: "ListObjectsV2",
                        detail: "the continuation token did not advance".to_owned(),
                    });
                }
                Some(next) => token = Some(next),
            }
        }
    }

    /// GetObject into `path` (parents created), at most `limit` bytes; returns the ETag.
    pub async fn get_object_to(
        &self,
        bucket: &str,
        key: &str,
        path: &Path,
        limit: u64,
    ) -> Result<String, S3Error> {
        let mut response = self.send("GET", bucket, key, &[]).await?;
        if !response.status().is_success() {
            return Err(service_error(response).await);
        }
        let too_large = || S3Error::TooLarge {
            key: key.to_owned(),
            limit,
        };
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(too_large());
        }
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(trim_etag)
            .unwrap_or_default();
        let io = |source| S3Error::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        let mut file = tokio::fs::File::create(path).await.map_err(io)?;
        let mut written: u64 = 0;
        let url = self.url(bucket, key, &[]);
        while let Some(chunk) = response.chunk().await.map_err(|e| S3Error::Transport {
            url: url.clone(),
            source: e.without_url(),
        })? {
            written += chunk.len() as u64;
            if written > limit {
                return Err(too_large());
            }
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
        Ok(etag)
    }

    /// The URL of `key` in `bucket` (empty key: the bucket) with `query`.
    pub fn url(&self, bucket: &str, key: &str, query: &[(String, String)]) -> String {
        let key_path = sigv4::uri_encode(key, false);
        let (host, path) = if self.virtual_host(bucket) {
            (
                format!("{bucket}.{}", self.endpoint),
                format!("/{key_path}"),
            )
        } else if key.is_empty() {
            (self.endpoint.clone(), format!("/{bucket}"))
        } else {
            (self.endpoint.clone(), format!("/{bucket}/{key_path}"))
        };
        let query = sigv4::canonical_query(query);
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        format!("{}://{host}{path}{query}", self.scheme)
    }

    /// The region requests are signed for.
    pub fn region(&self) -> String {
        self.region
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn virtual_host(&self, bucket: &str) -> bool {
        match self.addressing {
            Addressing::Path => false,
            Addressing::VirtualHost => true,
            Addressing::Auto => {
                let host = self.endpoint.split(':').next().unwrap_or_default();
                let known = (host.starts_with("s3") && host.ends_with(".amazonaws.com"))
                    || host == "storage.googleapis.com"
                    || host.ends_with(".aliyuncs.com");
                known && dns_compatible(bucket) && !(self.scheme == "https" && bucket.contains('.'))
            }
        }
    }

    /// Signs and sends one request with an empty body.
    async fn send(
        &self,
        method: &'static str,
        bucket: &str,
        key: &str,
        query: &[(String, String)],
    ) -> Result<reqwest::Response, S3Error> {
        let url = self.url(bucket, key, query);
        let parsed = url::Url::parse(&url).map_err(|e| S3Error::InvalidEndpoint {
            endpoint: self.endpoint.clone(),
            reason: e.to_string(),
        })?;
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => self.endpoint.clone(),
        };
        let amz_date = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let method_value = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| S3Error::Client(e.to_string()))?;
        let mut request = self
            .http
            .request(method_value, parsed.clone())
            .header("x-amz-date", &amz_date)
            .header("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256);
        if let Some(creds) = &self.credentials {
            let mut headers = vec![
                ("host".to_owned(), host),
                (
                    "x-amz-content-sha256".to_owned(),
                    EMPTY_PAYLOAD_SHA256.to_owned(),
                ),
                ("x-amz-date".to_owned(), amz_date.clone()),
            ];
            if let Some(token) = &creds.session_token {
                headers.push(("x-amz-security-token".to_owned(), token.clone()));
                request = request.header("x-amz-security-token", token);
            }
            let region = self.region();
            let scope = Scope {
                amz_date: &amz_date,
                region: &region,
                service: "s3",
            };
            let signed = sigv4::sign(
                &Request {
                    method,
                    path: parsed.path(),
                    query,
                    headers: &headers,
                    payload_sha256: EMPTY_PAYLOAD_SHA256,
                },
                &creds.secret_key,
                &scope,
            );
            request = request.header(
                reqwest::header::AUTHORIZATION,
                signed.authorization(&creds.access_key, &scope),
            );
        }
        request.send().await.map_err(|e| S3Error::Transport {
            url: redact_query(&url),
            source: e.without_url(),
        })
    }
}

fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
    query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Continuation tokens are opaque and may be long; errors show the path only.
fn redact_query(url: &str) -> String {
    url.split_once('?').map_or(url, |(base, _)| base).to_owned()
}

fn validate_endpoint(endpoint: &str) -> Result<(), S3Error> {
    let invalid = |reason: &str| S3Error::InvalidEndpoint {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    if endpoint.is_empty() {
        return Err(invalid("the endpoint is empty"));
    }
    if endpoint.contains("://") {
        return Err(invalid(
            "expected host[:port] without a scheme (use spec.insecure for plain HTTP)",
        ));
    }
    if endpoint.contains(['/', '?', '#', '@']) || endpoint.chars().any(char::is_whitespace) {
        return Err(invalid(
            "expected host[:port] without path, query or user info",
        ));
    }
    Ok(())
}

/// Lower-case letters, digits, `-` and `.`, 3 to 63 characters, alphanumeric at both ends.
fn dns_compatible(bucket: &str) -> bool {
    let ok_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let ends = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    (3..=63).contains(&bucket.len())
        && ok_chars
        && ends(bucket.bytes().next())
        && ends(bucket.bytes().last())
        && !bucket.contains("..")
}

/// ETags are quoted on the wire; Flux's index holds them bare.
pub fn trim_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_owned()
}

fn default_tls() -> Result<rustls::ClientConfig, S3Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| S3Error::Client(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(endpoint: &str, insecure: bool) -> Client {
        Client::new(ClientOptions {
            endpoint: endpoint.to_owned(),
            insecure,
            region: None,
            credentials: None,
            tls: None,
            proxy: None,
            timeout: Duration::from_secs(5),
            addressing: Addressing::Auto,
        })
        .expect("valid options")
    }

    #[test]
    fn generic_endpoints_use_path_style_and_aws_virtual_hosts() {
        let minio = client("minio.local:9000", true);
        assert_eq!(
            minio.url("flux", "a b/c.yaml", &[]),
            "http://minio.local:9000/flux/a%20b/c.yaml"
        );
        assert_eq!(minio.url("flux", "", &[]), "http://minio.local:9000/flux");
        let aws = client("s3.eu-west-1.amazonaws.com", false);
        assert_eq!(
            aws.url("flux", "k", &[]),
            "https://flux.s3.eu-west-1.amazonaws.com/k"
        );
        // Dots break the wildcard certificate over HTTPS: path style then.
        assert_eq!(
            aws.url("my.bucket", "k", &[]),
            "https://s3.eu-west-1.amazonaws.com/my.bucket/k"
        );
    }

    #[test]
    fn endpoints_with_scheme_or_path_are_refused() {
        for bad in ["http://minio:9000", "minio:9000/path", "", "user@host"] {
            let options = ClientOptions {
                endpoint: bad.to_owned(),
                insecure: true,
                region: None,
                credentials: None,
                tls: None,
                proxy: None,
                timeout: Duration::from_secs(1),
                addressing: Addressing::Auto,
            };
            assert!(Client::new(options).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_truncated_page_carries_its_continuation_token_and_bare_etags() {
        let page = parse_list(
            "<ListBucketResult><IsTruncated>true</IsTruncated>\
             <NextContinuationToken>t2</NextContinuationToken>\
             <Contents><Key>a</Key><ETag>&quot;e1&quot;</ETag><Size>4</Size></Contents>\
             </ListBucketResult>",
        )
        .expect("valid");
        assert_eq!(page.next_continuation_token.as_deref(), Some("t2"));
        assert_eq!(
            page.objects,
            vec![ObjectInfo {
                key: "a".into(),
                etag: "e1".into(),
                size: 4
            }]
        );
        let err =
            parse_list("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>")
                .expect_err("no token");
        assert!(err.to_string().contains("NextContinuationToken"), "{err}");
    }

    #[test]
    fn a_not_found_error_is_recognised() {
        let err = S3Error::Service {
            status: 404,
            code: "NoSuchKey".into(),
            message: "gone".into(),
        };
        assert!(err.is_not_found());
        assert!(!err.is_auth_failure());
    }
}
