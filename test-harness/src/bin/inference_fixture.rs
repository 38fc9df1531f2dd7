//! The inference benchmark's helpers (scripts/lib/bench_inference.py): a fake endpoint picker
//! that always picks one endpoint, and the inference bootstrap renderer.

use std::net::SocketAddr;
use std::process::ExitCode;

use ai_gateway_test_harness::inference::{FakeEpp, InferenceBootstrap, InferencePool, Pick};
use ai_gateway_test_harness::{Artifacts, Flavour, HarnessError};

const USAGE: &str = "\
usage:
  inference_fixture epp --pick ADDR:PORT
      serves a fake EPP on a free loopback port, prints `EPP <addr>`, runs until killed
  inference_fixture render --flavour bare|dynmod|wasm|dynmod-empty|wasm-empty --listen ADDR:PORT --admin ADDR:PORT
                           --epp ADDR:PORT --member ADDR:PORT
      prints the inference bootstrap: guard + ext_proc (the EPP) + route stage, one pool of
      one member; `bare` renders ext_proc and the EPP without the inference filter, `*-empty`
      the do-nothing `empty` filter (diagnostics build) in the two stages' places";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("epp") => epp(&args[1..]).await,
        Some("render") => render(&args[1..]),
        _ => Err(HarnessError::Usage(USAGE.to_string())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("inference_fixture: {err}");
            ExitCode::FAILURE
        }
    }
}

fn value<'a>(args: &'a [String], flag: &str) -> Result<&'a str, HarnessError> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
        .ok_or_else(|| HarnessError::Usage(format!("missing {flag}\n{USAGE}")))
}

fn addr(args: &[String], flag: &str) -> Result<SocketAddr, HarnessError> {
    let text = value(args, flag)?;
    text.parse()
        .map_err(|_| HarnessError::Usage(format!("{flag} {text}: not ADDR:PORT")))
}

async fn epp(args: &[String]) -> Result<(), HarnessError> {
    let pick = addr(args, "--pick")?;
    let epp = FakeEpp::start(Pick::Both(pick.to_string())).await?;
    println!("EPP {}", epp.addr());
    std::future::pending::<()>().await;
    Ok(())
}

fn render(args: &[String]) -> Result<(), HarnessError> {
    let flavour_name = value(args, "--flavour")?;
    let (flavour, gateway_filters, floor) = match flavour_name {
        "bare" => (Flavour::DynamicModule, false, false),
        other => match other.strip_suffix("-empty") {
            Some(flavour) => (flavour.parse()?, true, true),
            None => (other.parse()?, true, false),
        },
    };
    let pool = InferencePool::new("bench", addr(args, "--epp")?, &[addr(args, "--member")?]);
    let mut bootstrap = InferenceBootstrap::new(flavour, vec![pool]);
    bootstrap.listener = addr(args, "--listen")?;
    bootstrap.admin = addr(args, "--admin")?;
    bootstrap.gateway_filters = gateway_filters;
    bootstrap.floor = floor;
    if floor {
        bootstrap.artifacts = Artifacts::Diagnostics;
    }
    print!("{}", bootstrap.render()?);
    Ok(())
}
