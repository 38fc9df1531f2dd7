// Runs a wasm32-wasip1 program (a unit-test binary) under Node's WASI, as Envoy's Wasm VMs run
// the filters: cargo's target runner for `cargo test --target wasm32-wasip1`.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { argv, env, exit } from "node:process";

const [program, ...args] = argv.slice(2);
// The whole file system, at the same paths: tests read fixtures by absolute path
// (`env!("CARGO_MANIFEST_DIR")`).
const wasi = new WASI({
  version: "preview1",
  args: [program, ...args],
  env,
  preopens: { "/": "/" },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(program));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance));
