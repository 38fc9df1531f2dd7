//! The `accounting` section of the llm filter's config.

use std::collections::BTreeMap;

use ai_gateway_core::ConfigError;
use serde::Deserialize;

use super::budget::{Budget, BudgetKey, Limits};

/// `accounting` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAccounting {
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    #[serde(default)]
    budget: Option<RawBudget>,
}

impl Default for RawAccounting {
    fn default() -> Self {
        RawAccounting {
            enabled: true,
            budget: None,
        }
    }
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawBudget {
    key: RawBudgetKey,
    window_seconds: u64,
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
    #[serde(default)]
    keys: BTreeMap<String, RawLimits>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawLimits {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawBudgetKey {
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    api_key: bool,
}

/// Validated accounting settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounting {
    /// Usage is read (injecting `include_usage` where needed), gen_ai metrics recorded and
    /// request attributes published. Off: translation only (and the `llm_*` metrics).
    pub enabled: bool,
    /// The token budget, when configured (requires `enabled`).
    pub budget: Option<Budget>,
}

impl RawAccounting {
    /// Validates the section; errors name the field under `accounting`.
    pub fn validate(self) -> Result<Accounting, ConfigError> {
        let budget = match self.budget {
            None => None,
            Some(raw) => {
                if !self.enabled {
                    return Err(ConfigError::invalid(
                        "accounting.budget",
                        "a budget needs accounting enabled",
                    ));
                }
                Some(budget(raw)?)
            }
        };
        Ok(Accounting {
            enabled: self.enabled,
            budget,
        })
    }
}

fn budget(raw: RawBudget) -> Result<Budget, ConfigError> {
    let key = match (raw.key.header, raw.key.api_key) {
        (Some(header), false) if !header.is_empty() => BudgetKey::Header(header.to_lowercase()),
        (None, true) => BudgetKey::ApiKey,
        _ => {
            return Err(ConfigError::invalid(
                "accounting.budget.key",
                "exactly one of `header` (a non-empty name) or `apiKey: true`",
            ))
        }
    };
    if raw.window_seconds == 0 {
        return Err(ConfigError::invalid(
            "accounting.budget.windowSeconds",
            "must be positive",
        ));
    }
    let limits = Limits {
        input: raw.input_tokens,
        output: raw.output_tokens,
        total: raw.total_tokens,
    };
    let mut overrides = BTreeMap::new();
    for (name, raw) in raw.keys {
        let own = Limits {
            input: raw.input_tokens,
            output: raw.output_tokens,
            total: raw.total_tokens,
        };
        if own == Limits::default() {
            return Err(ConfigError::invalid(
                format!("accounting.budget.keys.{name}"),
                "at least one of inputTokens, outputTokens, totalTokens",
            ));
        }
        overrides.insert(name, own);
    }
    if limits == Limits::default() && overrides.is_empty() {
        return Err(ConfigError::invalid(
            "accounting.budget",
            "at least one of inputTokens, outputTokens, totalTokens (or keys with their own)",
        ));
    }
    Ok(Budget {
        key,
        window_seconds: raw.window_seconds,
        limits,
        overrides,
    })
}
