//! Real Envoy running an inference bootstrap (its own template, so the main bootstrap's
//! placeholders stay the main gateway's business).

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::bootstrap::InferenceBootstrap;
use crate::child::OwnedChild;
use crate::envoy::DYNAMIC_MODULES_SEARCH_PATH;
use crate::error::HarnessError;
use crate::flavour::Flavour;
use crate::paths;
use crate::prometheus::Prometheus;

/// How long Envoy may take to load its config (V8 compiles the Wasm plugin at load).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running Envoy with the inference chain, killed on drop (log printed when a test failed).
#[derive(Debug)]
pub struct InferenceGateway {
    child: OwnedChild,
    admin: SocketAddr,
    listener: SocketAddr,
    http: reqwest::Client,
}

impl InferenceGateway {
    /// Starts Envoy with `bootstrap` and waits until the listener accepts connections.
    pub async fn start(bootstrap: &InferenceBootstrap) -> Result<Self, HarnessError> {
        let workdir = tempfile::Builder::new()
            .prefix("envoy-inference-")
            .tempdir()
            .map_err(|e| HarnessError::io("creating Envoy's work dir", e))?;
        let config = workdir.path().join("envoy.yaml");
        std::fs::write(&config, bootstrap.render()?)
            .map_err(|e| HarnessError::io(format!("writing {}", config.display()), e))?;
        let mut command = Command::new(paths::envoy_binary()?);
        command
            .arg("--config-path")
            .arg(&config)
            .arg("--admin-address-path")
            .arg(workdir.path().join("admin-address"))
            .arg("--disable-hot-restart")
            .args(["--concurrency", &bootstrap.concurrency.to_string()])
            .args(["--log-level", "info"]);
        if bootstrap.flavour == Flavour::DynamicModule {
            let module = paths::dynamic_module(bootstrap.artifacts)?;
            let dir = module.parent().expect("a file has a parent directory");
            command.env(DYNAMIC_MODULES_SEARCH_PATH, dir);
        }
        let what = format!("envoy inference ({})", bootstrap.flavour);
        let mut child = OwnedChild::spawn(&what, command, workdir)?;
        let http = reqwest::Client::new();
        let start = Instant::now();
        loop {
            child.check_running()?;
            if let Some((admin, listener)) = ready(&child, &http).await {
                return Ok(InferenceGateway {
                    child,
                    admin,
                    listener,
                    http,
                });
            }
            if start.elapsed() > READY_TIMEOUT {
                return Err(child.not_ready(READY_TIMEOUT));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `http://<listener>`.
    pub fn gateway_url(&self) -> String {
        format!("http://{}", self.listener)
    }

    /// Envoy's output so far.
    pub fn log(&self) -> String {
        self.child.log()
    }

    /// `/stats/prometheus`, parsed.
    pub async fn prometheus(&self) -> Result<Prometheus, HarnessError> {
        Ok(Prometheus::parse(
            &self.admin_get("/stats/prometheus").await?,
        ))
    }

    /// GET on the admin endpoint.
    pub async fn admin_get(&self, path: &str) -> Result<String, HarnessError> {
        let fail = |message: String| HarnessError::Admin {
            path: path.to_string(),
            message,
        };
        let response = self
            .http
            .get(format!("http://{}{path}", self.admin))
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        response.text().await.map_err(|e| fail(e.to_string()))
    }
}

/// Admin address (from --admin-address-path) and the listener's bound address, once ready.
async fn ready(child: &OwnedChild, http: &reqwest::Client) -> Option<(SocketAddr, SocketAddr)> {
    let admin: SocketAddr = std::fs::read_to_string(child.workdir().join("admin-address"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let get = |path: &str| http.get(format!("http://{admin}{path}")).send();
    if !get("/ready").await.ok()?.status().is_success() {
        return None;
    }
    let listeners: Value = get("/listeners?format=json")
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let socket = listeners["listener_statuses"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == "gateway")?["local_address"]["socket_address"]
        .clone();
    let listener: SocketAddr = format!(
        "{}:{}",
        socket["address"].as_str()?,
        socket["port_value"].as_u64()?
    )
    .parse()
    .ok()?;
    tokio::net::TcpStream::connect(listener).await.ok()?;
    Some((admin, listener))
}
