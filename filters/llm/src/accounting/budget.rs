//! Token budgets per key and fixed window, shared by every Envoy worker through the host's
//! shared store (compare-and-swap). Before forwarding, a request is refused when its key has
//! spent a limit, or when the output it may still produce (`max_tokens`, the estimate) would
//! pass one; the estimate is reserved at once, so concurrent requests on other workers see it.
//! When the answer ends, the reservation is replaced by the provider's reported usage.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use ai_gateway_core::{Direction, Host, HostError};

use crate::stream::StreamTokens;

/// Compare-and-swap attempts before giving up on one update (each failure is another
/// worker's write in between).
const MAX_ATTEMPTS: usize = 64;

/// Where a request's budget key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetKey {
    /// A request header (e.g. a team header, or a JWT claim copied into a header by the authz
    /// filter's `claimHeaders`).
    Header(String),
    /// The client's own API key (`Authorization: Bearer`, `x-api-key` or `api-key`).
    ApiKey,
}

/// Token ceilings per key and window; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub input: Option<u64>,
    pub output: Option<u64>,
    pub total: Option<u64>,
}

/// A validated budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub key: BudgetKey,
    pub window_seconds: u64,
    /// Limits of keys without their own.
    pub limits: Limits,
    /// Limits of named keys (e.g. one team with a larger budget).
    pub overrides: BTreeMap<String, Limits>,
}

impl Budget {
    /// The limits that apply to `key`.
    pub fn limits_of(&self, key: &str) -> &Limits {
        self.overrides.get(key).unwrap_or(&self.limits)
    }
}

/// What one key spent in one window: the shared record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spent {
    /// Unix second the window began.
    pub window: u64,
    pub input: u64,
    pub output: u64,
}

impl Spent {
    fn encode(self) -> [u8; 24] {
        let mut out = [0; 24];
        out[..8].copy_from_slice(&self.window.to_le_bytes());
        out[8..16].copy_from_slice(&self.input.to_le_bytes());
        out[16..].copy_from_slice(&self.output.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Spent> {
        let word = |i: usize| Some(u64::from_le_bytes(bytes.get(i..i + 8)?.try_into().ok()?));
        if bytes.len() != 24 {
            return None;
        }
        Some(Spent {
            window: word(0)?,
            input: word(8)?,
            output: word(16)?,
        })
    }

    /// This record as seen in the window starting at `window` (an older window spent nothing).
    fn in_window(self, window: u64) -> Spent {
        if self.window == window {
            self
        } else {
            Spent {
                window,
                ..Spent::default()
            }
        }
    }
}

/// The limit a request would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    Input,
    Output,
    Total,
}

impl Exceeded {
    /// Name for the error message.
    pub fn as_str(self) -> &'static str {
        match self {
            Exceeded::Input => "input",
            Exceeded::Output => "output",
            Exceeded::Total => "total",
        }
    }
}

/// Whether a request estimated to produce up to `estimate` output tokens fits what was spent.
pub fn check(limits: &Limits, spent: &Spent, estimate: u64) -> Result<(), Exceeded> {
    let over = |limit: Option<u64>, used: u64, more: u64| {
        limit.is_some_and(|limit| used >= limit || used.saturating_add(more) > limit)
    };
    if over(limits.input, spent.input, 0) {
        return Err(Exceeded::Input);
    }
    if over(limits.output, spent.output, estimate) {
        return Err(Exceeded::Output);
    }
    if over(
        limits.total,
        spent.input.saturating_add(spent.output),
        estimate,
    ) {
        return Err(Exceeded::Total);
    }
    Ok(())
}

/// Output tokens held for an admitted request until its usage is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The shared store key of the budget key.
    pub store_key: String,
    pub window: u64,
    pub output: u64,
}

/// The outcome of [`admit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The request carries no budget key: not limited.
    Unkeyed,
    Admitted(Reservation),
    /// Refused until the window ends, `retry_after` seconds from now.
    Refused {
        exceeded: Exceeded,
        retry_after: u64,
    },
}

/// The budget key of this request, if it carries one.
pub fn key_of(budget: &Budget, host: &dyn Host) -> Option<String> {
    let value = match &budget.key {
        BudgetKey::Header(name) => host.header(Direction::Request, name),
        BudgetKey::ApiKey => client_key(host),
    };
    value.filter(|v| !v.is_empty())
}

/// The client's own key, as sent.
fn client_key(host: &dyn Host) -> Option<String> {
    if let Some(auth) = host.header(Direction::Request, "authorization") {
        let token = auth.strip_prefix("Bearer ").unwrap_or(&auth).trim();
        if !token.is_empty() {
            return Some(token.to_string());
        }
    }
    host.header(Direction::Request, "x-api-key")
        .or_else(|| host.header(Direction::Request, "api-key"))
}

/// The shared store key of a budget key: hashed, so keys have a fixed size and no client
/// secret is spelled out in the store.
fn store_key(key: &str) -> String {
    // SipHash with fixed keys: the same on every worker.
    #[allow(deprecated)]
    let mut hasher = std::hash::SipHasher::new();
    key.hash(&mut hasher);
    format!("ai_gateway.llm.budget.{:016x}", hasher.finish())
}

fn window_of(budget: &Budget, now: u64) -> u64 {
    now - now % budget.window_seconds
}

/// Checks the request's key against its budget and reserves `estimate` output tokens.
pub fn admit(
    budget: &Budget,
    host: &dyn Host,
    key: Option<&str>,
    estimate: u64,
) -> Result<Admission, HostError> {
    let Some(key) = key else {
        return Ok(Admission::Unkeyed);
    };
    let now = host.unix_seconds();
    let window = window_of(budget, now);
    let limits = budget.limits_of(key);
    if limits == &Limits::default() {
        // Unlimited: nothing to check or hold.
        return Ok(Admission::Unkeyed);
    }
    let store_key = store_key(key);
    let mut refused = None;
    update(host, &store_key, |stored| {
        let spent = stored.in_window(window);
        match check(limits, &spent, estimate) {
            Ok(()) => Some(Spent {
                output: spent.output.saturating_add(estimate),
                ..spent
            }),
            Err(exceeded) => {
                refused = Some(exceeded);
                None
            }
        }
    })?;
    Ok(match refused {
        Some(exceeded) => Admission::Refused {
            exceeded,
            retry_after: (window + budget.window_seconds).saturating_sub(now).max(1),
        },
        None => Admission::Admitted(Reservation {
            store_key,
            window,
            output: estimate,
        }),
    })
}

/// Replaces a reservation by the tokens actually used (none: the reservation is released).
/// Usage of a request admitted in a window that has since ended counts in the current one.
pub fn charge(
    budget: &Budget,
    host: &dyn Host,
    reservation: &Reservation,
    used: StreamTokens,
) -> Result<(), HostError> {
    let window = window_of(budget, host.unix_seconds());
    update(host, &reservation.store_key, |stored| {
        let mut spent = stored.in_window(window);
        let held = if spent.window == reservation.window {
            reservation.output
        } else {
            0
        };
        spent.output = spent
            .output
            .saturating_sub(held)
            .saturating_add(used.output);
        spent.input = spent.input.saturating_add(used.input);
        Some(spent)
    })
}

/// Reads, changes and writes one record until no other worker wrote in between; `change`
/// returning `None` leaves the record as it is.
fn update(
    host: &dyn Host,
    key: &str,
    mut change: impl FnMut(Spent) -> Option<Spent>,
) -> Result<(), HostError> {
    for _ in 0..MAX_ATTEMPTS {
        let stored = host.shared_get(key);
        let (spent, cas) = match &stored {
            Some(value) => (
                Spent::decode(&value.bytes).unwrap_or_default(),
                Some(value.cas),
            ),
            None => (Spent::default(), None),
        };
        let Some(next) = change(spent) else {
            return Ok(());
        };
        match host.shared_set(key, &next.encode(), cas) {
            Ok(()) => return Ok(()),
            Err(HostError::CasMismatch) => continue,
            Err(err) => return Err(err),
        }
    }
    Err(HostError::SharedStore(format!(
        "{key}: still contended after {MAX_ATTEMPTS} compare-and-swap attempts"
    )))
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
