//! Eight threads, each with its own connection, charge one account at once: no lost update, no double charge.

mod common;

use common::*;
use std::sync::{Arc, Barrier};
use tokendesk_ledger::{Ledger, Outcome};

const THREADS: usize = 8;
const CHARGES: usize = 500;
const SHARED: usize = 50;

#[test]
fn eight_writers_lose_nothing_and_charge_shared_events_once() {
    let t = ledger();
    let start = t.balance();
    let path = t.dir.path().join("ledger.sqlite3");
    let barrier = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|worker| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut ledger = Ledger::open(&path).unwrap();
                barrier.wait();
                let mut charged = 0;
                for n in 0..CHARGES {
                    let result = ledger
                        .record_frame(PAGE, &frame(&format!("w{worker}-{n}"), 100 + n as u64, 20))
                        .unwrap();
                    assert_eq!(result.outcome, Outcome::Charged);
                    // Every worker also races to deliver the same shared events.
                    if n % (CHARGES / SHARED) == 0 {
                        let shared = n / (CHARGES / SHARED);
                        let result = ledger
                            .record_frame(PAGE, &frame(&format!("shared-{shared}"), 1000, 100))
                            .unwrap();
                        assert!(
                            matches!(result.outcome, Outcome::Charged | Outcome::Duplicate),
                            "{result:?}"
                        );
                        charged += usize::from(result.outcome == Outcome::Charged);
                    }
                }
                charged
            })
        })
        .collect();
    let shared_charged: usize = workers
        .into_iter()
        .map(|worker| worker.join().unwrap())
        .sum();
    assert_eq!(shared_charged, SHARED);

    let own: i64 = (0..CHARGES as u64)
        .map(|n| expected_micros(100 + n, 20))
        .sum::<i64>()
        * THREADS as i64;
    let shared = expected_micros(1000, 100) * SHARED as i64;
    assert_eq!(t.balance(), start - own - shared);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM entries WHERE kind = 'charge'"),
        (THREADS * CHARGES + SHARED) as i64
    );
    let mut ledger = t.reopen();
    assert!(ledger.verify().unwrap().ok);
}

#[test]
fn a_long_price_import_lets_another_connection_write_between_its_batches() {
    let mut t = ledger();
    let file: String = std::iter::once("name,input_usd_per_1k,output_usd_per_1k".to_owned())
        .chain((0..450).map(|n| format!("bulk-model-{n},0.001,0.002")))
        .collect::<Vec<_>>()
        .join("\n");
    let other = t.raw();
    other.busy_timeout(std::time::Duration::ZERO).unwrap();
    let mut seen = Vec::new();
    let report = t
        .ledger
        .import_models(&file, "admin", "bulk", |progress| {
            // With no wait at all, this write succeeds only if the import holds no write lock now.
            let free = other.execute_batch("BEGIN IMMEDIATE; ROLLBACK;").is_ok();
            seen.push((progress.done, progress.total, free));
        })
        .unwrap();
    assert_eq!(report.created, 450);
    assert_eq!(seen, [(200, 450, true), (400, 450, true), (450, 450, true)]);
}

#[test]
fn verify_recomputes_the_rollup_without_the_write_lock() {
    let mut t = ledger();
    for i in 0..20 {
        t.ledger
            .record_frame(PAGE, &frame(&format!("m{i}"), 100, 20))
            .unwrap();
    }
    // Another connection holds the write lock, as a charge being committed does: verify reads beside it.
    let other = t.raw();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let report = t.ledger.verify().unwrap();
    assert!(report.ok, "{:?}", report.problems);
    other.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn a_time_zone_move_recomputes_the_rollup_the_live_path_keeps() {
    let mut t = ledger();
    for i in 0..40 {
        t.clock.advance(chrono::Duration::minutes(50));
        t.ledger
            .record_frame(PAGE, &frame(&format!("m{i}"), 100, 20))
            .unwrap();
    }
    t.ledger.set_time_zone(chrono_tz::Asia::Shanghai).unwrap();
    // Charged after the move: kept live in the new zone's days.
    t.ledger
        .record_frame(PAGE, &frame("late", 100, 20))
        .unwrap();
    assert!(t.ledger.verify().unwrap().ok);
    let shanghai_days = t.count("SELECT COUNT(DISTINCT day) FROM daily_usage");
    t.ledger
        .set_time_zone(chrono_tz::America::New_York)
        .unwrap();
    assert!(t.ledger.verify().unwrap().ok);
    // From 09:50 UTC for 33 hours: three days in Shanghai (UTC+8), two in New York (UTC−5).
    assert_eq!(
        (
            shanghai_days,
            t.count("SELECT COUNT(DISTINCT day) FROM daily_usage")
        ),
        (3, 2)
    );
}
