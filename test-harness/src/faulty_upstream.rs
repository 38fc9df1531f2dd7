//! A misbehaving HTTP/1.1 upstream for fault-injection tests, written on raw TCP so it can do
//! what a well-behaved server library will not: reset the connection in the middle of a
//! chunked answer, end a body in the middle of an SSE event, never answer, answer garbage.
//! A test chooses the behaviour per request from what was asked (method, path, body).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::error::HarnessError;
use crate::fake_upstream::RecordedRequest;

/// Largest request (head or body) the faulty upstream reads.
const MAX_REQUEST: usize = 16 * 1024 * 1024;

/// How the faulty upstream treats one request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// A complete, well-framed answer (whatever its body says).
    Answer {
        /// HTTP status.
        status: u16,
        /// `content-type`.
        content_type: String,
        /// The body, sent with a `content-length`.
        body: Bytes,
    },
    /// Starts a chunked answer, sends `chunks` (flushed one by one), then resets the connection
    /// (TCP RST) without the terminating chunk.
    ResetMidStream {
        /// HTTP status.
        status: u16,
        /// `content-type`, e.g. `text/event-stream`.
        content_type: String,
        /// What arrives before the reset.
        chunks: Vec<Bytes>,
    },
    /// A chunked answer whose body is `chunks`, properly terminated: a well-framed HTTP body
    /// that ends wherever the chunks end (e.g. in the middle of an SSE event).
    EndEarly {
        /// HTTP status.
        status: u16,
        /// `content-type`.
        content_type: String,
        /// The whole body.
        chunks: Vec<Bytes>,
    },
    /// Reads the request and never answers (the connection stays open until the upstream is
    /// dropped).
    Stall,
}

impl Fault {
    /// `200` with a JSON body.
    pub fn json(body: impl Into<Bytes>) -> Fault {
        Fault::answer(200, "application/json", body)
    }

    /// Any status, content type and body, well framed.
    pub fn answer(status: u16, content_type: &str, body: impl Into<Bytes>) -> Fault {
        Fault::Answer {
            status,
            content_type: content_type.to_string(),
            body: body.into(),
        }
    }

    /// `202 Accepted` without a body (an MCP server's answer to a notification).
    pub fn accepted() -> Fault {
        Fault::answer(202, "application/json", Bytes::new())
    }
}

type Responder = dyn Fn(&RecordedRequest) -> Fault + Send + Sync;

/// A misbehaving upstream on a free loopback port; stops (closing every connection) when dropped.
pub struct FaultyUpstream {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    shutdown: watch::Sender<bool>,
}

impl FaultyUpstream {
    /// Treats every request as `responder` says.
    pub async fn start<F>(responder: F) -> Result<FaultyUpstream, HarnessError>
    where
        F: Fn(&RecordedRequest) -> Fault + Send + Sync + 'static,
    {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| HarnessError::io("binding a faulty upstream", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| HarnessError::io("reading a faulty upstream's address", e))?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let responder: Arc<Responder> = Arc::new(responder);
        let (shutdown, stopped) = watch::channel(false);
        let recorded = Arc::clone(&requests);
        tokio::spawn(async move {
            let mut stop = stopped.clone();
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = stop.changed() => return,
                };
                let Ok((stream, _)) = accepted else { continue };
                let responder = Arc::clone(&responder);
                let recorded = Arc::clone(&recorded);
                let mut stop = stopped.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = serve(stream, &*responder, &recorded) => {}
                        _ = stop.changed() => {}
                    }
                });
            }
        });
        Ok(FaultyUpstream {
            addr,
            requests,
            shutdown,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request read so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for FaultyUpstream {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Serves one keep-alive connection until the client closes it or a fault ends it.
async fn serve(stream: TcpStream, responder: &Responder, recorded: &Mutex<Vec<RecordedRequest>>) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    while let Ok(Some(request)) = read_request(&mut reader).await {
        let fault = responder(&request);
        recorded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(request);
        let stream = reader.get_mut();
        let keep_going = match fault {
            Fault::Answer {
                status,
                content_type,
                body,
            } => {
                let head = head(status, &content_type, Some(body.len()));
                write_all(stream, &[head.as_bytes(), &body]).await
            }
            Fault::EndEarly {
                status,
                content_type,
                chunks,
            } => {
                let head = head(status, &content_type, None);
                let mut parts = vec![Bytes::from(head)];
                parts.extend(chunks.iter().map(chunk));
                parts.push(Bytes::from_static(b"0\r\n\r\n"));
                send_each(stream, &parts).await
            }
            Fault::ResetMidStream {
                status,
                content_type,
                chunks,
            } => {
                let head = head(status, &content_type, None);
                let mut parts = vec![Bytes::from(head)];
                parts.extend(chunks.iter().map(chunk));
                let _ = send_each(stream, &parts).await;
                // Let the last chunk reach the proxy before the reset overtakes it.
                tokio::time::sleep(Duration::from_millis(100)).await;
                // SO_LINGER 0: closing sends RST instead of FIN.
                let _ = stream.set_zero_linger();
                false
            }
            Fault::Stall => {
                std::future::pending::<()>().await;
                false
            }
        };
        if !keep_going {
            return;
        }
    }
}

fn head(status: u16, content_type: &str, length: Option<usize>) -> String {
    let framing = match length {
        Some(n) => format!("content-length: {n}"),
        None => "transfer-encoding: chunked".to_string(),
    };
    format!("HTTP/1.1 {status} Fault\r\ncontent-type: {content_type}\r\n{framing}\r\n\r\n")
}

fn chunk(data: &Bytes) -> Bytes {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

async fn write_all(stream: &mut TcpStream, parts: &[&[u8]]) -> bool {
    for part in parts {
        if stream.write_all(part).await.is_err() {
            return false;
        }
    }
    stream.flush().await.is_ok()
}

/// Sends each part in its own write, a little apart, so the proxy sees them as separate reads.
async fn send_each(stream: &mut TcpStream, parts: &[Bytes]) -> bool {
    for part in parts {
        if !write_all(stream, &[part]).await {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// Reads one request (content-length or chunked body); `None` when the client closed.
async fn read_request(
    reader: &mut BufReader<TcpStream>,
) -> std::io::Result<Option<RecordedRequest>> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    let mut head_bytes = line.len();
    loop {
        line.clear();
        head_bytes += reader.read_line(&mut line).await?;
        if head_bytes > MAX_REQUEST {
            return Err(too_large());
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        read_chunked(reader).await?
    } else {
        let length = header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        if length > MAX_REQUEST {
            return Err(too_large());
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        body
    };
    Ok(Some(RecordedRequest {
        method,
        path,
        headers,
        body: Bytes::from(body),
    }))
}

async fn read_chunked(reader: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        let size_text = line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if body.len() + size > MAX_REQUEST {
            return Err(too_large());
        }
        if size == 0 {
            // Trailers (none expected) end with a blank line.
            loop {
                line.clear();
                if reader.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).await?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf).await?;
    }
}

fn too_large() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, "request too large")
}
