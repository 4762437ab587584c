//! A forwarding proxy on loopback for tests of proxied Git: HTTP `CONNECT` tunnels,
//! absolute-form plain HTTP requests forwarded to the origin, and SOCKS5 `CONNECT`, all on
//! one port (a first byte of 5 is SOCKS). With credentials set, HTTP clients without the
//! right `Proxy-Authorization` get 407 and SOCKS5 clients a failed RFC 1929 login.
//!
//! Every tunnel or forward it opens is recorded, so a test can assert the proxy was used.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// How a client reached its target through the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `CONNECT host:port` (HTTPS remotes, SSH through an HTTP proxy).
    Connect,
    /// An absolute-form request (`GET http://host:port/...`) forwarded to the origin.
    Forward,
    /// SOCKS5 `CONNECT`.
    Socks5,
}

/// One connection the proxy opened on a client's behalf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tunnel {
    pub protocol: Protocol,
    /// `host:port` of the target.
    pub target: String,
}

#[derive(Default)]
struct Log {
    tunnels: Vec<Tunnel>,
    refused: usize,
}

struct Shared {
    credentials: Option<(String, String)>,
    log: Mutex<Log>,
}

/// The proxy; stops when dropped.
pub struct ProxyServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl ProxyServer {
    /// Start on an ephemeral loopback port; `credentials` (username, password) are then
    /// required from every client. Needs a Tokio runtime.
    pub async fn start(credentials: Option<(&str, &str)>) -> anyhow::Result<ProxyServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            credentials: credentials.map(|(u, p)| (u.to_string(), p.to_string())),
            log: Mutex::new(Log::default()),
        });
        let accept_shared = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = accept_shared.clone();
                tokio::spawn(async move {
                    if let Err(err) = serve(client, &shared).await {
                        tracing::debug!(error = %format!("{err:#}"), "test proxy connection ended");
                    }
                });
            }
        });
        Ok(ProxyServer { addr, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `socks5://127.0.0.1:<port>`
    pub fn socks5_url(&self) -> String {
        format!("socks5://{}", self.addr)
    }

    /// The tunnels and forwards opened so far, in order.
    pub fn tunnels(&self) -> Vec<Tunnel> {
        self.shared
            .log
            .lock()
            .map(|l| l.tunnels.clone())
            .unwrap_or_default()
    }

    /// How many clients were turned away for missing or wrong credentials.
    pub fn refused(&self) -> usize {
        self.shared
            .log
            .lock()
            .map(|l| l.refused)
            .unwrap_or_default()
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Shared {
    fn record(&self, protocol: Protocol, target: &str) {
        if let Ok(mut log) = self.log.lock() {
            log.tunnels.push(Tunnel {
                protocol,
                target: target.to_string(),
            });
        }
    }

    fn refuse(&self) {
        if let Ok(mut log) = self.log.lock() {
            log.refused += 1;
        }
    }
}

async fn serve(mut client: TcpStream, shared: &Shared) -> anyhow::Result<()> {
    let mut first = [0u8; 1];
    if client.peek(&mut first).await? == 0 {
        return Ok(());
    }
    if first[0] == 5 {
        return socks5(client, shared).await;
    }
    let head = read_head(&mut client).await?;
    let text = String::from_utf8(head).context("request head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    let mut parts = request_line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if let Some((user, pass)) = &shared.credentials {
        let want = format!(
            "basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        );
        let given = header(&headers, "proxy-authorization").map(str::to_ascii_lowercase);
        if given.as_deref() != Some(want.to_ascii_lowercase().as_str()) {
            shared.refuse();
            client
                .write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                      Proxy-Authenticate: Basic realm=\"proxy\"\r\n\
                      Content-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await?;
            return Ok(());
        }
    }
    if method.eq_ignore_ascii_case("CONNECT") {
        let Ok(mut upstream) = TcpStream::connect(target).await else {
            client
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                .await?;
            return Ok(());
        };
        shared.record(Protocol::Connect, target);
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await?;
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        return Ok(());
    }
    let rest = target
        .strip_prefix("http://")
        .context("a proxied request must use an absolute http:// URL")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let mut upstream = TcpStream::connect(authority.as_str()).await?;
    shared.record(Protocol::Forward, &authority);
    // One request per connection: the origin closes after answering, so the client opens a
    // new proxied connection (and is recorded again) for its next request.
    let version = parts.next().unwrap_or("HTTP/1.1");
    let mut forwarded = format!("{method} {path} {version}\r\n");
    for line in headers {
        let name = line.split(':').next().unwrap_or_default().trim();
        if !["proxy-authorization", "proxy-connection", "connection"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
        {
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    upstream.write_all(forwarded.as_bytes()).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// The request head up to the blank line, byte by byte so the body stays unread.
async fn read_head(stream: &mut TcpStream) -> anyhow::Result<Vec<u8>> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            bail!("request head too large");
        }
        head.push(stream.read_u8().await?);
    }
    head.truncate(head.len() - 4);
    Ok(head)
}

fn header<'a>(headers: &[&'a str], name: &str) -> Option<&'a str> {
    headers.iter().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn socks5(mut client: TcpStream, shared: &Shared) -> anyhow::Result<()> {
    let mut greeting = [0u8; 2];
    client.read_exact(&mut greeting).await?;
    let mut methods = vec![0u8; usize::from(greeting[1])];
    client.read_exact(&mut methods).await?;
    match &shared.credentials {
        None if methods.contains(&0) => client.write_all(&[5, 0]).await?,
        Some((user, pass)) if methods.contains(&2) => {
            client.write_all(&[5, 2]).await?;
            let mut version_len = [0u8; 2];
            client.read_exact(&mut version_len).await?;
            let mut given_user = vec![0u8; usize::from(version_len[1])];
            client.read_exact(&mut given_user).await?;
            let pass_len = client.read_u8().await?;
            let mut given_pass = vec![0u8; usize::from(pass_len)];
            client.read_exact(&mut given_pass).await?;
            if given_user != user.as_bytes() || given_pass != pass.as_bytes() {
                shared.refuse();
                client.write_all(&[1, 1]).await?;
                return Ok(());
            }
            client.write_all(&[1, 0]).await?;
        }
        _ => {
            shared.refuse();
            client.write_all(&[5, 0xFF]).await?;
            return Ok(());
        }
    }
    let mut request = [0u8; 4];
    client.read_exact(&mut request).await?;
    if request[1] != 1 {
        client.write_all(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        return Ok(());
    }
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        4 => {
            let mut ip = [0u8; 16];
            client.read_exact(&mut ip).await?;
            format!("[{}]", std::net::Ipv6Addr::from(ip))
        }
        3 => {
            let len = client.read_u8().await?;
            let mut name = vec![0u8; usize::from(len)];
            client.read_exact(&mut name).await?;
            String::from_utf8(name).context("SOCKS5 host name is not UTF-8")?
        }
        other => bail!("SOCKS5 address type {other}"),
    };
    let port = client.read_u16().await?;
    let target = format!("{host}:{port}");
    let Ok(mut upstream) = TcpStream::connect(target.as_str()).await else {
        client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        return Ok(());
    };
    shared.record(Protocol::Socks5, &target);
    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
