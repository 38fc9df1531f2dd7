//! Real-Envoy test harness (to be written).
