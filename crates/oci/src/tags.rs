//! Tag listing: `GET /v2/<name>/tags/list`, following `Link: <…>; rel="next"` pages
//! (distribution's pagination, with `n` and `last`) until the registry stops sending one.
//!
//! Every page is bounded in bytes and the whole list in count ([`ClientOptions::max_tags`]),
//! so a hostile registry cannot fill memory; a `Link` to another host is refused so the
//! client's credentials never follow it.
//!
//! [`ClientOptions::max_tags`]: crate::ClientOptions::max_tags

use reqwest::header::LINK;
use reqwest::{Method, Url};

use crate::client::{Client, Request, read_limited, safe};
use crate::error::OciError;
use crate::reference::Reference;

/// Pages beyond this many mean a registry that loops.
const MAX_PAGES: usize = 100_000;

#[derive(serde::Deserialize)]
struct TagPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl Client {
    /// Every tag of `reference`'s repository (its tag and digest are ignored), in the order the
    /// registry lists them.
    pub async fn list_tags(&self, reference: &Reference) -> Result<Vec<String>, OciError> {
        let first_path = match self.options().tag_page_limit {
            Some(n) => format!("tags/list?n={n}"),
            None => "tags/list".to_owned(),
        };
        let request = Request {
            method: Method::GET,
            path: &first_path,
            accept: &["application/json"],
        };
        let (mut response, first_url) = self.send(reference, &request).await?;
        let mut url = Url::parse(&first_url).map_err(|e| OciError::Invalid {
            what: "tag list URL",
            url: first_url.clone(),
            reason: e.to_string(),
        })?;
        let mut tags = Vec::new();
        for _ in 0..MAX_PAGES {
            let next = next_link(&response, &url)?;
            let safe_url = safe(url.as_str());
            let body = read_limited(
                response,
                "tag list",
                &safe_url,
                self.options().max_tag_page_size,
            )
            .await?;
            let page: TagPage = serde_json::from_slice(&body).map_err(|e| OciError::Invalid {
                what: "tag list",
                url: safe_url.clone(),
                reason: format!("not a JSON tag list: {e}"),
            })?;
            tags.extend(page.tags.unwrap_or_default());
            if tags.len() > self.options().max_tags {
                return Err(OciError::Invalid {
                    what: "tag list",
                    url: safe_url,
                    reason: format!("more than {} tags", self.options().max_tags),
                });
            }
            let Some(next) = next else {
                return Ok(tags);
            };
            response = self.send_url(reference, &request, next.as_str()).await?;
            url = next;
        }
        Err(OciError::Invalid {
            what: "tag list",
            url: safe(url.as_str()),
            reason: format!("more than {MAX_PAGES} pages"),
        })
    }
}

/// The `rel="next"` target of the response's `Link` header, resolved against `base`.
fn next_link(response: &reqwest::Response, base: &Url) -> Result<Option<Url>, OciError> {
    let Some(header) = response.headers().get(LINK) else {
        return Ok(None);
    };
    let invalid = |reason: &str| OciError::Invalid {
        what: "Link header",
        url: safe(base.as_str()),
        reason: reason.to_owned(),
    };
    let text = header.to_str().map_err(|_| invalid("not ASCII"))?;
    let Some(target) = parse_next(text) else {
        return Ok(None);
    };
    let next = base.join(target).map_err(|e| invalid(&e.to_string()))?;
    if next.origin() != base.origin() {
        return Err(invalid("the next page is on another host"));
    }
    if next == *base {
        return Err(invalid("the next page is the same page"));
    }
    Ok(Some(next))
}

/// The URI of the `rel="next"` link in a `Link` header value (RFC 8288), if any.
pub fn parse_next(header: &str) -> Option<&str> {
    header.split(',').find_map(|link| {
        let link = link.trim();
        let (target, params) = link.strip_prefix('<')?.split_once('>')?;
        params
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .any(|(key, value)| {
                key.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|rel| rel.eq_ignore_ascii_case("next"))
            })
            .then_some(target)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_among_other_relations() {
        assert_eq!(
            parse_next(r#"</v2/app/tags/list?n=2&last=b>; rel="next""#),
            Some("/v2/app/tags/list?n=2&last=b")
        );
        assert_eq!(
            parse_next(r#"<https://r.io/prev>; rel="prev", <https://r.io/next>; rel=next"#),
            Some("https://r.io/next")
        );
        assert_eq!(parse_next(r#"<https://r.io/prev>; rel="prev""#), None);
        assert_eq!(parse_next("garbage"), None);
    }

    #[test]
    fn relative_links_resolve_against_the_registry() {
        let base = Url::parse("http://127.0.0.1:5000/v2/app/tags/list?n=2").expect("url");
        let next = base
            .join("/v2/app/tags/list?n=2&last=b")
            .expect("relative link");
        assert_eq!(
            next.as_str(),
            "http://127.0.0.1:5000/v2/app/tags/list?n=2&last=b"
        );
        assert_eq!(next.origin(), base.origin());
    }
}
