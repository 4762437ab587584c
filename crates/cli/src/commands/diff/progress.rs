//! diff's progress bar: a spinner with what is being waited for, on stderr and only when
//! stderr is a terminal (flux's spinner likewise draws nothing when not on a terminal), so
//! piped output and CI logs stay clean.

use std::io::{IsTerminal, Write};
use std::time::Duration;

const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// What the spinner says, flux's words.
pub const MESSAGE: &str = "running dry-run";

/// A running spinner; dropping it stops it and clears its line.
pub struct Spinner {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Spinner {
    /// Starts spinning on stderr if it is a terminal.
    pub fn start() -> Self {
        if !std::io::stderr().is_terminal() {
            return Spinner { task: None };
        }
        let task = tokio::spawn(async {
            for frame in FRAMES.iter().cycle() {
                let mut err = std::io::stderr();
                let _ = write!(err, "\r{frame} {MESSAGE}");
                let _ = err.flush();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Spinner { task: Some(task) }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}
