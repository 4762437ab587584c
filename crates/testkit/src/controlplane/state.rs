//! The state file of a running plane: which processes belong to it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::process::{self, Running};

const FILE: &str = "state.json";

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub components: Vec<Running>,
}

impl State {
    /// The recorded state, or None when there is none or it is unreadable
    /// (an unreadable file is treated as "nothing known to be running"; the
    /// /proc scan in `pids_referencing` still finds strays).
    pub fn load(dir: &Path) -> Option<Self> {
        let bytes = std::fs::read(dir.join(FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::fsutil::write_private(&dir.join(FILE), &json, |_, e| e)
    }

    pub fn remove(dir: &Path) {
        let _ = std::fs::remove_file(dir.join(FILE));
    }

    pub fn all_alive(&self) -> bool {
        !self.components.is_empty() && self.components.iter().all(Running::is_running)
    }
}

/// Pids of live component processes (executable named in `executables`)
/// whose command line mentions `dir`. Every component is started with a flag
/// naming its plane's state directory, so this finds them even when the state
/// file is gone, while a user's `kubectl --kubeconfig=<dir>/…` is left alone.
pub fn pids_referencing(dir: &Path, executables: &[&str]) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if u32::try_from(pid).ok() == Some(me) {
            continue;
        }
        let is_component = std::fs::read_link(entry.path().join("exe"))
            .ok()
            .and_then(|exe| exe.file_name().map(|n| n.to_string_lossy().into_owned()))
            .is_some_and(|name| executables.contains(&name.as_str()));
        if !is_component {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args = String::from_utf8_lossy(&cmdline);
        let mentions = args
            .split('\0')
            .any(|arg| arg.contains(&format!("{needle}/")) || arg.ends_with(needle.as_str()));
        if mentions && process::is_alive(pid) {
            pids.push(pid);
        }
    }
    pids
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn state_round_trips_and_a_garbled_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(State::load(dir.path()).is_none());
        let state = State {
            components: vec![Running {
                component: "etcd".into(),
                pid: 1,
                log: dir.path().join("etcd.log"),
                start_ticks: Some(42),
            }],
        };
        state.save(dir.path()).unwrap();
        assert_eq!(
            State::load(dir.path()).unwrap().components,
            state.components
        );
        std::fs::write(dir.path().join(FILE), b"\x00garbage").unwrap();
        assert!(State::load(dir.path()).is_none());
    }

    #[test]
    fn processes_naming_the_state_dir_are_found_without_a_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("data");
        let running = process::spawn_detached(
            "sleeper",
            Path::new("/bin/sleep"),
            &["30".into()],
            &dir.path().join("log"),
        )
        .unwrap();
        let shell = std::fs::canonicalize("/bin/sh").unwrap();
        let shell = shell.file_name().unwrap().to_str().unwrap().to_string();
        let components = [shell.as_str(), "sleep"];
        // `sleep 30` does not name the dir: not ours.
        assert!(!pids_referencing(dir.path(), &components).contains(&running.pid));
        process::stop_group(running.pid, Duration::from_secs(2));

        let ours = process::spawn_detached(
            "sh",
            Path::new("/bin/sh"),
            // `; :` keeps the shell alive: with a lone command dash would exec
            // `sleep` in its place and the marker argument would vanish.
            &[
                "-c".into(),
                "sleep 30; :".into(),
                marker.display().to_string(),
            ],
            &dir.path().join("log"),
        )
        .unwrap();
        // Right after the fork the child may not have exec'd the shell yet (its cmdline is
        // still the parent's): look again until it has, for at most 5 s.
        let found = (0..50).any(|_| {
            let seen = pids_referencing(dir.path(), &components).contains(&ours.pid);
            if !seen {
                std::thread::sleep(Duration::from_millis(100));
            }
            seen
        });
        assert!(found, "the shell naming the state dir is found");
        // The same process is not a component when its executable is not one.
        assert!(!pids_referencing(dir.path(), &["etcd"]).contains(&ours.pid));
        process::stop_group(ours.pid, Duration::from_secs(2));
        assert!(!pids_referencing(dir.path(), &components).contains(&ours.pid));
    }
}
