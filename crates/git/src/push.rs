//! Push (`git-receive-pack`) over smart HTTP or SSH, which gix does not implement.
//!
//! One conversation: the ref advertisement (through gix's HTTP transport, so credentials,
//! TLS and timeouts are exactly the checkout's), our decisions per destination (compare
//! and swap against the advertised id; a non-forced update must fast-forward), one request
//! with the update commands, optional push options and a packfile of the new objects, then
//! the `report-status` answer turned into errors that say which ref failed and why.
//!
//! A rejected push is not retried here: the caller re-clones and re-applies its change on
//! the new tip, which is the only retry that cannot lose or duplicate work.

mod pack;

use std::io::Write as _;
use std::time::Duration;

use gix::ObjectId;
use gix::protocol::transport::client::blocking_io::{self as client, Transport as _};
use gix::protocol::transport::client::{MessageKind, TransportWithoutIO as _, WriteMode};

use crate::commit::Clone;
use crate::error::GitError;
use crate::pktline;
use crate::remote::Session;
use crate::ssh::SshTransport;
use crate::transport;
use crate::url::Scheme;

/// One destination of a push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushTarget {
    /// Full ref name on the remote, e.g. `refs/heads/main`.
    pub destination: String,
    /// Overwrite whatever the remote has (`+src:dst`); otherwise only a fast-forward.
    pub force: bool,
}

impl PushTarget {
    /// `refs/heads/<branch>`, fast-forward only.
    pub fn branch(branch: &str) -> PushTarget {
        PushTarget {
            destination: format!("refs/heads/{branch}"),
            force: false,
        }
    }

    /// A push refspec `[+]<src>:<dst>` whose source is the clone's branch (`<branch>`,
    /// `refs/heads/<branch>` or `HEAD`): the only local ref a clone has.
    pub fn from_refspec(spec: &str, local_branch: &str) -> Result<PushTarget, GitError> {
        let invalid = |reason: String| GitError::InvalidReference {
            reason: format!("push refspec '{spec}': {reason}"),
        };
        let (force, rest) = match spec.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, spec),
        };
        let (src, dst) = rest
            .split_once(':')
            .ok_or_else(|| invalid("expected <src>:<dst>".into()))?;
        let local_full = format!("refs/heads/{local_branch}");
        if src != "HEAD" && src != local_branch && src != local_full {
            return Err(invalid(format!(
                "the source must be the checked-out branch '{local_branch}'"
            )));
        }
        let destination = if dst.starts_with("refs/") {
            dst.to_string()
        } else {
            format!("refs/heads/{dst}")
        };
        if dst.contains('*') || gix::validate::reference::name(destination.as_str().into()).is_err()
        {
            return Err(invalid(format!("'{dst}' is not a valid destination ref")));
        }
        Ok(PushTarget { destination, force })
    }
}

/// Settings of one push.
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// Bounds each HTTP request of the push.
    pub timeout: Duration,
    /// `git push -o` values, sent only when the server advertises `push-options`.
    pub push_options: Vec<String>,
    /// Credentials for the push when they differ from the clone's.
    pub auth: Option<crate::transport::Auth>,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            timeout: crate::checkout::DEFAULT_TIMEOUT,
            push_options: Vec::new(),
            auth: None,
        }
    }
}

/// What happened to one destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefUpdated {
    pub destination: String,
    /// The id the remote had before; `None` when the ref was created.
    pub old: Option<String>,
    /// False when the remote already pointed at the commit (nothing sent for it).
    pub changed: bool,
}

/// The result of a successful push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pushed {
    /// Full id of the pushed commit.
    pub commit: String,
    pub refs: Vec<RefUpdated>,
}

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Git(#[from] GitError),

    #[error(
        "push to '{url}' rejected: '{destination}' is at {remote}, which is not an ancestor of \
         {local} (non-fast-forward); the remote moved, fetch and retry"
    )]
    NonFastForward {
        url: String,
        destination: String,
        remote: String,
        local: String,
    },

    #[error("'{url}' rejected the update of '{destination}': {reason}")]
    Rejected {
        url: String,
        destination: String,
        reason: String,
    },

    #[error("'{url}' could not unpack the pushed objects: {detail}")]
    Unpack { url: String, detail: String },

    #[error("unexpected receive-pack response from '{url}': {detail}")]
    Protocol { url: String, detail: String },
}

impl PushError {
    /// The Flux condition reason (`GitOperationFailed` unless credentials were refused).
    pub fn reason(&self) -> &'static str {
        match self {
            PushError::Git(e) => e.reason(),
            _ => crate::error::REASON_GIT_OPERATION_FAILED,
        }
    }

    /// True when the remote ref moved under us: re-cloning and re-applying may succeed.
    pub fn remote_moved(&self) -> bool {
        match self {
            PushError::NonFastForward { .. } => true,
            PushError::Rejected { reason, .. } => [
                "non-fast-forward",
                "fetch first",
                "stale info",
                "failed to update ref",
                "failed to lock",
            ]
            .iter()
            .any(|r| reason.contains(r)),
            _ => false,
        }
    }
}

const ZERO_ID: &str = "0000000000000000000000000000000000000000";

/// Push the clone's tip to every target in one receive-pack request.
pub fn push(
    clone: &Clone,
    targets: &[PushTarget],
    options: &PushOptions,
) -> Result<Pushed, PushError> {
    let repo = &clone.session.repo;
    let auth = options.auth.as_ref().unwrap_or(&clone.auth);
    let session = Session::open(clone.session.url.clone(), auth, options.timeout)?;
    let url = session.url.sanitized.clone();
    let operation = "pushing to";
    let classify = |e: gix::Error| PushError::Git(session.classify(e, operation));
    let io_err = |e: std::io::Error| classify(gix::Error::from_error(e));
    let tip = clone.tip;
    let tip_hex = tip.to_hex().to_string();

    let gix_url = gix::url::parse(url.as_str()).map_err(GitError::object)?;
    let connect = client::connect::Options {
        version: gix::protocol::transport::Protocol::V1,
        ..Default::default()
    };
    // The same receive-pack conversation runs over HTTP or over an SSH channel.
    let mut conn: Box<dyn client::Transport + Send> = if session.url.scheme == Scheme::Ssh {
        Box::new(SshTransport::connect(&session.url, auth, options.timeout)?)
    } else {
        let mut conn = client::connect::connect(gix_url, connect).map_err(classify)?;
        let http = transport::http_options(&session.url, auth, options.timeout)?;
        conn.configure(&http).map_err(classify)?;
        conn
    };

    let (report_status, push_options_supported, advertised) = {
        let handshake = conn
            .handshake(gix::protocol::transport::Service::ReceivePack, &[])
            .map_err(|e| classify(gix::Error::from_error(e)))?;
        let caps = &handshake.capabilities;
        let flags = (
            caps.contains("report-status"),
            caps.contains("push-options"),
        );
        let mut advertised: Vec<(String, String)> = Vec::new();
        if let Some(mut refs) = handshake.refs {
            let mut line = String::new();
            while refs.readline_str(&mut line).map_err(io_err)? > 0 {
                if let Some((id, name)) = line.trim_end().split_once(' ')
                    && name != "capabilities^{}"
                {
                    advertised.push((name.to_string(), id.to_string()));
                }
                line.clear();
            }
        }
        (flags.0, flags.1, advertised)
    };
    if !report_status {
        return Err(PushError::Protocol {
            url,
            detail: "the server does not offer report-status".into(),
        });
    }
    let send_options = !options.push_options.is_empty();
    if send_options && !push_options_supported {
        return Err(PushError::Protocol {
            url,
            detail: "push options were given but the server does not support push-options".into(),
        });
    }

    let mut commands = Vec::new();
    let mut refs = Vec::new();
    for target in targets {
        let current = advertised
            .iter()
            .find(|(name, _)| *name == target.destination)
            .map(|(_, id)| id.clone());
        if current.as_deref() == Some(tip_hex.as_str()) {
            refs.push(RefUpdated {
                destination: target.destination.clone(),
                old: current,
                changed: false,
            });
            continue;
        }
        if let Some(remote) = &current
            && !target.force
            && !is_ancestor(repo, remote, tip)
        {
            return Err(PushError::NonFastForward {
                url,
                destination: target.destination.clone(),
                remote: remote.clone(),
                local: tip_hex,
            });
        }
        let old = current.clone().unwrap_or_else(|| ZERO_ID.to_string());
        commands.push(format!("{old} {tip_hex} {}", target.destination));
        refs.push(RefUpdated {
            destination: target.destination.clone(),
            old: current,
            changed: true,
        });
    }
    if commands.is_empty() {
        return Ok(Pushed {
            commit: tip_hex,
            refs,
        });
    }

    let mut body = Vec::new();
    let agent = format!("agent=driftless/{}", env!("CARGO_PKG_VERSION"));
    let mut capabilities = vec!["report-status", agent.as_str()];
    if send_options {
        capabilities.push("push-options");
    }
    for (i, command) in commands.iter().enumerate() {
        let line = if i == 0 {
            format!("{command}\0{}\n", capabilities.join(" "))
        } else {
            format!("{command}\n")
        };
        pktline::data(&mut body, line.as_bytes()).map_err(GitError::object)?;
    }
    pktline::flush(&mut body);
    if send_options {
        for option in &options.push_options {
            pktline::data(&mut body, option.as_bytes()).map_err(GitError::object)?;
        }
        pktline::flush(&mut body);
    }
    let objects = pack::new_objects(repo, tip, clone.base)?;
    body.extend_from_slice(&pack::write_pack(repo, &objects)?);
    tracing::debug!(url = %url, objects = objects.len(), bytes = body.len(), "pushing");

    let request = conn
        .request(WriteMode::Binary, MessageKind::Flush, false)
        .map_err(|e| classify(gix::Error::from_error(e)))?;
    let (mut writer, mut reader) = request.into_parts();
    writer.write_all(&body).map_err(io_err)?;
    writer.flush().map_err(io_err)?;
    // The reader and writer share the HTTP request: the body must end before reading.
    drop(writer);
    let mut report = Vec::new();
    let mut line = String::new();
    while reader.readline_str(&mut line).map_err(io_err)? > 0 {
        report.push(line.trim_end_matches('\n').to_string());
        line.clear();
    }
    check_report(&url, &report, &commands)?;
    Ok(Pushed {
        commit: tip_hex,
        refs,
    })
}

/// True when `ancestor` is `tip` or one of its first-parent ancestors present locally.
fn is_ancestor(repo: &gix::Repository, ancestor: &str, tip: ObjectId) -> bool {
    let Ok(ancestor) = ObjectId::from_hex(ancestor.as_bytes()) else {
        return false;
    };
    let mut current = tip;
    // A shallow clone only has the fetched tip; the walk ends where history does.
    for _ in 0..10_000 {
        if current == ancestor {
            return true;
        }
        match repo
            .find_commit(current)
            .ok()
            .and_then(|c| c.parent_ids().next())
        {
            Some(parent) => current = parent.detach(),
            None => return false,
        }
    }
    false
}

/// `unpack ok`, then `ok <ref>` or `ng <ref> <reason>` per command.
fn check_report(url: &str, report: &[String], commands: &[String]) -> Result<(), PushError> {
    let protocol = |detail: String| PushError::Protocol {
        url: url.to_string(),
        detail,
    };
    let mut lines = report.iter();
    match lines.next().map(|l| l.strip_prefix("unpack ")) {
        Some(Some("ok")) => {}
        Some(Some(detail)) => {
            return Err(PushError::Unpack {
                url: url.to_string(),
                detail: detail.to_string(),
            });
        }
        _ => return Err(protocol(format!("no unpack status in {report:?}"))),
    }
    let mut confirmed = 0;
    for line in lines {
        if let Some(reference) = line.strip_prefix("ok ") {
            if !commands
                .iter()
                .any(|c| c.ends_with(&format!(" {reference}")))
            {
                return Err(protocol(format!("status for a ref not pushed: {line}")));
            }
            confirmed += 1;
        } else if let Some(rest) = line.strip_prefix("ng ") {
            let (destination, reason) = rest.split_once(' ').unwrap_or((rest, "rejected"));
            return Err(PushError::Rejected {
                url: url.to_string(),
                destination: destination.to_string(),
                reason: reason.to_string(),
            });
        } else {
            return Err(protocol(format!("unexpected status line '{line}'")));
        }
    }
    if confirmed != commands.len() {
        return Err(protocol(format!(
            "{confirmed} of {} ref updates confirmed",
            commands.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(raw: &[&str]) -> Vec<String> {
        raw.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_refspec_must_push_the_checked_out_branch() {
        let t = PushTarget::from_refspec("refs/heads/main:refs/heads/auto", "main").expect("ok");
        assert_eq!(t.destination, "refs/heads/auto");
        assert!(!t.force);
        let t = PushTarget::from_refspec("+HEAD:refs/for/main", "main").expect("ok");
        assert_eq!((t.destination.as_str(), t.force), ("refs/for/main", true));
        assert_eq!(
            PushTarget::from_refspec("main:auto", "main")
                .expect("short dst")
                .destination,
            "refs/heads/auto"
        );
        let err = PushTarget::from_refspec("refs/heads/dev:refs/heads/x", "main").expect_err("src");
        assert!(
            err.to_string().contains("checked-out branch 'main'"),
            "{err}"
        );
        assert!(PushTarget::from_refspec("main", "main").is_err());
        assert!(PushTarget::from_refspec("main:refs/heads/*", "main").is_err());
    }

    #[test]
    fn a_report_with_ng_names_the_ref_and_the_reason() {
        let commands = vec![format!("{ZERO_ID} {ZERO_ID} refs/heads/main")];
        let err = check_report(
            "http://h/r.git",
            &lines(&["unpack ok", "ng refs/heads/main fetch first"]),
            &commands,
        )
        .expect_err("ng");
        assert!(err.remote_moved());
        assert_eq!(
            err.to_string(),
            "'http://h/r.git' rejected the update of 'refs/heads/main': fetch first"
        );
    }

    #[test]
    fn a_report_must_confirm_every_ref_and_a_good_unpack() {
        let commands = vec![
            format!("{ZERO_ID} {ZERO_ID} refs/heads/main"),
            format!("{ZERO_ID} {ZERO_ID} refs/heads/auto"),
        ];
        assert!(
            check_report(
                "u",
                &lines(&["unpack ok", "ok refs/heads/main", "ok refs/heads/auto"]),
                &commands
            )
            .is_ok()
        );
        let partial = check_report("u", &lines(&["unpack ok", "ok refs/heads/main"]), &commands);
        assert!(matches!(partial, Err(PushError::Protocol { .. })));
        let unpack = check_report("u", &lines(&["unpack index-pack abnormal exit"]), &commands);
        assert!(matches!(unpack, Err(PushError::Unpack { .. })));
        assert!(check_report("u", &[], &commands).is_err());
    }
}
