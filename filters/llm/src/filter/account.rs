//! The filter's token accounting: budget admission before forwarding, request attributes for
//! Envoy (metadata namespace [`super::METADATA_NAMESPACE`]) as soon as each is known, the
//! budget charge when the answer ends, and the gen_ai metrics when the stream is done.

use ai_gateway_core::{Host, LogLevel};

use super::{elapsed_ms, LlmFilter, METADATA_NAMESPACE};
use crate::accounting::budget::{self, Admission};
use crate::accounting::operation;
use crate::metrics::{
    self, BUDGET_REFUSALS_TOTAL, GEN_AI_OPERATION_DURATION_MS, GEN_AI_TIME_PER_OUTPUT_TOKEN_MS,
    GEN_AI_TIME_TO_FIRST_TOKEN_MS, GEN_AI_TOKEN_USAGE, NONE,
};
use crate::plan::Refusal;

impl LlmFilter {
    /// Checks the request's budget, reserving its estimate. `Err` holds the 429 to send.
    pub(super) fn admit(&mut self, host: &mut dyn Host, provider: usize) -> Result<(), Refusal> {
        let Some(budget) = &self.settings.accounting.budget else {
            return Ok(());
        };
        // Counting tokens spends none.
        if self.endpoint == Some(crate::plan::Endpoint::CountTokens) {
            return Ok(());
        }
        let key = budget::key_of(budget, host);
        match budget::admit(budget, host, key.as_deref(), self.max_tokens) {
            Ok(Admission::Unkeyed) => Ok(()),
            Ok(Admission::Admitted(reservation)) => {
                self.reservation = Some(reservation);
                Ok(())
            }
            Ok(Admission::Refused {
                exceeded,
                retry_after,
            }) => {
                let provider = self.settings.providers[provider].name.as_str();
                let model = self.model_tag();
                host.counter_add(
                    BUDGET_REFUSALS_TOTAL,
                    &[provider, model, exceeded.as_str()],
                    1,
                );
                let mut refusal = Refusal::new(
                    self.api,
                    429,
                    &format!(
                        "the {} token budget of this key is spent; it renews in {retry_after} s",
                        exceeded.as_str()
                    ),
                    None,
                    "llm_token_budget_exhausted",
                );
                refusal.retry_after = Some(retry_after);
                Err(refusal)
            }
            Err(err) => {
                // The store failed (contention storm): serve rather than refuse on a guess.
                host.log(
                    LogLevel::Warn,
                    format_args!("llm: token budget not checked: {err}"),
                );
                Ok(())
            }
        }
    }

    /// The client's model as a bounded tag value.
    pub(super) fn model_tag(&self) -> &str {
        match &self.model {
            Some(m) => self.settings.model_tags.limit(m),
            None => NONE,
        }
    }

    /// Publishes the input figure once it is known, ahead of the answer's end.
    pub(super) fn publish_input(&mut self, host: &mut dyn Host) {
        if !self.settings.accounting.enabled || self.input_published || self.tokens.input == 0 {
            return;
        }
        self.input_published = true;
        host.set_metadata(
            METADATA_NAMESPACE,
            "input_tokens",
            &self.tokens.input.to_string(),
        );
    }

    /// Publishes the answer's token figures and charges the budget with them.
    pub(super) fn publish_tokens(&mut self, host: &mut dyn Host) {
        if !self.settings.accounting.enabled {
            return;
        }
        self.settle(host);
        let tokens = self.tokens;
        if tokens.is_empty() {
            return;
        }
        let figures = [
            ("input_tokens", tokens.input),
            ("output_tokens", tokens.output),
            ("total_tokens", tokens.total()),
            ("cached_tokens", tokens.cached),
            ("reasoning_tokens", tokens.reasoning),
        ];
        for (key, value) in figures {
            host.set_metadata(METADATA_NAMESPACE, key, &value.to_string());
        }
        // Translated answers: the model the gateway asked the provider for.
        if let Some(model) = self
            .response_model
            .as_ref()
            .or(self.provider_model.as_ref())
        {
            host.set_metadata(METADATA_NAMESPACE, "response_model", model);
        }
    }

    /// Replaces the budget reservation by the tokens used (none known: released).
    pub(super) fn settle(&mut self, host: &mut dyn Host) {
        let (Some(budget), Some(reservation)) =
            (&self.settings.accounting.budget, self.reservation.take())
        else {
            return;
        };
        if let Err(err) = budget::charge(budget, host, &reservation, self.tokens) {
            host.log(
                LogLevel::Warn,
                format_args!("llm: token budget not charged: {err}"),
            );
        }
    }

    /// Records the gen_ai metrics of a finished request that reached a provider.
    pub(super) fn record_gen_ai(&self, host: &mut dyn Host, provider: &str) {
        let Some(endpoint) = self.endpoint else {
            return;
        };
        if !self.settings.accounting.enabled || self.provider.is_none() {
            return;
        }
        let request_model = self.model_tag();
        let response_model = match &self.response_model {
            Some(m) => self.settings.model_tags.limit(m),
            None => self
                .provider_model
                .as_deref()
                .map_or(NONE, |m| self.settings.model_tags.limit(m)),
        };
        let base = [operation(endpoint), provider, request_model, response_model];
        let error = metrics::error_type(self.status, self.stream_failed);
        let duration = elapsed_ms(host, self.started_nanos);
        host.histogram_record(
            GEN_AI_OPERATION_DURATION_MS,
            &[base[0], base[1], base[2], base[3], &error],
            duration,
        );
        let t = self.tokens;
        if !t.is_empty() {
            // Input and output always; the parts only when there are some.
            let samples = [
                ("input", t.input, true),
                ("output", t.output, true),
                ("cached", t.cached, t.cached > 0),
                ("reasoning", t.reasoning, t.reasoning > 0),
            ];
            for (kind, value, _) in samples.into_iter().filter(|s| s.2) {
                host.histogram_record(
                    GEN_AI_TOKEN_USAGE,
                    &[base[0], base[1], base[2], base[3], kind],
                    value,
                );
            }
        }
        if let Some(first) = self.first_token_ms {
            host.histogram_record(GEN_AI_TIME_TO_FIRST_TOKEN_MS, &base, first);
            if t.output > 1 {
                let after_first = duration.saturating_sub(first);
                host.histogram_record(
                    GEN_AI_TIME_PER_OUTPUT_TOKEN_MS,
                    &base,
                    after_first / (t.output - 1),
                );
            }
        }
    }
}
