//! The FailOpen picker: when the EPP gave nothing, send the request to the pool member with the
//! least outstanding work, work being the expected output tokens of each request in flight.
//! The figures live in the host's cross-worker shared store, so every Envoy worker (and, in
//! Wasm, every VM of the same vm_id) balances against the same numbers.

use ai_gateway_core::{shared, Host, LogLevel};

use crate::pool::Pool;

/// The weight of one request: its output-token cap, or the configured default; at least 1 so a
/// request that asks for nothing still counts as one outstanding request.
pub fn weight(max_tokens: Option<u64>, default_max_tokens: u64) -> i64 {
    let tokens = max_tokens.unwrap_or(default_max_tokens).max(1);
    i64::try_from(tokens).unwrap_or(i64::MAX)
}

/// Index of the least loaded member; ties go to the first one at or after `start` (rotating
/// `start` spreads an idle pool evenly). `None` for no members.
pub fn least_loaded(loads: &[i64], start: usize) -> Option<usize> {
    let n = loads.len();
    (0..n)
        .map(|offset| (start + offset) % n)
        .min_by_key(|&i| loads[i])
}

/// The shared-store key holding member `index`'s outstanding work.
pub fn load_key(pool: &str, index: usize) -> String {
    format!("ai_gateway.inference.{pool}.{index}.load")
}

/// Reads every member's load and picks one.
pub fn pick(host: &dyn Host, pool: &Pool, start: usize) -> Option<usize> {
    let loads: Vec<i64> = (0..pool.endpoints.len())
        .map(|i| shared::read_i64(host, &load_key(&pool.name, i)))
        .collect();
    least_loaded(&loads, start)
}

/// Adds (request starts) or removes (request done) `delta` of work on a member. A store
/// failure is logged, not fatal: the picker then balances on slightly stale figures.
pub fn adjust(host: &dyn Host, pool: &Pool, index: usize, delta: i64) {
    if let Err(err) = shared::add_i64(host, &load_key(&pool.name, index), delta) {
        host.log(
            LogLevel::Warn,
            format_args!(
                "inference: load of {} not updated: {err}",
                pool.endpoints[index]
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cidr::Cidr;
    use ai_gateway_core::fake_host::FakeHost;

    #[test]
    fn the_least_loaded_member_wins_and_ties_rotate() {
        let cases: &[(&[i64], usize, Option<usize>)] = &[
            (&[], 0, None),
            (&[5], 3, Some(0)),
            (&[10, 3, 7], 0, Some(1)),
            (&[0, 0, 0], 0, Some(0)),
            (&[0, 0, 0], 1, Some(1)),
            (&[0, 0, 0], 5, Some(2)),
            (&[4, 9, 4], 1, Some(2)),
            (&[-2, 0], 1, Some(0)),
        ];
        for (loads, start, want) in cases {
            assert_eq!(least_loaded(loads, *start), *want, "{loads:?} from {start}");
        }
    }

    #[test]
    fn weight_is_the_output_cap_or_the_default_and_never_zero() {
        assert_eq!(weight(Some(512), 128), 512);
        assert_eq!(weight(None, 128), 128);
        assert_eq!(weight(Some(0), 128), 1);
        assert_eq!(weight(None, 0), 1);
        assert_eq!(weight(Some(u64::MAX), 1), i64::MAX);
    }

    #[test]
    fn picks_follow_shared_load_across_requests() {
        let host = FakeHost::default();
        let pool = Pool {
            name: "p".into(),
            cidrs: vec![Cidr::parse("10.0.0.0/8").unwrap()],
            target_ports: vec![80],
            endpoints: vec![
                "10.0.0.1:80".parse().unwrap(),
                "10.0.0.2:80".parse().unwrap(),
            ],
        };
        assert_eq!(pick(&host, &pool, 0), Some(0));
        adjust(&host, &pool, 0, 1000);
        // A big request on member 0 sends the next ones to member 1 until it carries more.
        assert_eq!(pick(&host, &pool, 0), Some(1));
        adjust(&host, &pool, 1, 600);
        assert_eq!(pick(&host, &pool, 0), Some(1));
        adjust(&host, &pool, 1, 600);
        assert_eq!(pick(&host, &pool, 0), Some(0));
        adjust(&host, &pool, 0, -1000);
        assert_eq!(pick(&host, &pool, 1), Some(0));
    }
}
