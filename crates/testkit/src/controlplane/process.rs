//! Long-lived component processes: started detached (own process group, output
//! to a log file) so they outlive the command that started them, recorded with
//! their pid, and stopped by signalling the whole group.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A started component as recorded in the cluster state file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Running {
    pub component: String,
    pub pid: i32,
    pub log: PathBuf,
    /// Start time of the process (clock ticks since boot), so a pid the
    /// kernel has recycled for another process is never taken for ours.
    #[serde(default)]
    pub start_ticks: Option<u64>,
}

impl Running {
    /// True while the recorded process itself (not a pid reuse) is alive.
    pub fn is_running(&self) -> bool {
        match stat(self.pid) {
            Some(st) => st.state != 'Z' && self.start_ticks.is_none_or(|t| t == st.start_ticks),
            None => false,
        }
    }
}

/// Starts `program args…` in a new process group with stdin closed and
/// stdout/stderr appended to `log`.
pub fn spawn_detached(
    component: &str,
    program: &Path,
    args: &[String],
    log: &Path,
) -> std::io::Result<Running> {
    use std::os::unix::process::CommandExt;
    let out = File::options().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()?;
    let pid = i32::try_from(child.id()).map_err(std::io::Error::other)?;
    // The child is deliberately not waited for: it belongs to the cluster, not
    // to us. Its exit status is collected by init once we are gone.
    drop(child);
    Ok(Running {
        component: component.to_string(),
        pid,
        log: log.to_path_buf(),
        start_ticks: stat(pid).map(|st| st.start_ticks),
    })
}

struct Stat {
    state: char,
    pgrp: i32,
    start_ticks: u64,
}

/// State letter, process group and start time of a pid, from /proc/<pid>/stat.
fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is parenthesised and may contain spaces; the fields
    // after it start with field 3 (state): 3 state, 5 pgrp, 22 starttime.
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// True when a process with this pid exists and is not a zombie.
pub fn is_alive(pid: i32) -> bool {
    pid > 0 && stat(pid).is_some_and(|st| st.state != 'Z')
}

/// Live (non-zombie) members of process group `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| stat(*pid).is_some_and(|st| st.pgrp == pgid && st.state != 'Z'))
        .collect()
}

fn signal_group(pid: i32, signal: &str) {
    // kill(1) from procps/util-linux takes a negative pid for a process group;
    // using it keeps this crate free of unsafe libc calls.
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pid}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Stops the process group led by `pid`: SIGTERM, then SIGKILL after `grace`.
/// Returns once no member of the group is left (or the SIGKILL wait gives up).
pub fn stop_group(pid: i32, grace: Duration) {
    if pid <= 0 || group_members(pid).is_empty() {
        return;
    }
    signal_group(pid, "TERM");
    if wait_group_gone(pid, grace) {
        return;
    }
    signal_group(pid, "KILL");
    wait_group_gone(pid, Duration::from_secs(5));
}

fn wait_group_gone(pgid: i32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if group_members(pgid).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detached_process_runs_until_its_group_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sleep.log");
        let running = spawn_detached(
            "sleeper",
            Path::new("/bin/sh"),
            &["-c".into(), "echo started; sleep 30 & wait".into()],
            &log,
        )
        .unwrap();
        assert!(is_alive(running.pid));
        assert!(running.is_running());
        let recycled = Running {
            start_ticks: running.start_ticks.map(|t| t + 1),
            ..running.clone()
        };
        assert!(
            !recycled.is_running(),
            "a different start time is another process"
        );
        stop_group(running.pid, Duration::from_secs(5));
        assert!(!is_alive(running.pid));
        // The background `sleep` was in the same group and is gone too.
        assert_eq!(group_members(running.pid), Vec::<i32>::new());
        assert!(std::fs::read_to_string(&log).unwrap().contains("started"));
    }

    #[test]
    fn pids_that_do_not_exist_are_not_alive() {
        assert!(!is_alive(0));
        assert!(!is_alive(-5));
        assert!(!is_alive(i32::MAX));
    }
}
