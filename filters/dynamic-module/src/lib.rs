//! Envoy dynamic-module adapter (to be written).
