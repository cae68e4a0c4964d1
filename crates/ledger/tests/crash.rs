//! Durability: a child process charges in a loop and is killed with SIGKILL at random moments.
//! After every kill the file is intact, balance = Σ entries, and every charge the child saw committed is there.
//! The child is this same test binary, re-run with `CRASH_CHILD_DIR` set.

mod common;

use common::*;
use rand::Rng;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tokendesk_ledger::{Ledger, Outcome};

/// Kills per run: `CRASH_CYCLES`, else 200.
fn kills() -> usize {
    std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|cycles| cycles.parse().ok())
        .unwrap_or(200)
}
const COMMITTED: &str = "committed ";

/// Runs only as the child: charges until killed, printing each message id once its charge committed.
#[test]
fn crash_child() {
    let (Ok(dir), Ok(run)) = (
        std::env::var("CRASH_CHILD_DIR"),
        std::env::var("CRASH_CHILD_RUN"),
    ) else {
        return;
    };
    let mut ledger = Ledger::open(&Path::new(&dir).join("ledger.sqlite3")).unwrap();
    for n in 0.. {
        let message_id = format!("run{run}-{n}");
        let result = ledger
            .record_frame(PAGE, &frame(&message_id, 100 + n % 900, 10))
            .unwrap();
        assert_eq!(result.outcome, Outcome::Charged);
        if n % 10 == 0 {
            ledger
                .grant("staff", credits(1), "admin", "crash test top-up")
                .unwrap();
        }
        println!("{COMMITTED}{message_id}");
    }
}

#[test]
fn sigkill_never_loses_an_acknowledged_charge() {
    let t = ledger();
    let mut acknowledged: Vec<String> = Vec::new();
    let mut rng = rand::rng();
    let kills = kills();
    for run in 0..kills {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("CRASH_CHILD_DIR", t.dir.path())
            .env("CRASH_CHILD_RUN", run.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(id) = line.strip_prefix(COMMITTED) {
                    let _ = lines.send(id.to_owned());
                }
            }
        });
        // Wait for the first commit, then let it run a random while before the kill.
        let first = received
            .recv_timeout(Duration::from_secs(60))
            .expect("the child charges");
        std::thread::sleep(Duration::from_millis(rng.random_range(0..40)));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        acknowledged.push(first);
        acknowledged.extend(received.try_iter());

        let mut ledger = t.reopen();
        let report = ledger.verify().unwrap();
        assert!(report.ok, "after kill {run}: {report:?}");
        let raw = t.raw();
        let charged: HashMap<String, i64> = raw
            .prepare("SELECT message_id, COUNT(*) FROM entries WHERE kind = 'charge' GROUP BY message_id")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for id in &acknowledged {
            assert_eq!(
                charged.get(id),
                Some(&1),
                "acknowledged charge {id} lost or doubled after kill {run}"
            );
        }
    }
    assert!(acknowledged.len() >= kills);
}
