//! Prints an Envoy bootstrap for the gateway, rendered from the templates in `envoy/`
//! (the same renderer the e2e tests use), for scripts/demo, scripts/bench and anyone by hand.

use std::net::SocketAddr;
use std::process::ExitCode;

use ai_gateway_test_harness::{
    a2a_config, mcp_config, AgentRoute, Bootstrap, Flavour, HarnessError, LlmProviderRoute,
    McpBackendRoute,
};
use serde_json::Value;

const USAGE: &str = "\
usage: render-envoy-config --flavour bare|dynmod|wasm [options]

Prints an Envoy 1.40 bootstrap (YAML) on stdout.

options:
  --flavour F          bare (no gateway filter), dynmod (libai_gateway.so) or wasm (ai_gateway_wasm.wasm)
  --listen ADDR:PORT   gateway listener (default 127.0.0.1:10000)
  --admin ADDR:PORT    admin endpoint (default 127.0.0.1:9901)
  --agent NAME=ADDR:PORT
                       an A2A agent: /a2a/NAME/... on the gateway is /... on ADDR:PORT (repeatable)
  --a2a-config JSON    fields merged into the a2a filter config derived from the agents,
                       e.g. '{\"publicBaseUrl\":\"http://127.0.0.1:10000\"}'
  --mcp-backend NAME=ADDR:PORT
                       an MCP server (endpoint /mcp) behind the gateway's /mcp: its tools are
                       NAME_<tool> there (repeatable; adds the mcp filter and route)
  --mcp-session-key B64
                       the mcp filter's session key, base64 of 32 bytes (required with
                       --mcp-backend; e.g. `head -c32 /dev/urandom | base64`)
  --mcp-config JSON    fields merged into the mcp filter config derived from the backends,
                       e.g. '{\"allowedOrigins\":[\"http://localhost:3000\"]}'
  --llm-provider NAME=ADDR:PORT
                       an LLM provider (or a fake of one) behind the gateway's /v1/ endpoints:
                       Envoy cluster llm_NAME (repeatable; adds the llm route)
  --llm-config JSON    the llm filter's config (required with --llm-provider); a provider NAME
                       without a \"cluster\" gets llm_NAME, e.g.
                       '{\"providers\":{\"claude\":{\"kind\":\"anthropic\",\"apiKey\":\"sk-ant-...\"}},
                         \"defaultProvider\":\"claude\"}'
  --cors-origin ORIGIN Envoy's CORS filter first in the chain, allowing this browser origin on
                       every route (repeatable), e.g. http://localhost:6274 for the MCP Inspector's
                       web UI; the mcp filter must trust it too (allowedOrigins in --mcp-config)
  --filter NAME        load this filter (config {}) instead of a2a, e.g. `empty` for
                       scripts/bench's floor (a diagnostic filter: only in scripts/build's
                       diagnostics build, CARGO_TARGET_DIR=<repo>/target/diagnostics)

Running it: dynmod needs ENVOY_DYNAMIC_MODULES_SEARCH_PATH=<repo>/target/release in Envoy's
environment; wasm reads <repo>/target/wasm32-wasip1/release/ai_gateway_wasm.wasm (CARGO_TARGET_DIR
replaces <repo>/target). Several Envoys
on one machine need --disable-hot-restart (or distinct --base-id).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match parse(&args).and_then(|bootstrap| bootstrap.render()) {
        Ok(yaml) => {
            print!("{yaml}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("render-envoy-config: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn parse(args: &[String]) -> Result<Bootstrap, HarnessError> {
    let mut flavour: Option<Option<Flavour>> = None;
    let mut listen: SocketAddr = parse_addr("--listen", "127.0.0.1:10000")?;
    let mut admin: SocketAddr = parse_addr("--admin", "127.0.0.1:9901")?;
    let mut agents = Vec::new();
    let mut extra = Value::Object(Default::default());
    let mut filter: Option<String> = None;
    let mut mcp_backends = Vec::new();
    let mut mcp_key: Option<String> = None;
    let mut mcp_extra = Value::Object(Default::default());
    let mut llm_providers = Vec::new();
    let mut llm_config: Option<Value> = None;
    let mut cors_origins = Vec::new();

    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let mut value = || {
            iter.next()
                .ok_or_else(|| HarnessError::Usage(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--flavour" => {
                let name = value()?;
                flavour = Some(match name.as_str() {
                    "bare" => None,
                    other => Some(other.parse()?),
                });
            }
            "--listen" => listen = parse_addr(flag, value()?)?,
            "--admin" => admin = parse_addr(flag, value()?)?,
            "--agent" => {
                let spec = value()?;
                let (name, addr) = spec.split_once('=').ok_or_else(|| {
                    HarnessError::Usage(format!("--agent {spec}: expected NAME=ADDR:PORT"))
                })?;
                agents.push(AgentRoute::new(name, parse_addr(flag, addr)?));
            }
            "--a2a-config" => {
                extra = serde_json::from_str(value()?)
                    .map_err(|e| HarnessError::Usage(format!("--a2a-config: {e}")))?;
            }
            "--mcp-backend" => {
                let spec = value()?;
                let (name, addr) = spec.split_once('=').ok_or_else(|| {
                    HarnessError::Usage(format!("--mcp-backend {spec}: expected NAME=ADDR:PORT"))
                })?;
                mcp_backends.push(McpBackendRoute::new(name, parse_addr(flag, addr)?));
            }
            "--mcp-session-key" => mcp_key = Some(value()?.clone()),
            "--mcp-config" => {
                mcp_extra = serde_json::from_str(value()?)
                    .map_err(|e| HarnessError::Usage(format!("--mcp-config: {e}")))?;
            }
            "--llm-provider" => {
                let spec = value()?;
                let (name, addr) = spec.split_once('=').ok_or_else(|| {
                    HarnessError::Usage(format!("--llm-provider {spec}: expected NAME=ADDR:PORT"))
                })?;
                llm_providers.push(LlmProviderRoute::new(name, parse_addr(flag, addr)?));
            }
            "--llm-config" => {
                llm_config = Some(
                    serde_json::from_str(value()?)
                        .map_err(|e| HarnessError::Usage(format!("--llm-config: {e}")))?,
                );
            }
            "--cors-origin" => cors_origins.push(value()?.clone()),
            "--filter" => filter = Some(value()?.clone()),
            other => return Err(HarnessError::Usage(format!("unknown argument {other}"))),
        }
    }

    let flavour = flavour.ok_or_else(|| HarnessError::Usage("--flavour is required".into()))?;
    let mut bootstrap = Bootstrap::new(flavour);
    bootstrap.listener = listen;
    bootstrap.admin = admin;
    bootstrap.cors_origins = cors_origins;
    if let Some(name) = &filter {
        bootstrap = bootstrap.filter(name, Value::Object(Default::default()));
    } else if !agents.is_empty() {
        let mut config = a2a_config(&agents);
        merge(&mut config, extra, "--a2a-config")?;
        bootstrap = bootstrap.filter("a2a", config);
    }
    if filter.is_none() && !mcp_backends.is_empty() {
        let key = mcp_key
            .ok_or_else(|| HarnessError::Usage("--mcp-backend needs --mcp-session-key".into()))?;
        let mut config = mcp_config(&mcp_backends, &key);
        merge(&mut config, mcp_extra, "--mcp-config")?;
        bootstrap = bootstrap.filter("mcp", config);
    }
    if filter.is_none() && !llm_providers.is_empty() {
        let config = llm_config
            .ok_or_else(|| HarnessError::Usage("--llm-provider needs --llm-config".into()))?;
        bootstrap = bootstrap.filter("llm", with_clusters(config, &llm_providers)?);
    }
    let bootstrap = llm_providers
        .into_iter()
        .fold(bootstrap, Bootstrap::llm_provider);
    let bootstrap = mcp_backends
        .into_iter()
        .fold(bootstrap, Bootstrap::mcp_backend);
    Ok(agents.into_iter().fold(bootstrap, Bootstrap::agent))
}

/// `config` with `cluster: llm_NAME` set on each provider NAME of `providers` that has none.
fn with_clusters(mut config: Value, providers: &[LlmProviderRoute]) -> Result<Value, HarnessError> {
    let Some(entries) = config.get_mut("providers").and_then(Value::as_object_mut) else {
        return Err(HarnessError::Usage(
            "--llm-config needs a \"providers\" object".into(),
        ));
    };
    for provider in providers {
        if let Some(Value::Object(entry)) = entries.get_mut(&provider.name) {
            entry
                .entry("cluster")
                .or_insert_with(|| Value::String(provider.cluster()));
        }
    }
    Ok(config)
}

fn parse_addr(flag: &str, text: &str) -> Result<SocketAddr, HarnessError> {
    text.parse()
        .map_err(|_| HarnessError::Usage(format!("{flag} {text}: expected ADDR:PORT")))
}

fn merge(config: &mut Value, extra: Value, flag: &str) -> Result<(), HarnessError> {
    let Value::Object(extra) = extra else {
        return Err(HarnessError::Usage(format!("{flag} must be a JSON object")));
    };
    let object = config
        .as_object_mut()
        .expect("a2a_config and mcp_config return objects");
    object.extend(extra);
    Ok(())
}
