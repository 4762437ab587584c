//! Blocking `Read`/`Write` over one SSH session channel, for gix's blocking transport.
//!
//! russh is async; the connection's own small runtime drives it and each read or write
//! blocks the calling thread on that runtime, bounded by the operation's deadline. Standard
//! error of the remote command (`fatal: ... does not appear to be a git repository`) is kept
//! so that a command that fails before speaking becomes an error that says why.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use russh::ChannelMsg;
use russh::client::Msg;
use russh::{ChannelReadHalf, ChannelWriteHalf};
use tokio::runtime::Handle;

/// The most remote stderr kept for an error message.
const MAX_STDERR: usize = 4096;

/// What the remote command printed to stderr, shared by reader and transport.
pub(crate) type Stderr = Arc<Mutex<Vec<u8>>>;

pub(crate) struct ChannelReader {
    pub half: ChannelReadHalf,
    pub runtime: Handle,
    pub deadline: Instant,
    pub stderr: Stderr,
    pending: Vec<u8>,
    position: usize,
    received_any: bool,
    finished: bool,
}

impl ChannelReader {
    pub fn new(half: ChannelReadHalf, runtime: Handle, deadline: Instant, stderr: Stderr) -> Self {
        ChannelReader {
            half,
            runtime,
            deadline,
            stderr,
            pending: Vec::new(),
            position: 0,
            received_any: false,
            finished: false,
        }
    }

    fn stderr_text(&self) -> String {
        let bytes = self.stderr.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).trim().to_string()
    }
}

impl io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.position < self.pending.len() {
                let n = buf.len().min(self.pending.len() - self.position);
                buf[..n].copy_from_slice(&self.pending[self.position..self.position + n]);
                self.position += n;
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            let left = self.deadline.saturating_duration_since(Instant::now());
            let next = self
                .runtime
                .block_on(tokio::time::timeout(left, self.half.wait()))
                .map_err(|_| {
                    io::Error::new(io::ErrorKind::TimedOut, "SSH channel read timed out")
                })?;
            match next {
                Some(ChannelMsg::Data { data }) => {
                    self.received_any = true;
                    self.pending.clear();
                    self.pending.extend_from_slice(&data);
                    self.position = 0;
                }
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                    if let Ok(mut kept) = self.stderr.lock() {
                        let room = MAX_STDERR.saturating_sub(kept.len());
                        kept.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
                Some(ChannelMsg::Eof | ChannelMsg::Close) | None => {
                    self.finished = true;
                    let stderr = self.stderr_text();
                    // A command that ends without a word on stdout failed: say why.
                    if !self.received_any && !stderr.is_empty() {
                        return Err(io::Error::other(format!("remote: {stderr}")));
                    }
                }
                Some(_) => {}
            }
        }
    }
}

pub(crate) struct ChannelWriter {
    pub half: ChannelWriteHalf<Msg>,
    pub runtime: Handle,
    pub deadline: Instant,
}

impl io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        self.runtime
            .block_on(tokio::time::timeout(left, self.half.data(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "SSH channel write timed out"))?
            .map_err(|e| io::Error::new(io::ErrorKind::BrokenPipe, format!("SSH channel: {e}")))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
