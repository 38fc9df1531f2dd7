//! scripts/demo's Rust half: serves the demo's in-process fakes, and renders the demo's Envoy
//! bootstrap (also for running it elsewhere, e.g. with func-e).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use std::time::{SystemTime, UNIX_EPOCH};

use ai_gateway_test_harness::auth::{JwksServer, TestKey};
use ai_gateway_test_harness::demo::{
    DemoBootstrap, DemoIdp, DemoLlm, DemoOpenApi, DemoUpstreams, DEMO_AUDIENCE,
};
use ai_gateway_test_harness::inference::{FakeEpp, ModelServer, Pick};
use ai_gateway_test_harness::{Flavour, HarnessError, LlmFake};
use serde_json::{json, Value};

const USAGE: &str = "\
usage:
  demo-gateway upstreams
      serves fake OpenAI and Anthropic APIs (keys demo-openai-key, demo-anthropic-key), two fake
      model servers and a fake endpoint picker (EPP) choosing the first, and an identity
      provider's JWKS with a key made for this run, on free loopback ports; prints
      `UPSTREAMS <json>` (openai, anthropic, epp, modelServers, idp with a token valid for a day)
      and runs until killed
  demo-gateway render --flavour dynmod|wasm --upstreams FILE [--listen ADDR:PORT] [--admin ADDR:PORT]
      prints the demo's Envoy bootstrap (default 127.0.0.1:10000, admin 127.0.0.1:9901). FILE is
      JSON: {\"agent\": ADDR, \"mcpBackends\": {NAME: ADDR}, \"mcpSessionKey\": B64,
      \"openapi\": {\"addr\": ADDR, \"caPemFile\": PATH, \"specFile\": PATH} (optional),
      \"openai\": {\"addr\": ADDR, \"apiKey\": KEY} or {\"apiKey\": KEY} (no addr: the real API),
      \"anthropic\": likewise, \"epp\": ADDR, \"modelServers\": [ADDR], \"corsOrigins\": [ORIGIN],
      \"idp\": {\"addr\": ADDR, \"issuer\": URL, \"jwksUrl\": URL} (optional: the authz filter)}
      dynmod needs ENVOY_DYNAMIC_MODULES_SEARCH_PATH=<repo>/target/release in Envoy's environment";

/// The fake providers' API keys (the llm filter sends them; the fakes check them).
const OPENAI_KEY: &str = "demo-openai-key";
const ANTHROPIC_KEY: &str = "demo-anthropic-key";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("upstreams") => upstreams().await,
        Some("render") => render(&args[1..]),
        _ => Err(HarnessError::Usage(USAGE.to_string())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("demo-gateway: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn upstreams() -> Result<(), HarnessError> {
    let openai = LlmFake::openai(OPENAI_KEY).await?;
    let anthropic = LlmFake::anthropic(ANTHROPIC_KEY).await?;
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let models = [
        ModelServer::start(loopback).await?,
        ModelServer::start(loopback).await?,
    ];
    let epp = FakeEpp::start(Pick::Both(models[0].addr().to_string())).await?;
    let idp = JwksServer::start().await?;
    let key = TestKey::rsa("demo").map_err(|e| HarnessError::Usage(e.to_string()))?;
    idp.publish(vec![key.jwk()]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let token = key.sign(&json!({
        "iss": idp.issuer(), "aud": DEMO_AUDIENCE, "sub": "demo-user",
        "iat": now, "exp": now + 24 * 3600
    }));
    let ready = json!({
        "openai": { "addr": openai.addr().to_string(), "apiKey": OPENAI_KEY },
        "anthropic": { "addr": anthropic.addr().to_string(), "apiKey": ANTHROPIC_KEY },
        "epp": epp.addr().to_string(),
        "modelServers": models.iter().map(|m| m.addr().to_string()).collect::<Vec<_>>(),
        "idp": { "addr": idp.addr().to_string(), "issuer": idp.issuer(),
                 "jwksUrl": idp.jwks_url(), "token": token },
    });
    println!("UPSTREAMS {ready}");
    std::future::pending::<()>().await;
    Ok(())
}

fn render(args: &[String]) -> Result<(), HarnessError> {
    let flavour: Flavour = value(args, "--flavour")?
        .ok_or_else(|| HarnessError::Usage(format!("--flavour is required\n{USAGE}")))?
        .parse()?;
    let file = value(args, "--upstreams")?
        .ok_or_else(|| HarnessError::Usage(format!("--upstreams is required\n{USAGE}")))?;
    let text = read(file)?;
    let spec: Value = serde_json::from_str(&text)
        .map_err(|e| HarnessError::Usage(format!("{file}: not JSON: {e}")))?;
    let mut bootstrap = DemoBootstrap::new(flavour, upstreams_from(&spec)?);
    if let Some(listen) = value(args, "--listen")? {
        bootstrap.listener = addr("--listen", listen)?;
    }
    if let Some(admin) = value(args, "--admin")? {
        bootstrap.admin = addr("--admin", admin)?;
    }
    print!("{}", bootstrap.render()?);
    Ok(())
}

fn upstreams_from(spec: &Value) -> Result<DemoUpstreams, HarnessError> {
    let text = |value: &Value, field: &str| -> Result<String, HarnessError> {
        value[field]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| HarnessError::Usage(format!("upstreams: `{field}` must be a string")))
    };
    let at = |value: &Value, field: &str| addr(field, &text(value, field)?);
    let mut mcp_backends = Vec::new();
    for (name, address) in spec["mcpBackends"].as_object().into_iter().flatten() {
        let address = address.as_str().unwrap_or_default();
        mcp_backends.push((name.clone(), addr("mcpBackends", address)?));
    }
    let openapi = match &spec["openapi"] {
        Value::Null => None,
        api => Some(DemoOpenApi {
            addr: at(api, "addr")?,
            ca_pem: read(&text(api, "caPemFile")?)?,
            spec: serde_json::from_str(&read(&text(api, "specFile")?)?)
                .map_err(|e| HarnessError::Usage(format!("the OpenAPI document: {e}")))?,
        }),
    };
    let llm = |field: &str| -> Result<DemoLlm, HarnessError> {
        let entry = &spec[field];
        let api_key = text(entry, "apiKey")?;
        Ok(match entry["addr"].as_str() {
            Some(address) => DemoLlm::Fake {
                addr: addr(field, address)?,
                api_key,
            },
            None => DemoLlm::Real { api_key },
        })
    };
    let mut model_servers = Vec::new();
    for server in spec["modelServers"].as_array().into_iter().flatten() {
        model_servers.push(addr("modelServers", server.as_str().unwrap_or_default())?);
    }
    let idp = match &spec["idp"] {
        Value::Null => None,
        idp => Some(DemoIdp {
            addr: at(idp, "addr")?,
            issuer: text(idp, "issuer")?,
            jwks_url: text(idp, "jwksUrl")?,
        }),
    };
    let cors_origins = spec["corsOrigins"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    Ok(DemoUpstreams {
        agent: at(spec, "agent")?,
        mcp_backends,
        mcp_session_key: text(spec, "mcpSessionKey")?,
        openapi,
        openai: llm("openai")?,
        anthropic: llm("anthropic")?,
        epp: at(spec, "epp")?,
        model_servers,
        cors_origins,
        idp,
    })
}

fn value<'a>(args: &'a [String], flag: &str) -> Result<Option<&'a str>, HarnessError> {
    match args.iter().position(|a| a == flag) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .map(|v| Some(v.as_str()))
            .ok_or_else(|| HarnessError::Usage(format!("{flag} needs a value\n{USAGE}"))),
    }
}

fn addr(what: &str, text: &str) -> Result<SocketAddr, HarnessError> {
    text.parse()
        .map_err(|_| HarnessError::Usage(format!("{what}: {text:?} is not ADDR:PORT")))
}

fn read(path: &str) -> Result<String, HarnessError> {
    std::fs::read_to_string(path).map_err(|e| HarnessError::io(format!("reading {path}"), e))
}
