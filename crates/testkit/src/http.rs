//! A minimal HTTP client for tests that read loopback endpoints (metrics, artifacts)
//! without pulling a TLS stack into every test binary.

/// A plain HTTP/1.1 GET of `url` (loopback only): status code and body.
pub async fn http_get(url: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    use anyhow::Context as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").context("http URL")?;
    let (host, path) = rest.split_once('/').context("URL has a path")?;
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("response has a header")?;
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let code: u16 = head
        .split_whitespace()
        .nth(1)
        .context("status line")?
        .parse()?;
    anyhow::ensure!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "unexpected chunked response"
    );
    Ok((code, response[split + 4..].to_vec()))
}
