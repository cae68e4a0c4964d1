//! Property tests against an independent in-memory model of the ledger.
//! The model prices with exact integer arithmetic (i128), not with the ledger's decimal code.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use rust_decimal::Decimal;
use std::collections::HashMap;
use tokendesk_ledger::Outcome;

/// Prices in units of 10⁻⁷ USD per 1K tokens, the rate in hundredths of a credit per USD.
#[derive(Debug, Clone, Copy)]
struct Prices {
    input_units: u64,
    output_units: u64,
    rate_hundredths: u64,
}

impl Prices {
    /// micro-credits = (p·in + c·out)·10⁻⁷/1000 USD · rate/100 · 10⁶ = (p·in + c·out)·rate / 10⁶, rounded up.
    fn micros(&self, prompt: u64, completion: u64) -> i64 {
        let numerator = (prompt as i128 * self.input_units as i128
            + completion as i128 * self.output_units as i128)
            * self.rate_hundredths as i128;
        let denominator = 1_000_000_i128;
        ((numerator + denominator - 1) / denominator) as i64
    }

    fn apply(&self, t: &mut TestLedger) {
        let decimal = |units: u64, scale: u32| Decimal::new(units as i64, scale).to_string();
        let price = price(
            &decimal(self.input_units, 7),
            &decimal(self.output_units, 7),
        );
        t.ledger
            .update_model_price("test-model", price, "admin", "property test")
            .unwrap();
        let rate = Decimal::new(self.rate_hundredths as i64, 2);
        t.ledger
            .set_exchange_rate(rate, "admin", "property test")
            .unwrap();
    }
}

fn prices() -> impl Strategy<Value = Prices> {
    (0u64..200_000, 0u64..200_000, 1u64..5_000_000).prop_map(
        |(input_units, output_units, rate_hundredths)| Prices {
            input_units,
            output_units,
            rate_hundredths,
        },
    )
}

#[derive(Debug, Clone)]
enum Step {
    Reply {
        message: u8,
        prompt: u64,
        completion: u64,
    },
    Redeliver {
        pick: usize,
    },
    Grant {
        credits: u32,
    },
    Reprice(Prices),
    Reverse {
        pick: usize,
    },
}

#[derive(Debug, Clone)]
struct Model {
    prices: Prices,
    balance: i64,
    /// Message → (prompt, completion, micros charged, reversed).
    charged: HashMap<u8, (u64, u64, i64, bool)>,
    order: Vec<u8>,
    last: Option<Outcome>,
}

struct LedgerMachine;

impl ReferenceStateMachine for LedgerMachine {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        prices()
            .prop_map(|prices| Model {
                prices,
                balance: credits(10_000),
                charged: HashMap::new(),
                order: Vec::new(),
                last: None,
            })
            .boxed()
    }

    fn transitions(_state: &Model) -> BoxedStrategy<Step> {
        prop_oneof![
            6 => (0u8..40, 0u64..50_000, 0u64..50_000)
                .prop_map(|(message, prompt, completion)| Step::Reply { message, prompt, completion }),
            3 => any::<usize>().prop_map(|pick| Step::Redeliver { pick }),
            1 => (1u32..1_000).prop_map(|credits| Step::Grant { credits }),
            1 => prices().prop_map(Step::Reprice),
            1 => any::<usize>().prop_map(|pick| Step::Reverse { pick }),
        ]
        .boxed()
    }

    fn apply(mut state: Model, step: &Step) -> Model {
        state.last = None;
        match step {
            Step::Reply {
                message,
                prompt,
                completion,
            } => match state.charged.get(message) {
                Some(&(p, c, _, _)) if (p, c) == (*prompt, *completion) => {
                    state.last = Some(Outcome::Duplicate)
                }
                Some(_) => state.last = Some(Outcome::Conflict),
                None => {
                    let micros = state.prices.micros(*prompt, *completion);
                    state.balance -= micros;
                    state
                        .charged
                        .insert(*message, (*prompt, *completion, micros, false));
                    state.order.push(*message);
                    state.last = Some(Outcome::Charged);
                }
            },
            Step::Redeliver { pick } => {
                if !state.order.is_empty() {
                    state.last = Some(Outcome::Duplicate);
                }
                let _ = pick;
            }
            Step::Grant { credits: amount } => state.balance += credits(i64::from(*amount)),
            Step::Reprice(prices) => state.prices = *prices,
            Step::Reverse { pick } => {
                if !state.order.is_empty() {
                    let message = state.order[pick % state.order.len()];
                    let charge = state.charged.get_mut(&message).unwrap();
                    if !charge.3 {
                        charge.3 = true;
                        state.balance += charge.2;
                    }
                }
            }
        }
        state
    }
}

struct LedgerUnderTest {
    t: TestLedger,
    entries: HashMap<u8, String>,
}

impl StateMachineTest for LedgerUnderTest {
    type SystemUnderTest = Self;
    type Reference = LedgerMachine;

    fn init_test(model: &Model) -> Self {
        let mut t = ledger();
        model.prices.apply(&mut t);
        Self {
            t,
            entries: HashMap::new(),
        }
    }

    fn apply(mut sut: Self, model: &Model, step: Step) -> Self {
        match step {
            Step::Reply {
                message,
                prompt,
                completion,
            } => {
                let result = sut
                    .t
                    .ledger
                    .record_frame(PAGE, &frame(&format!("m{message}"), prompt, completion))
                    .unwrap();
                assert_eq!(Some(result.outcome), model.last, "{result:?}");
                if result.outcome == Outcome::Charged {
                    assert_eq!(result.amount_micros, model.charged[&message].2);
                    sut.entries.insert(message, result.entry_id.unwrap());
                }
            }
            Step::Redeliver { pick } => {
                if let Some(&message) = model.order.get(pick % model.order.len().max(1)) {
                    let (prompt, completion, micros, _) = model.charged[&message];
                    let result = sut
                        .t
                        .ledger
                        .record_frame(PAGE, &frame(&format!("m{message}"), prompt, completion))
                        .unwrap();
                    assert_eq!(
                        (result.outcome, result.amount_micros),
                        (Outcome::Duplicate, micros)
                    );
                }
            }
            Step::Grant { credits: amount } => {
                sut.t
                    .ledger
                    .grant(
                        "staff",
                        credits(i64::from(amount)),
                        "admin",
                        "property test",
                    )
                    .unwrap();
            }
            Step::Reprice(prices) => prices.apply(&mut sut.t),
            Step::Reverse { pick } => {
                if !model.order.is_empty() {
                    let message = model.order[pick % model.order.len()];
                    // Reversing twice is refused; the model ignores the second one too.
                    let _ = sut
                        .t
                        .ledger
                        .reverse(&sut.entries[&message], "admin", "property test");
                }
            }
        }
        sut
    }

    fn check_invariants(sut: &Self, model: &Model) {
        assert_eq!(
            sut.t.balance(),
            model.balance,
            "balance exact to the micro-credit"
        );
    }

    fn teardown(mut sut: Self) {
        let report = sut.t.ledger.verify().unwrap();
        assert!(report.ok, "{report:?}");
    }
}

prop_state_machine! {
    #![proptest_config(Config { cases: 48, failure_persistence: None, .. Config::default() })]

    #[test]
    fn the_ledger_matches_the_model(sequential 1..80 => LedgerUnderTest);
}

proptest! {
    #![proptest_config(Config { cases: 1, failure_persistence: None, .. Config::default() })]

    /// 10,000 events, each delivered three times in a random order: exactly 10,000 charges, and a balance
    /// exact to the micro-credit.
    #[test]
    fn ten_thousand_events_delivered_three_times_charge_once_each(
        events in proptest::collection::vec((0u64..40_000, 0u64..40_000), 10_000),
        order in Just((0..30_000usize).collect::<Vec<_>>()).prop_shuffle(),
        prices in prices(),
    ) {
        let mut t = ledger();
        prices.apply(&mut t);
        let start = t.balance();
        let mut charged = 0;
        for delivery in order {
            let index = delivery % events.len();
            let (prompt, completion) = events[index];
            let result = t.ledger.record_frame(PAGE, &frame(&format!("event-{index}"), prompt, completion)).unwrap();
            prop_assert!(matches!(result.outcome, Outcome::Charged | Outcome::Duplicate), "{result:?}");
            charged += usize::from(result.outcome == Outcome::Charged);
        }
        let expected: i64 = events.iter().map(|&(prompt, completion)| prices.micros(prompt, completion)).sum();
        prop_assert_eq!(charged, 10_000);
        prop_assert_eq!(t.count("SELECT COUNT(*) FROM entries WHERE kind = 'charge'"), 10_000);
        prop_assert_eq!(t.balance(), start - expected);
        prop_assert!(t.ledger.verify().unwrap().ok);
    }
}
