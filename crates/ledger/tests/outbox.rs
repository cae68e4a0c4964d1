//! Reports the ledger could not commit at once wait in the outbox on disk and are charged exactly once.

mod common;

use common::*;
use tokendesk_ledger::Outcome;
use tokendesk_ledger::outbox::{Outbox, PendingReport, ReportKind, UNREADABLE_FILE};

fn usage(message_id: &str) -> PendingReport {
    PendingReport {
        kind: ReportKind::Usage,
        page_url: PAGE.into(),
        payload: frame(message_id, 1000, 200),
    }
}

#[test]
fn a_report_the_busy_ledger_refused_is_charged_once_after_the_lock_is_released() {
    let mut t = ledger();
    let outbox = Outbox::in_dir(t.dir.path());
    let balance = t.balance();
    // A second connection holds the write lock, as a long import or another process would.
    let other = t.raw();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert!(
        t.ledger
            .record_frame(PAGE, &frame("m1", 1000, 200))
            .is_err()
    );
    // The shell keeps it; the relay sends it again, and that is kept too.
    outbox.push(&usage("m1")).unwrap();
    outbox.push(&usage("m1")).unwrap();
    let still_busy = outbox.drain(&mut t.ledger).unwrap();
    assert_eq!((still_busy.results.len(), still_busy.waiting), (0, 2));
    assert!(!outbox.is_empty());

    other.execute_batch("ROLLBACK").unwrap();
    let drained = outbox.drain(&mut t.ledger).unwrap();
    let outcomes: Vec<Outcome> = drained
        .results
        .iter()
        .map(|result| result.outcome)
        .collect();
    assert_eq!(outcomes, [Outcome::Charged, Outcome::Duplicate]);
    assert_eq!(drained.waiting, 0);
    assert!(outbox.is_empty());
    assert_eq!(t.balance(), balance - expected_micros(1000, 200));
    // The relay's own retry arriving afterwards is a duplicate too.
    let late = t
        .ledger
        .record_frame(PAGE, &frame("m1", 1000, 200))
        .unwrap();
    assert_eq!(late.outcome, Outcome::Duplicate);
    assert!(outbox.drain(&mut t.ledger).unwrap().results.is_empty());
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn a_line_cut_by_a_crash_is_kept_aside_and_the_rest_is_charged() {
    let mut t = ledger();
    let outbox = Outbox::in_dir(t.dir.path());
    outbox.push(&usage("m1")).unwrap();
    let path = t.dir.path().join(tokendesk_ledger::outbox::OUTBOX_FILE);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"kind\":\"usage\",\"page_url\":\"http://127.0.0");
    std::fs::write(&path, format!("{text}\n")).unwrap();
    outbox
        .push(&PendingReport {
            kind: ReportKind::Incomplete,
            page_url: PAGE.into(),
            payload:
                serde_json::json!({"message_id": "m2", "query": "hi", "answer": "hello there"})
                    .to_string(),
        })
        .unwrap();
    let drained = outbox.drain(&mut t.ledger).unwrap();
    assert_eq!(drained.unreadable, 1);
    let outcomes: Vec<(Outcome, bool)> = drained
        .results
        .iter()
        .map(|result| (result.outcome, result.estimated))
        .collect();
    assert_eq!(
        outcomes,
        [(Outcome::Charged, false), (Outcome::Charged, true)]
    );
    let kept = std::fs::read_to_string(t.dir.path().join(UNREADABLE_FILE)).unwrap();
    assert!(kept.starts_with("{\"kind\":\"usage\",\"page_url\":\"http://127.0.0"));
    assert!(outbox.is_empty());
}
