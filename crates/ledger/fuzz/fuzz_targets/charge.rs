//! The whole charge path on a real ledger file, with arbitrary reports from a page: a reply's end, an
//! incomplete reply or a side call, from a model-priced app, a Dify-priced app or a page that is no app.
//! Whatever comes in is charged, held or refused with an error; nothing panics, and every 10,000 inputs the
//! ledger's invariants are verified.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::{LazyLock, Mutex};
use tokendesk_ledger::Ledger;
use tokendesk_ledger::apps::AppBinding;
use tokendesk_ledger::money::{MICROS_PER_CREDIT, Price, parse_price};

const PAGES: [&str; 3] = [
    "http://127.0.0.1:8765/chat/fuzz",
    "http://127.0.0.1:8765/chatbot/dify-priced",
    "http://127.0.0.1:9/chat/not-an-app",
];
const VERIFY_EVERY: u64 = 10_000;

struct Fuzzed {
    ledger: Ledger,
    inputs: u64,
    /// Held until the process ends: the ledger's folder.
    _dir: tempfile::TempDir,
}

static LEDGER: LazyLock<Mutex<Fuzzed>> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).expect("a new ledger");
    let price = Price {
        input_per_1k: parse_price("0.001").expect("a price"),
        output_per_1k: parse_price("0.002").expect("a price"),
    };
    ledger
        .set_model("fuzz-model", price, "fuzz", "fuzz")
        .expect("a model");
    ledger
        .add_app(
            "Fuzz",
            PAGES[0],
            &AppBinding::Model("fuzz-model".into()),
            false,
        )
        .expect("an app");
    ledger
        .add_app("Dify priced", PAGES[1], &AppBinding::DifyPrice, false)
        .expect("an app");
    let mut policy = ledger.policy().expect("the policy");
    // Holds stay reachable through the cap; the flood guard would hold nearly everything.
    policy.flood_max_per_minute = 0;
    ledger.set_policy(&policy, "fuzz").expect("the policy");
    let staff = ledger.active_account().expect("the staff account");
    ledger
        .grant(
            &staff.name,
            1_000_000_000 * MICROS_PER_CREDIT,
            "fuzz",
            "fuzz",
        )
        .expect("a grant");
    Mutex::new(Fuzzed {
        ledger,
        inputs: 0,
        _dir: dir,
    })
});

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let payload = String::from_utf8_lossy(rest);
    let mut fuzzed = LEDGER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let page = PAGES[usize::from(choice % 3)];
    let ledger = &mut fuzzed.ledger;
    // An error is a refusal, recorded by the ledger; only a panic or a broken invariant is a finding.
    let _ = match choice / 3 % 3 {
        0 => ledger.record_frame(page, &payload),
        1 => ledger.record_incomplete(page, &payload),
        _ => ledger.record_side_call(page, &payload),
    };
    fuzzed.inputs += 1;
    if fuzzed.inputs % VERIFY_EVERY == 0 {
        let report = fuzzed.ledger.verify().expect("verify runs");
        assert!(report.ok, "invariants broken: {report:?}");
    }
});
