//! Reading S3 responses: bounded bodies, `<Error>` documents as [`S3Error::Service`], and
//! `ListBucketResult` pages.

use crate::client::{ListPage, ObjectInfo, trim_etag};
use crate::error::S3Error;
use crate::xml;

/// Largest error body read for its code and message.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// Reads at most `limit` bytes of body as UTF-8.
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    limit: u64,
    what: &'static str,
) -> Result<String, S3Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| S3Error::Malformed {
        what,
        detail: e.without_url().to_string(),
    })? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(S3Error::Malformed {
                what,
                detail: format!("body larger than {limit} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| S3Error::Malformed {
        what,
        detail: "body is not UTF-8".to_owned(),
    })
}

/// The S3 `<Error>` of a failed response, or its status when the body has none.
pub(crate) async fn service_error(response: reqwest::Response) -> S3Error {
    let status = response.status();
    let fallback = || S3Error::Service {
        status: status.as_u16(),
        code: status
            .canonical_reason()
            .unwrap_or("Error")
            .replace(' ', ""),
        message: format!("the service answered {status}"),
    };
    let Ok(body) = read_limited(response, MAX_ERROR_BODY, "error").await else {
        return fallback();
    };
    match xml::parse(&body) {
        Ok(root) if root.name == "Error" => S3Error::Service {
            status: status.as_u16(),
            code: root.child_text("Code").unwrap_or("Error").to_owned(),
            message: root
                .child_text("Message")
                .filter(|m| !m.is_empty())
                .map_or_else(|| format!("the service answered {status}"), str::to_owned),
        },
        _ => fallback(),
    }
}

/// Parses a `ListBucketResult`.
pub fn parse_list(body: &str) -> Result<ListPage, S3Error> {
    let malformed = |detail: String| S3Error::Malformed {
        what: "ListObjectsV2",
        detail,
    };
    let root = xml::parse(body).map_err(malformed)?;
    if root.name != "ListBucketResult" {
        return Err(malformed(format!(
            "unexpected root element '{}'",
            root.name
        )));
    }
    let mut objects = Vec::new();
    for contents in root.children_named("Contents") {
        let key = contents
            .child_text("Key")
            .ok_or_else(|| malformed("an entry has no Key".to_owned()))?;
        objects.push(ObjectInfo {
            key: key.to_owned(),
            etag: contents
                .child_text("ETag")
                .map(trim_etag)
                .unwrap_or_default(),
            size: contents
                .child_text("Size")
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0),
        });
    }
    let truncated = root
        .child_text("IsTruncated")
        .is_some_and(|t| t.trim() == "true");
    let next = root
        .child_text("NextContinuationToken")
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let next_continuation_token = match (truncated, next) {
        (false, _) => None,
        (true, Some(token)) => Some(token),
        (true, None) => {
            return Err(malformed(
                "truncated listing without NextContinuationToken".to_owned(),
            ));
        }
    };
    Ok(ListPage {
        objects,
        next_continuation_token,
    })
}
