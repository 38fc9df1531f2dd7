//! Python children from the project venv: the a2a-sdk demo agent, the `mcp` SDK test servers and
//! pytest client suites.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::child::OwnedChild;
use crate::error::HarnessError;
use crate::paths;

/// How long a Python server may take to import its packages and bind.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// `test-harness/clients/<name>`.
pub fn client_script(name: &str) -> PathBuf {
    paths::repo_root().join("test-harness/clients").join(name)
}

/// Where every MCP test backend serves Streamable HTTP.
pub const MCP_PATH: &str = "/mcp";

/// Which flavour of `clients/mcp_server.py` to run. Both also serve the stateless 2026-07-28 wire:
/// the SDK answers it on every Streamable HTTP app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McpServerMode {
    /// Handshake-era sessions: `initialize` answers with an `Mcp-Session-Id` the client must send.
    Session,
    /// The SDK's stateless HTTP mode: handshake-era requests carry no session either.
    Stateless,
}

impl McpServerMode {
    /// The script's `--mode` value.
    pub fn arg(self) -> &'static str {
        match self {
            McpServerMode::Session => "session",
            McpServerMode::Stateless => "stateless",
        }
    }
}

/// A Python server script that prints `READY <port>` once it accepts connections.
#[derive(Debug)]
pub struct PythonServer {
    child: OwnedChild,
    addr: SocketAddr,
}

impl PythonServer {
    /// Runs `script args…` with the venv's Python and waits for its `READY <port>` line.
    pub async fn start(what: &str, script: PathBuf, args: &[&str]) -> Result<Self, HarnessError> {
        let workdir = tempfile::Builder::new()
            .prefix("python-")
            .tempdir()
            .map_err(|e| HarnessError::io("creating a work dir", e))?;
        let mut command = Command::new(paths::venv_python()?);
        command.arg("-u").arg(script).args(args);
        let mut child = OwnedChild::spawn(what, command, workdir)?;
        let start = Instant::now();
        loop {
            child.check_running()?;
            let port = child
                .log()
                .lines()
                .find_map(|line| line.strip_prefix("READY ")?.trim().parse::<u16>().ok());
            if let Some(port) = port {
                let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                return Ok(PythonServer { child, addr });
            }
            if start.elapsed() > READY_TIMEOUT {
                return Err(child.not_ready(READY_TIMEOUT));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The real a2a-sdk echo agent (`clients/a2a_agent.py`) on a free port.
    pub async fn a2a_agent() -> Result<Self, HarnessError> {
        Self::start("a2a agent", client_script("a2a_agent.py"), &[]).await
    }

    /// A real `mcp` SDK server (`clients/mcp_server.py`) serving at [`MCP_PATH`] on `port`
    /// (0: a free one).
    pub async fn mcp_server(mode: McpServerMode, port: u16) -> Result<Self, HarnessError> {
        let what = format!("mcp server ({})", mode.arg());
        let port = port.to_string();
        let args = ["--mode", mode.arg(), "--port", &port];
        Self::start(&what, client_script("mcp_server.py"), &args).await
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

/// The result of one pytest run.
#[derive(Debug)]
pub struct PytestRun {
    /// Whether every test passed (exit code 0).
    pub passed: bool,
    /// pytest's stdout and stderr.
    pub output: String,
}

/// Runs `pytest <test_file>` from the venv with extra environment variables.
pub async fn pytest(test_file: &str, env: &[(&str, &str)]) -> Result<PytestRun, HarnessError> {
    let mut command = tokio::process::Command::new(paths::venv_python()?);
    command
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA"])
        .arg(client_script(test_file))
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = command
        .output()
        .await
        .map_err(|e| HarnessError::io("running pytest", e))?;
    Ok(PytestRun {
        passed: output.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    })
}
