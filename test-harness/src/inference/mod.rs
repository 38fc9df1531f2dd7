//! Inference routing fixtures: a fake endpoint picker (ext_proc), fake OpenAI-compatible model
//! servers on several loopback addresses, and the gateway bootstrap around them.

mod bootstrap;
mod epp;
mod gateway;
mod model_server;

pub use bootstrap::{FinalHop, InferenceBootstrap, InferencePool};
pub use epp::{EppExchange, FakeEpp, Pick, DESTINATION, LB_NAMESPACE, SERVED};
pub use gateway::InferenceGateway;
pub use model_server::ModelServer;
