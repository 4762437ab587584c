//! Flux's retry policy for provider requests (hashicorp/go-retryablehttp as Flux configures
//! it): up to 4 retries after connection failures, 429 and 5xx other than 501, waiting
//! 2 s, 4 s, 8 s… (capped at 30 s, or the server's `Retry-After` on 429/503). The whole
//! delivery, retries included, stays within the provider's timeout.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Retries after the first attempt.
pub(crate) const MAX_RETRIES: u32 = 4;

/// The first wait; tests shrink the waits so that retrying paths stay fast.
#[cfg(not(test))]
const MIN_WAIT: Duration = Duration::from_secs(2);
#[cfg(test)]
const MIN_WAIT: Duration = Duration::from_millis(20);

/// The longest wait.
#[cfg(not(test))]
const MAX_WAIT: Duration = Duration::from_secs(30);
#[cfg(test)]
const MAX_WAIT: Duration = Duration::from_millis(300);

/// Whether a failed attempt is worth another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Try again, after the server's `Retry-After` if it gave one.
    Retry(Option<Duration>),
    /// Give up: the next attempt would fail the same way.
    Final,
}

/// The verdict for an answer with a non-success `status`.
pub(crate) fn for_status(status: StatusCode, headers: &HeaderMap) -> Verdict {
    let retryable = status == StatusCode::TOO_MANY_REQUESTS
        || (status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED);
    if !retryable {
        return Verdict::Final;
    }
    let after = matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    )
    .then(|| retry_after(headers))
    .flatten();
    Verdict::Retry(after)
}

/// The verdict for a request that got no answer. A refused certificate or a malformed
/// request fails the same way every time; connection trouble and timeouts may not.
pub(crate) fn for_error(error: &reqwest::Error) -> Verdict {
    if error.is_builder() || error.is_redirect() {
        return Verdict::Final;
    }
    let mut source = std::error::Error::source(error);
    while let Some(err) = source {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return Verdict::Final;
        }
        source = err.source();
    }
    Verdict::Retry(None)
}

/// How long to wait before retry number `retry` (0-based).
pub(crate) fn wait(retry: u32, after: Option<Duration>) -> Duration {
    if let Some(after) = after {
        return after;
    }
    let factor = 2u32.saturating_pow(retry);
    MIN_WAIT.saturating_mul(factor).min(MAX_WAIT)
}

/// `Retry-After` in seconds (the HTTP-date form is rare from these APIs and is ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_and_throttling_are_retried_but_client_errors_and_501_are_not() {
        let none = HeaderMap::new();
        for code in [429, 500, 502, 503, 504] {
            let status = StatusCode::from_u16(code).expect("status");
            assert_eq!(for_status(status, &none), Verdict::Retry(None), "{code}");
        }
        for code in [400, 401, 403, 404, 422, 501] {
            let status = StatusCode::from_u16(code).expect("status");
            assert_eq!(for_status(status, &none), Verdict::Final, "{code}");
        }
    }

    #[test]
    fn retry_after_is_honoured_on_429_and_503_only() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().expect("value"));
        let after = Verdict::Retry(Some(Duration::from_secs(7)));
        assert_eq!(for_status(StatusCode::TOO_MANY_REQUESTS, &headers), after);
        assert_eq!(for_status(StatusCode::SERVICE_UNAVAILABLE, &headers), after);
        assert_eq!(
            for_status(StatusCode::BAD_GATEWAY, &headers),
            Verdict::Retry(None)
        );
    }

    #[test]
    fn waits_double_from_the_minimum_up_to_the_cap() {
        assert_eq!(wait(0, None), MIN_WAIT);
        assert_eq!(wait(1, None), MIN_WAIT * 2);
        assert_eq!(wait(2, None), MIN_WAIT * 4);
        assert_eq!(wait(10, None), MAX_WAIT);
        assert_eq!(
            wait(0, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
    }
}
