//! `--enable-leader-election`: like controller-runtime's manager, reconcile and serve artifacts
//! only once this replica leads (Flux starts the file server on the elected leader only), stop
//! everything when leadership is lost, and release the Lease only after the workers have
//! stopped, so two replicas never reconcile at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::flags::{RUNTIME_NAMESPACE_ENV, RuntimeArgs};
use crate::leader::{LeaderConfig, LeaderError, elect};
use crate::metrics::Metrics;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A boxed shutdown future.
pub type Signal = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// This replica leads (or runs without election); holds the Lease until [`Led::release`].
pub struct Led {
    /// Resolves on the process shutdown signal or when leadership is lost.
    pub signal: Signal,
    lost: Arc<AtomicBool>,
    release: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Led {
    /// Takes the stop signal, leaving one that never resolves.
    pub fn take_signal(&mut self) -> Signal {
        std::mem::replace(&mut self.signal, Box::pin(std::future::pending()))
    }

    /// Releases the Lease (if any) once the workers stopped; `true` when leadership was lost.
    pub async fn release(self) -> bool {
        if let Some((tx, task)) = self.release {
            let _ = tx.send(());
            let _ = task.await;
        }
        self.lost.load(Ordering::SeqCst)
    }
}

/// Waits until this replica leads. `None` when `shutdown` came first. Without
/// `--enable-leader-election` this replica leads at once.
pub async fn lead(
    client: kube::Client,
    args: &RuntimeArgs,
    controller: &str,
    metrics: Option<&Metrics>,
    shutdown: Signal,
) -> Result<Option<Led>, LeaderError> {
    let lost = Arc::new(AtomicBool::new(false));
    if !args.enable_leader_election {
        return Ok(Some(Led {
            signal: shutdown,
            lost,
            release: None,
        }));
    }
    let namespace = std::env::var(RUNTIME_NAMESPACE_ENV)
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let config = LeaderConfig::from_args(args, controller, &namespace);
    let mut leadership = elect(client, &config, metrics.cloned()).await?;
    let mut shutdown = shutdown;
    tracing::info!(lease = %config.lease_name, namespace = %config.namespace,
        "attempting to acquire leader lease");
    tokio::select! {
        acquired = leadership.acquired() => {
            if !acquired {
                leadership.stop().await;
                return Ok(None);
            }
        }
        () = &mut shutdown => {
            leadership.stop().await;
            return Ok(None);
        }
    }
    tracing::info!(lease = %config.lease_name, "successfully acquired lease");
    let (lost_tx, lost_rx) = oneshot::channel::<()>();
    let (release_tx, mut release_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        tokio::select! {
            () = leadership.lost() => {
                tracing::error!("leader election lost");
                let _ = lost_tx.send(());
                let _ = (&mut release_rx).await;
            }
            _ = &mut release_rx => {}
        }
        leadership.stop().await;
    });
    let flag = lost.clone();
    let signal: Signal = Box::pin(async move {
        tokio::select! {
            () = shutdown => {}
            result = lost_rx => if result.is_ok() { flag.store(true, Ordering::SeqCst) },
        }
    });
    Ok(Some(Led {
        signal,
        lost,
        release: Some((release_tx, task)),
    }))
}
