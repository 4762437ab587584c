//! One shutdown signal, many listeners: the artifact server, the admin servers, the election and
//! the controller all stop on the same SIGTERM (or test signal), and kube's controller needs its
//! shutdown future to be `Send + Sync`, which a oneshot receiver is.

use std::future::Future;

use tokio::sync::watch;

/// Listeners of one shutdown signal, as many as asked for. (It used to hand out a fixed
/// number and complete any extra listener at once: a controller added without raising the
/// count stopped as soon as it started.)
pub struct Signals(watch::Receiver<bool>);

impl Signals {
    /// Listeners that all complete when `shutdown` does (or when the runtime drops the task
    /// forwarding it).
    pub fn new(shutdown: impl Future<Output = ()> + Send + 'static) -> Self {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = tx.send(true);
        });
        Self(rx)
    }

    /// One more listener.
    pub fn listener(&mut self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let mut rx = self.0.clone();
        async move {
            // An error means the forwarding task is gone: stop as well.
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn no_listener_completes_before_the_signal() {
        let (_tx, rx) = oneshot::channel::<()>();
        let mut signals = Signals::new(async move {
            let _ = rx.await;
        });
        for _ in 0..10 {
            let waited =
                tokio::time::timeout(std::time::Duration::from_millis(20), signals.listener())
                    .await;
            assert!(waited.is_err(), "a listener completed without a signal");
        }
    }

    #[tokio::test]
    async fn every_listener_however_many_completes_when_the_signal_fires() {
        let (tx, rx) = oneshot::channel::<()>();
        let mut signals = Signals::new(async move {
            let _ = rx.await;
        });
        let mut listeners = Vec::new();
        for _ in 0..10 {
            listeners.push(signals.listener());
        }
        let _ = tx.send(());
        for listener in listeners {
            listener.await;
        }
        // One asked for after the signal completes too.
        signals.listener().await;
    }
}
