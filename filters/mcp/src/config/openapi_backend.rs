//! The `openapi` side of a backend's config (see the parent module's docs).

use std::sync::Arc;

use ai_gateway_core::ConfigError;

use super::{check_path, BackendKind, RawBackend};
use crate::openapi::{OpenApi, Selection};

/// The OpenAPI side of a backend: its fields are required for `openapi` and refused for
/// `mcp` (and `path` the other way round), so a misplaced field never goes unnoticed.
pub(super) fn validate_kind(
    backend: &RawBackend,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<Arc<OpenApi>>, ConfigError> {
    if backend.kind == BackendKind::Mcp {
        let misplaced = [
            ("spec", backend.spec.is_some()),
            ("basePath", backend.base_path.is_some()),
            ("include", backend.include.is_some()),
            ("exclude", backend.exclude.is_some()),
        ];
        if let Some((field, _)) = misplaced.iter().find(|(_, set)| *set) {
            return Err(ConfigError::invalid(
                at(field),
                "only for backends of \"type\": \"openapi\"",
            ));
        }
        return Ok(None);
    }
    if backend.path.is_some() {
        return Err(ConfigError::invalid(
            at("path"),
            "an openapi backend takes `basePath` (the API's path prefix), not `path`",
        ));
    }
    let Some(spec) = &backend.spec else {
        return Err(ConfigError::invalid(
            at("spec"),
            "an openapi backend needs its OpenAPI document (a JSON object or YAML text)",
        ));
    };
    if let Some(base) = &backend.base_path {
        if !base.is_empty() {
            check_path(base).map_err(|m| ConfigError::invalid(at("basePath"), m))?;
        }
    }
    let selection = Selection {
        include: backend.include.clone(),
        exclude: backend.exclude.clone().unwrap_or_default(),
    };
    OpenApi::from_spec(spec, backend.base_path.as_deref(), &selection)
        .map(|api| Some(Arc::new(api)))
        .map_err(|err| ConfigError::invalid(at(&err.field()), err.to_string()))
}
