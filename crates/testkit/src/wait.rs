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

/// Polls object `name` until `check` accepts it, and returns it; on timeout the error shows
/// the object's last `.status`.
pub async fn object<K>(
    api: &kube::Api<K>,
    name: &str,
    timeout: Duration,
    what: &str,
    check: impl Fn(&K) -> bool,
) -> anyhow::Result<K>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + serde::Serialize,
{
    let check = &check;
    until(timeout, what, || async move {
        let object = api.get(name).await.map_err(|e| e.to_string())?;
        if check(&object) {
            Ok(Some(object))
        } else {
            let value = serde_json::to_value(&object).unwrap_or_default();
            Err(value
                .get("status")
                .map(ToString::to_string)
                .unwrap_or_default())
        }
    })
    .await
    .map_err(anyhow::Error::msg)
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
