//! proxy-wasm adapter (to be written).
