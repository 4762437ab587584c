//! One shutdown signal, many listeners: the artifact server, the admin servers, the election and
//! the controller all stop on the same SIGTERM (or test signal), and kube's controller needs its
//! shutdown future to be `Send + Sync`, which a oneshot receiver is.

use std::future::Future;

use tokio::sync::oneshot;

/// Listeners of one shutdown signal, handed out one at a time.
pub struct Signals(std::vec::IntoIter<oneshot::Receiver<()>>);

impl Signals {
    /// `n` listeners that all complete when `shutdown` does (or when the runtime drops the task
    /// forwarding it).
    pub fn new(shutdown: impl Future<Output = ()> + Send + 'static, n: usize) -> Self {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..n).map(|_| oneshot::channel()).unzip();
        tokio::spawn(async move {
            shutdown.await;
            for tx in senders {
                let _ = tx.send(());
            }
        });
        Self(receivers.into_iter())
    }

    /// The next listener; once all `n` are handed out, one that completes at once, so a caller
    /// that asks for too many stops early rather than never.
    pub fn listener(&mut self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let rx = self.0.next();
        async move {
            if let Some(rx) = rx {
                let _ = rx.await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_listener_completes_when_the_signal_fires() {
        let (tx, rx) = oneshot::channel::<()>();
        let mut signals = Signals::new(
            async move {
                let _ = rx.await;
            },
            2,
        );
        let (a, b) = (signals.listener(), signals.listener());
        let _ = tx.send(());
        a.await;
        b.await;
        signals.listener().await;
    }
}
