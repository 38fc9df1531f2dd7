//! CEL authorization policies: rules compiled once per config, evaluated per request (and per
//! listed item, to filter MCP `tools/list`, `prompts/list` and `resources/list` answers).
//!
//! A rule has an optional `when` (does the rule apply?) and an `allow` (is the request
//! allowed?), both CEL expressions over `jwt`, `request`, `mcp`, `a2a` and `llm` (see
//! [`Context`]). Rules are checked in order; the first applicable rule whose `allow` is false
//! denies. Anything but a boolean, and any evaluation error, denies (fail closed).

mod context;

use std::sync::Arc;

use cel::{extensions, Env, Program, Value};
use serde::Deserialize;

pub use context::{json_value, A2aInfo, Claims, Context, LlmInfo, McpInfo, RequestInfo};

use context::Bindings;

/// One rule as configured.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuleConfig {
    /// Name: the `policy` tag of `authz_decisions_total` and the body of a 403.
    pub name: String,
    /// When present, the rule applies only where this is true.
    #[serde(default)]
    pub when: Option<String>,
    /// The request is allowed only where this is true.
    pub allow: String,
    /// The scope a denied client would need (`scope=` of the 403's challenge).
    #[serde(default)]
    pub scope: Option<String>,
}

/// A rule that did not compile; `field` is `when` or `allow`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {index} `{field}`: {message}")]
pub struct PolicyError {
    /// Index in the configured list.
    pub index: usize,
    /// `name`, `when` or `allow`.
    pub field: &'static str,
    /// The parser's message.
    pub message: String,
}

struct Rule {
    name: String,
    when: Option<Program>,
    allow: Program,
    scope: Option<String>,
}

/// How one rule judged one request (the `outcome` tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Applicable and allowed.
    Allow,
    /// Applicable and denied.
    Deny,
    /// Evaluation failed or gave a non-boolean: denied.
    Error,
}

impl Outcome {
    /// Metric tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Error => "error",
        }
    }
}

/// The verdict on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No applicable rule denied.
    Allow,
    /// Rule `policy` denied (or failed: `error` says why).
    Deny {
        /// The rule's name.
        policy: String,
        /// The rule's `scope`, for the challenge.
        scope: Option<String>,
        /// The evaluation error, when the denial is a failure.
        error: Option<String>,
    },
}

/// Which kind of listed MCP item [`PolicySet::filter_names`] binds the name to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// `mcp.tool`.
    Tool,
    /// `mcp.prompt`.
    Prompt,
    /// `mcp.resource`.
    Resource,
}

/// The compiled rules of one config; `Send + Sync`, shared by every stream.
pub struct PolicySet {
    rules: Vec<Rule>,
    env: Arc<Env>,
    /// Which of the variables `jwt`, `request`, `mcp`, `a2a`, `llm` any rule reads: only
    /// those are built per request.
    uses: [bool; 5],
    /// Whether any rule reads `request.headers` (building that map costs, so only then).
    uses_headers: bool,
}

/// The variables a policy may reference, in the order of `PolicySet::uses`.
const VARIABLES: [&str; 5] = ["jwt", "request", "mcp", "a2a", "llm"];

impl PolicySet {
    /// Compiles the rules.
    pub fn compile(rules: &[RuleConfig]) -> Result<PolicySet, PolicyError> {
        let env = Arc::new(environment());
        let mut compiled = Vec::with_capacity(rules.len());
        for (index, rule) in rules.iter().enumerate() {
            if rule.name.is_empty() {
                return Err(PolicyError {
                    index,
                    field: "name",
                    message: "must not be empty".into(),
                });
            }
            let program = |field: &'static str, source: &str| {
                env.compile(source).map_err(|e| PolicyError {
                    index,
                    field,
                    message: e.to_string(),
                })
            };
            compiled.push(Rule {
                name: rule.name.clone(),
                when: rule
                    .when
                    .as_deref()
                    .map(|w| program("when", w))
                    .transpose()?,
                allow: program("allow", &rule.allow)?,
                scope: rule.scope.clone(),
            });
        }
        let uses_headers = rules.iter().any(|r| {
            r.allow.contains("headers") || r.when.as_deref().is_some_and(|w| w.contains("headers"))
        });
        let uses = VARIABLES.map(|name| {
            compiled.iter().any(|rule| {
                rule.allow.references().has_variable(name)
                    || rule
                        .when
                        .as_ref()
                        .is_some_and(|w| w.references().has_variable(name))
            })
        });
        Ok(PolicySet {
            rules: compiled,
            env,
            uses,
            uses_headers,
        })
    }

    /// Whether there are no rules (every request is allowed).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether a rule reads `request.headers` (the caller then passes them in the context).
    pub fn uses_headers(&self) -> bool {
        self.uses_headers
    }

    /// Whether a rule references variable `name` (`jwt`, `request`, `mcp`, `a2a`, `llm`).
    pub fn uses_variable(&self, name: &str) -> bool {
        VARIABLES
            .iter()
            .zip(self.uses)
            .any(|(variable, used)| *variable == name && used)
    }

    /// The names of the rules, in order (the bounded `policy` tag values).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.name.as_str())
    }

    /// Judges a request.
    pub fn allows(&self, context: &Context) -> Decision {
        self.evaluate(context, |_, _| {})
    }

    /// Judges a request, reporting each applicable rule's outcome (for metrics).
    pub fn evaluate(&self, context: &Context, mut observe: impl FnMut(&str, Outcome)) -> Decision {
        if self.rules.is_empty() {
            return Decision::Allow;
        }
        let empty = context.jwt.is_none().then(context::empty_map).flatten();
        let bindings = self.bindings(context, &empty);
        let mut cel = cel::Context::with_env(Arc::clone(&self.env));
        cel.set_variable_resolver(&bindings);
        self.judge(&cel, &mut observe)
    }

    /// For each of `names` (tools, prompts or resources a listing returned), whether the caller
    /// may use it: the rules are evaluated with `mcp.tool` / `mcp.prompt` / `mcp.resource` set
    /// to the name. No metrics are reported for listings.
    pub fn filter_names(&self, context: &Context, kind: ItemKind, names: &[&str]) -> Vec<bool> {
        if self.rules.is_empty() {
            return vec![true; names.len()];
        }
        let mut context = context.clone();
        names
            .iter()
            .map(|name| {
                let slot = match kind {
                    ItemKind::Tool => &mut context.mcp.tool,
                    ItemKind::Prompt => &mut context.mcp.prompt,
                    ItemKind::Resource => &mut context.mcp.resource,
                };
                slot.clear();
                slot.push_str(name);
                self.allows(&context) == Decision::Allow
            })
            .collect()
    }

    /// Builds the variables the rules reference (only those).
    fn bindings<'a>(
        &self,
        context: &'a Context,
        empty: &'a Option<Box<dyn cel::common::value::Val>>,
    ) -> Bindings<'a> {
        let [jwt, request, mcp, a2a, llm] = self.uses;
        Bindings {
            jwt: if jwt {
                Bindings::jwt_of(context, empty)
            } else {
                None
            },
            request: request.then(|| context.request.val(self.uses_headers)),
            mcp: mcp.then(|| context.mcp.val()),
            a2a: a2a.then(|| context.a2a.val()),
            llm: llm.then(|| context.llm.val()),
        }
    }

    fn judge(
        &self,
        cel: &cel::Context<'_, '_>,
        observe: &mut impl FnMut(&str, Outcome),
    ) -> Decision {
        for rule in &self.rules {
            if let Some(when) = &rule.when {
                match truth(when.execute(cel)) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(error) => return deny(rule, Some(error), observe),
                }
            }
            match truth(rule.allow.execute(cel)) {
                Ok(true) => observe(&rule.name, Outcome::Allow),
                Ok(false) => return deny(rule, None, observe),
                Err(error) => return deny(rule, Some(error), observe),
            }
        }
        Decision::Allow
    }
}

/// The standard library plus the strings and lists extensions (`split`, `lowerAscii`, …), so
/// rules can read space-separated `scope` claims.
fn environment() -> Env {
    let mut env = Env::stdlib();
    // Both extensions only declare functions that the stdlib lacks; failure would be a bug in
    // the crate, and a policy using them then fails closed at evaluation.
    let _ = env.add_extension(extensions::strings);
    let _ = env.add_extension(extensions::lists);
    env
}

fn deny(rule: &Rule, error: Option<String>, observe: &mut impl FnMut(&str, Outcome)) -> Decision {
    let outcome = if error.is_some() {
        Outcome::Error
    } else {
        Outcome::Deny
    };
    observe(&rule.name, outcome);
    Decision::Deny {
        policy: rule.name.clone(),
        scope: rule.scope.clone(),
        error,
    }
}

fn truth(result: cel::ResolveResult) -> Result<bool, String> {
    match result {
        Ok(Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("expected a bool, got {:?}", other.type_of())),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
