//! Reports the relay handed over that the ledger could not commit at once (the file busy past its
//! timeout, a disk that failed a write): kept in `outbox.jsonl` beside the ledger, each line synced to disk
//! before the relay is answered, and committed later through the same charge path. A report is keyed by
//! its app and message, so a line committed twice (a crash between the commit and the line's removal, or
//! the relay's own retry) is answered `duplicate`, never charged twice.

use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::{ChargeResult, Ledger};

/// The outbox's file inside a data directory.
pub const OUTBOX_FILE: &str = "outbox.jsonl";
/// Lines that could not be read back (a write cut by a crash), kept for an admin, never dropped.
pub const UNREADABLE_FILE: &str = "outbox-unreadable.jsonl";

/// Which charge path a report takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// A `message_end` frame.
    Usage,
    /// A reply without usage, estimated.
    Incomplete,
    /// A model call Dify makes beside a reply, priced by the policy's `side_calls`.
    SideCall,
}

impl Ledger {
    /// Commits a report the relay sent, through the charge path its kind takes.
    pub fn record_report(
        &mut self,
        kind: ReportKind,
        page_url: &str,
        payload: &str,
    ) -> Result<ChargeResult> {
        match kind {
            ReportKind::Usage => self.record_frame(page_url, payload),
            ReportKind::Incomplete => self.record_incomplete(page_url, payload),
            ReportKind::SideCall => self.record_side_call(page_url, payload),
        }
    }
}

/// One report waiting for the ledger, as the relay sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingReport {
    pub kind: ReportKind,
    /// The page the report came from: the app is resolved from it when the report is committed.
    pub page_url: String,
    pub payload: String,
}

/// What a drain did.
#[derive(Debug, Default)]
pub struct Drained {
    /// Each committed report's result, in the order they arrived.
    pub results: Vec<ChargeResult>,
    /// Reports still waiting: the ledger failed again.
    pub waiting: usize,
    /// Lines that could not be read back, moved to [`UNREADABLE_FILE`].
    pub unreadable: usize,
}

pub struct Outbox {
    path: PathBuf,
}

impl Outbox {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join(OUTBOX_FILE),
        }
    }

    /// Appends a report and syncs it to disk: once this returns, the report survives a crash.
    pub fn push(&self, report: &PendingReport) -> Result<()> {
        let mut line = serde_json::to_vec(report).map_err(std::io::Error::other)?;
        line.push(b'\n');
        append_synced(&self.path, &line)
    }

    /// Whether any report waits.
    pub fn is_empty(&self) -> bool {
        std::fs::metadata(&self.path).map_or(true, |meta| meta.len() == 0)
    }

    /// Commits the waiting reports in order. The first that fails for the ledger's own reasons stops the
    /// drain: it and the ones after it stay for the next one.
    pub fn drain(&self, ledger: &mut Ledger) -> Result<Drained> {
        let mut drained = Drained::default();
        let lines = match std::fs::File::open(&self.path) {
            Ok(file) => std::io::BufReader::new(file)
                .lines()
                .collect::<std::io::Result<Vec<String>>>()?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(drained),
            Err(error) => return Err(error.into()),
        };
        let mut waiting = Vec::new();
        for line in lines.iter().filter(|line| !line.trim().is_empty()) {
            if !waiting.is_empty() {
                waiting.push(line.as_str());
                continue;
            }
            let Ok(report) = serde_json::from_str::<PendingReport>(line) else {
                append_synced(
                    &self.path.with_file_name(UNREADABLE_FILE),
                    format!("{line}\n").as_bytes(),
                )?;
                drained.unreadable += 1;
                continue;
            };
            match ledger.record_report(report.kind, &report.page_url, &report.payload) {
                Ok(result) => drained.results.push(result),
                Err(_) => waiting.push(line.as_str()),
            }
        }
        drained.waiting = waiting.len();
        self.replace_with(&waiting)?;
        Ok(drained)
    }

    /// Rewrites the outbox with `lines` only: a new file synced and renamed over the old one, so a crash
    /// leaves either the old lines (committed ones answer `duplicate` next time) or the new ones.
    fn replace_with(&self, lines: &[&str]) -> Result<()> {
        let fresh = self.path.with_extension("jsonl.new");
        let mut file = std::fs::File::create(&fresh)?;
        for line in lines {
            file.write_all(line.as_bytes())?;
            file.write_all(b"\n")?;
        }
        file.sync_all()?;
        std::fs::rename(&fresh, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

fn append_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_data()?;
    Ok(())
}
