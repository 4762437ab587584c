//! `up` / `down` of a control plane of its own (other ports, other state
//! directory), so these tests never disturb the shared plane other tests use.

use std::net::TcpListener;
use std::time::Duration;

use testkit::{Cache, ControlPlane, ControlPlaneError, UpOutcome};

/// A port base of its own, offset from the shared plane's so that two runs
/// with different `DRIFTLESS_CLUSTER_PORT_BASE` never collide.
fn own_port_base(offset: u16) -> u16 {
    std::env::var("DRIFTLESS_CLUSTER_PORT_BASE")
        .ok()
        .and_then(|v| v.parse::<u16>().ok())
        .unwrap_or(testkit::controlplane::DEFAULT_PORT_BASE)
        .saturating_add(offset)
}

fn ports_free(plane: &ControlPlane) -> Vec<u16> {
    plane
        .ports()
        .all()
        .iter()
        .filter(|(port, _)| TcpListener::bind(("127.0.0.1", *port)).is_err())
        .map(|(port, _)| *port)
        .collect()
}

fn processes_mentioning(dir: &std::path::Path) -> Vec<String> {
    let out = std::process::Command::new("pgrep")
        .args(["-a", "-f", &dir.display().to_string()])
        .output()
        .expect("pgrep runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains("pgrep"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_twice_reuses_the_running_plane_and_down_leaves_no_process_behind() {
    let plane = ControlPlane::new(Cache::from_env(), "lifecycle-test", own_port_base(100));
    plane.down().unwrap();

    // Two racing `up`s (as two test binaries would) start one plane between them.
    let (a, b) = tokio::join!(plane.up(), plane.up());
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| matches!(o, UpOutcome::AlreadyRunning));
    assert!(
        matches!(outcomes[0], UpOutcome::Started { .. }),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], UpOutcome::AlreadyRunning, "{outcomes:?}");
    let version = plane
        .client()
        .await
        .unwrap()
        .apiserver_version()
        .await
        .unwrap();
    assert_eq!(version.major, "1");
    assert!(!processes_mentioning(plane.state_dir()).is_empty());

    let second = plane.up().await.unwrap();
    assert_eq!(second, UpOutcome::AlreadyRunning);

    let stopped = plane.down().unwrap();
    for component in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
    ] {
        assert!(
            stopped.iter().any(|s| s == component),
            "{component} not stopped: {stopped:?}"
        );
    }
    assert_eq!(
        processes_mentioning(plane.state_dir()),
        Vec::<String>::new()
    );
    assert_eq!(
        ports_free(&plane),
        Vec::<u16>::new(),
        "ports still bound after down"
    );
    assert!(!plane.is_healthy().await);
    // A second down is harmless.
    assert_eq!(plane.down().unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn a_taken_port_is_reported_at_once_and_nothing_is_started() {
    let plane = ControlPlane::new(Cache::from_env(), "port-clash-test", own_port_base(200));
    plane.down().unwrap();
    let squatter = TcpListener::bind(("127.0.0.1", plane.ports().apiserver)).unwrap();

    let started = std::time::Instant::now();
    let err = plane.up().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    match &err {
        ControlPlaneError::PortInUse { port, component } => {
            assert_eq!(*port, plane.ports().apiserver);
            assert_eq!(*component, "kube-apiserver");
        }
        other => panic!("expected PortInUse, got {other}"),
    }
    let message = err.to_string();
    assert!(message.contains("DRIFTLESS_CLUSTER_PORT_BASE"), "{message}");
    assert_eq!(
        processes_mentioning(plane.state_dir()),
        Vec::<String>::new()
    );
    drop(squatter);
}
