//! Real Envoy as an owned child process, started from a rendered bootstrap.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bootstrap::Bootstrap;
use crate::child::OwnedChild;
use crate::error::HarnessError;
use crate::flavour::Flavour;
use crate::paths;
use crate::prometheus::Prometheus;

/// Environment variable Envoy reads to find dynamic modules by name.
pub const DYNAMIC_MODULES_SEARCH_PATH: &str = "ENVOY_DYNAMIC_MODULES_SEARCH_PATH";

/// How long Envoy may take to load its config (V8 compiles the Wasm plugin at load).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running Envoy, killed on drop (its log is printed when the test failed).
#[derive(Debug)]
pub struct Envoy {
    child: OwnedChild,
    admin: SocketAddr,
    listener: SocketAddr,
    http: reqwest::Client,
}

impl Envoy {
    /// Starts Envoy with `bootstrap` and waits until it serves traffic.
    pub async fn start(bootstrap: &Bootstrap) -> Result<Envoy, HarnessError> {
        Self::start_with_config(bootstrap, bootstrap.render()?).await
    }

    /// Starts Envoy with `config` (a complete bootstrap, YAML or JSON) instead of `bootstrap`'s
    /// rendering; `bootstrap` still chooses the flavour's artifacts and the worker count. For
    /// configs assembled elsewhere, e.g. from Istio manifests (tests/istio_manifests.rs).
    pub async fn start_with_config(
        bootstrap: &Bootstrap,
        config: String,
    ) -> Result<Envoy, HarnessError> {
        let mut child = Self::spawn(bootstrap, config)?;
        let http = reqwest::Client::new();
        let admin = wait_for_admin(&mut child).await?;
        let listener = wait_for_listener(&mut child, &http, admin).await?;
        Ok(Envoy {
            child,
            admin,
            listener,
            http,
        })
    }

    /// Kills this Envoy and starts a new one from `bootstrap` on the same listener address, as
    /// clients see a gateway restart: the same URL, a fresh process with no memory of the old one.
    pub async fn restart(self, bootstrap: &Bootstrap) -> Result<Envoy, HarnessError> {
        let mut same_address = bootstrap.clone();
        same_address.listener = self.listener;
        // Dropping kills and reaps the process, which frees the port (Envoy binds it with SO_REUSEADDR).
        drop(self);
        Envoy::start(&same_address).await
    }

    /// Starts Envoy with a bootstrap it is expected to refuse; returns its output once it exited.
    pub async fn expect_refusal(bootstrap: &Bootstrap) -> Result<String, HarnessError> {
        let mut child = Self::spawn(bootstrap, bootstrap.render()?)?;
        let status = child.wait_exit(READY_TIMEOUT).await?;
        if status.success() {
            return Err(HarnessError::Usage(format!(
                "Envoy exited successfully instead of refusing its config:\n{}",
                child.log()
            )));
        }
        Ok(child.log())
    }

    fn spawn(bootstrap: &Bootstrap, config: String) -> Result<OwnedChild, HarnessError> {
        let workdir = tempfile::Builder::new()
            .prefix("envoy-")
            .tempdir()
            .map_err(|e| HarnessError::io("creating Envoy's work dir", e))?;
        let config_path = workdir.path().join("envoy.yaml");
        std::fs::write(&config_path, config)
            .map_err(|e| HarnessError::io(format!("writing {}", config_path.display()), e))?;

        let mut command = Command::new(paths::envoy_binary()?);
        command
            .arg("--config-path")
            .arg(&config_path)
            .arg("--admin-address-path")
            .arg(workdir.path().join("admin-address"))
            // Several Envoys run side by side in tests: no shared-memory hot-restart state.
            .arg("--disable-hot-restart")
            .arg("--concurrency")
            .arg(bootstrap.concurrency.to_string())
            .args(["--log-level", "info"]);
        if bootstrap.llm_access_log.is_some() {
            // Envoy writes access-log files every 10 s by default: tests read them sooner.
            command.args(["--file-flush-interval-msec", "100"]);
        }
        if bootstrap.flavour == Some(Flavour::DynamicModule) {
            let module = paths::dynamic_module(bootstrap.artifacts)?;
            let dir = module.parent().expect("a file has a parent directory");
            command.env(DYNAMIC_MODULES_SEARCH_PATH, dir);
        }
        let what = match bootstrap.flavour {
            Some(flavour) => format!("envoy ({flavour})"),
            None => "envoy (bare)".to_string(),
        };
        OwnedChild::spawn(&what, command, workdir)
    }

    /// `http://<listener>`: the gateway.
    pub fn gateway_url(&self) -> String {
        format!("http://{}", self.listener)
    }

    /// The gateway listener's address.
    pub fn listener(&self) -> SocketAddr {
        self.listener
    }

    /// `http://<admin>`.
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin)
    }

    /// Envoy's output so far.
    pub fn log(&self) -> String {
        self.child.log()
    }

    /// GET on the admin endpoint; the body of a 200 answer.
    pub async fn admin_get(&self, path: &str) -> Result<String, HarnessError> {
        admin_get(&self.http, self.admin, path).await
    }

    /// `/stats/prometheus`, parsed.
    pub async fn prometheus(&self) -> Result<Prometheus, HarnessError> {
        Ok(Prometheus::parse(
            &self.admin_get("/stats/prometheus").await?,
        ))
    }

    /// Number of stats Envoy holds (lines of `/stats`, histograms included).
    pub async fn stat_count(&self) -> Result<usize, HarnessError> {
        Ok(self.admin_get("/stats").await?.lines().count())
    }
}

/// Envoy writes its admin address to the --admin-address-path file once admin listens.
async fn wait_for_admin(child: &mut OwnedChild) -> Result<SocketAddr, HarnessError> {
    let path = child.workdir().join("admin-address");
    let start = Instant::now();
    loop {
        child.check_running()?;
        if let Some(addr) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| text.trim().parse().ok())
        {
            return Ok(addr);
        }
        if start.elapsed() > READY_TIMEOUT {
            return Err(child.not_ready(READY_TIMEOUT));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ready means /ready says LIVE, the listener's real port is known and it accepts connections.
async fn wait_for_listener(
    child: &mut OwnedChild,
    http: &reqwest::Client,
    admin: SocketAddr,
) -> Result<SocketAddr, HarnessError> {
    let start = Instant::now();
    loop {
        child.check_running()?;
        if let Some(listener) = ready_listener(http, admin).await {
            if tokio::net::TcpStream::connect(listener).await.is_ok() {
                return Ok(listener);
            }
        }
        if start.elapsed() > READY_TIMEOUT {
            return Err(child.not_ready(READY_TIMEOUT));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn ready_listener(http: &reqwest::Client, admin: SocketAddr) -> Option<SocketAddr> {
    admin_get(http, admin, "/ready").await.ok()?;
    let listeners: Value = serde_json::from_str(
        &admin_get(http, admin, "/listeners?format=json")
            .await
            .ok()?,
    )
    .ok()?;
    let socket = listeners
        .get("listener_statuses")?
        .as_array()?
        .iter()
        .find(|status| status.get("name").and_then(Value::as_str) == Some("gateway"))?
        .get("local_address")?
        .get("socket_address")?;
    let address = socket.get("address")?.as_str()?;
    let port = socket.get("port_value")?.as_u64()?;
    format!("{address}:{port}").parse().ok()
}

async fn admin_get(
    http: &reqwest::Client,
    admin: SocketAddr,
    path: &str,
) -> Result<String, HarnessError> {
    let fail = |message: String| HarnessError::Admin {
        path: path.to_string(),
        message,
    };
    let response = http
        .get(format!("http://{admin}{path}"))
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| fail(e.to_string()))?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(fail(format!("{status}: {body}")))
    }
}
