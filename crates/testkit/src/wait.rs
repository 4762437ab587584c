//! Waiting for the cluster to converge, with a deadline and a useful message.

use std::future::Future;
use std::time::Duration;

/// Polls `check` every 200 ms until it returns `Some(value)`, or fails after
/// `timeout` with an error naming `what` and the last observation.
pub async fn until<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, String>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = String::from("no observation yet");
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(observed) => last = observed,
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "timed out after {timeout:?} waiting for {what}; last: {last}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn until_returns_the_first_value_and_reports_the_last_observation_on_timeout() {
        let mut n = 0;
        let got = until(Duration::from_secs(5), "n to reach 3", || {
            n += 1;
            let n = n;
            async move { Ok((n >= 3).then_some(n)) }
        })
        .await
        .unwrap();
        assert_eq!(got, 3);

        let err = until::<(), _, _>(Duration::from_millis(300), "never", || async {
            Err("still 0".to_string())
        })
        .await
        .unwrap_err();
        assert!(err.contains("never") && err.contains("still 0"), "{err}");
    }
}
