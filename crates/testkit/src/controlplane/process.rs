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
    })
}

/// State letter and process group of a pid, from /proc/<pid>/stat.
fn stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is parenthesised and may contain spaces; fields after
    // it are: state, ppid, pgrp, ...
    let (_, rest) = text.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// True when a process with this pid exists and is not a zombie.
pub fn is_alive(pid: i32) -> bool {
    pid > 0 && stat(pid).is_some_and(|(state, _)| state != 'Z')
}

/// Live (non-zombie) members of process group `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| stat(*pid).is_some_and(|(state, pgrp)| pgrp == pgid && state != 'Z'))
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
