//! Node children from `test-harness/node_modules` (installed by scripts/setup with `npm ci`): the
//! npm `@modelcontextprotocol/server-everything` MCP server in Streamable HTTP mode.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::child::OwnedChild;
use crate::error::HarnessError;
use crate::paths;

/// How long server-everything may take to load and bind.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How many ports to try: the free port is picked before Node binds it, so another process may
/// take it in between.
const PORT_ATTEMPTS: usize = 3;

/// server-everything's entry point (its package `bin`), run with `node` directly so that killing
/// the child kills the server (an `npx` or `npm run` wrapper would leave it running).
pub fn everything_entry() -> Result<PathBuf, HarnessError> {
    let path = paths::repo_root()
        .join("test-harness/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    if path.is_file() {
        Ok(path)
    } else {
        Err(HarnessError::Missing {
            what: "@modelcontextprotocol/server-everything",
            path,
            hint: "run scripts/setup (npm ci in test-harness)",
        })
    }
}

/// `node dist/index.js streamableHttp` with `PORT=<port>`: server-everything serving Streamable
/// HTTP at `/mcp` with sessions (2025-11-25 and older; it does not speak 2026-07-28).
#[derive(Debug)]
pub struct EverythingServer {
    child: OwnedChild,
    addr: SocketAddr,
}

impl EverythingServer {
    /// Starts it on a free port and waits for its `listening on port <port>` line.
    pub async fn start() -> Result<Self, HarnessError> {
        let entry = everything_entry()?;
        let mut attempt = 1;
        loop {
            match Self::start_on(&entry, free_port()?).await {
                Err(HarnessError::Exited { output, .. })
                    if output.contains("EADDRINUSE") || output.contains("already in use") =>
                {
                    if attempt == PORT_ATTEMPTS {
                        return Err(HarnessError::Usage(format!(
                            "server-everything found no free port in {PORT_ATTEMPTS} attempts:\n{output}"
                        )));
                    }
                    attempt += 1;
                }
                started => return started,
            }
        }
    }

    /// Starts it on `port` (e.g. the port of a previous instance, to restart it in place).
    pub async fn start_on_port(port: u16) -> Result<Self, HarnessError> {
        Self::start_on(&everything_entry()?, port).await
    }

    async fn start_on(entry: &Path, port: u16) -> Result<Self, HarnessError> {
        let workdir = tempfile::Builder::new()
            .prefix("node-")
            .tempdir()
            .map_err(|e| HarnessError::io("creating a work dir", e))?;
        let mut command = Command::new("node");
        command
            .arg(entry)
            .arg("streamableHttp")
            .env("PORT", port.to_string());
        let mut child = OwnedChild::spawn("server-everything", command, workdir)?;
        // Printed from express's listen callback, so the socket accepts connections by then.
        let ready_line = format!("MCP Streamable HTTP Server listening on port {port}");
        let start = Instant::now();
        loop {
            child.check_running()?;
            if child.log().lines().any(|line| line.trim() == ready_line) {
                let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                return Ok(EverythingServer { child, addr });
            }
            if start.elapsed() > READY_TIMEOUT {
                return Err(child.not_ready(READY_TIMEOUT));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's output so far.
    pub fn log(&self) -> String {
        self.child.log()
    }
}

/// A port nothing listens on right now (the kernel's pick for port 0).
fn free_port() -> Result<u16, HarnessError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| HarnessError::io("picking a free port", e))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| HarnessError::io("reading the picked port", e))
}
