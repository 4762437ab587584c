//! Requests for different objects of one set do not depend on each other: Helm, too, creates a
//! batch's objects concurrently. Sent one after another, a release's reconcile spent most of its
//! time waiting on round trips. [`ordered`] runs them a few at a time and keeps their order.

use std::future::Future;

use futures::StreamExt;
use futures::stream::FuturesOrdered;

/// How many requests of one set are in flight at once: enough to hide round trips, few enough
/// that a Kustomization of thousands of objects does not open thousands of requests (the
/// client's rate limit paces them anyway).
pub const CONCURRENT_REQUESTS: usize = 8;

/// Runs `futures` with at most `limit` in flight; the outputs come back in input order.
///
/// The futures are built before the first await (a `Vec`), so no closure is held across an
/// await: stream adapters with borrowing closures make the caller's future fail the `Send`
/// bound that trait methods returning `impl Future + Send` require.
pub async fn ordered<F: Future>(futures: Vec<F>, limit: usize) -> Vec<F::Output> {
    let mut outputs = Vec::with_capacity(futures.len());
    let mut pending = FuturesOrdered::new();
    for future in futures {
        if pending.len() >= limit.max(1)
            && let Some(output) = pending.next().await
        {
            outputs.push(output);
        }
        pending.push_back(future);
    }
    while let Some(output) = pending.next().await {
        outputs.push(output);
    }
    outputs
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn outputs_keep_input_order_and_never_exceed_the_limit_in_flight() {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let futures: Vec<_> = (0..20u64)
            .map(|i| {
                let in_flight = Arc::clone(&in_flight);
                let most = Arc::clone(&most);
                async move {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // Later inputs finish first: order must come from the input, not timing.
                    tokio::time::sleep(Duration::from_millis(20 - i)).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    i
                }
            })
            .collect();
        let outputs = ordered(futures, 4).await;
        assert_eq!(outputs, (0..20).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 4);
    }
}
