//! The three real MCP servers the MCP gateway fronts in the e2e tests, behind one handle.

use std::net::SocketAddr;

use crate::error::HarnessError;
use crate::node::EverythingServer;
use crate::python::{McpServerMode, PythonServer, MCP_PATH};

/// Which MCP server to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McpBackendKind {
    /// `clients/mcp_server.py --mode session` (`mcp` SDK, handshake-era sessions).
    PythonSession,
    /// `clients/mcp_server.py --mode stateless` (`mcp` SDK, stateless HTTP).
    PythonStateless,
    /// npm `@modelcontextprotocol/server-everything` in streamableHttp mode.
    Everything,
}

impl McpBackendKind {
    /// Every kind, in a fixed order.
    pub const ALL: [McpBackendKind; 3] = [
        McpBackendKind::PythonSession,
        McpBackendKind::PythonStateless,
        McpBackendKind::Everything,
    ];

    /// Whether the server answers the 2026-07-28 stateless wire (`server/discover`); the others
    /// speak only the initialize handshake (server-everything: up to 2025-11-25).
    pub fn speaks_2026_07_28(self) -> bool {
        !matches!(self, McpBackendKind::Everything)
    }

    /// Whether `initialize` hands out an `Mcp-Session-Id` the client must send back.
    pub fn issues_sessions(self) -> bool {
        !matches!(self, McpBackendKind::PythonStateless)
    }

    /// The HTTP status of a handshake-era request carrying a session id the server does not
    /// know. The spec says 404, so clients re-initialize; server-everything answers 400
    /// (`-32000 Bad Request: No valid session ID provided`), so a gateway that recovers lost
    /// upstream sessions must treat that 400 as "session gone" too. The stateless server
    /// ignores the header and serves the request (200).
    pub fn unknown_session_status(self) -> u16 {
        match self {
            McpBackendKind::PythonSession => 404,
            McpBackendKind::PythonStateless => 200,
            McpBackendKind::Everything => 400,
        }
    }
}

#[derive(Debug)]
enum Server {
    Python(PythonServer),
    Node(EverythingServer),
}

/// A running MCP server owned by the test: killed on drop, its log printed if the test fails.
#[derive(Debug)]
pub struct McpBackend {
    kind: McpBackendKind,
    server: Server,
}

impl McpBackend {
    /// Starts `kind` on a free port and waits until it accepts connections.
    pub async fn start(kind: McpBackendKind) -> Result<Self, HarnessError> {
        Self::start_on(kind, None).await
    }

    /// Kills this server and starts a fresh one of the same kind on the same port: an upstream
    /// that lost every session it handed out, at the address the gateway knows.
    pub async fn restart(self) -> Result<Self, HarnessError> {
        let (kind, port) = (self.kind, self.addr().port());
        drop(self);
        Self::start_on(kind, Some(port)).await
    }

    async fn start_on(kind: McpBackendKind, port: Option<u16>) -> Result<Self, HarnessError> {
        let python = |mode| PythonServer::mcp_server(mode, port.unwrap_or(0));
        let server = match (kind, port) {
            (McpBackendKind::PythonSession, _) => {
                Server::Python(python(McpServerMode::Session).await?)
            }
            (McpBackendKind::PythonStateless, _) => {
                Server::Python(python(McpServerMode::Stateless).await?)
            }
            (McpBackendKind::Everything, None) => Server::Node(EverythingServer::start().await?),
            (McpBackendKind::Everything, Some(port)) => {
                Server::Node(EverythingServer::start_on_port(port).await?)
            }
        };
        Ok(McpBackend { kind, server })
    }

    /// Which server this is.
    pub fn kind(&self) -> McpBackendKind {
        self.kind
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        match &self.server {
            Server::Python(server) => server.addr(),
            Server::Node(server) => server.addr(),
        }
    }

    /// The path of its MCP endpoint (the same for all three).
    pub fn path(&self) -> &'static str {
        MCP_PATH
    }

    /// Its MCP endpoint, `http://<addr>/mcp`.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr(), MCP_PATH)
    }

    /// Its output so far.
    pub fn log(&self) -> String {
        match &self.server {
            Server::Python(server) => server.log(),
            Server::Node(server) => server.log(),
        }
    }
}
