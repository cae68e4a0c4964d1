//! Time: entries are stored in UTC; days and months are those of the reporting time zone (the OS's).

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where the ledger reads the current time. Tests drive a [`ManualClock`].
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to.
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(start.timestamp_micros())))
    }

    pub fn advance(&self, by: chrono::Duration) {
        let micros = by
            .num_microseconds()
            .expect("test durations fit in i64 micros");
        self.0.fetch_add(micros, Ordering::SeqCst);
    }

    pub fn set(&self, to: DateTime<Utc>) {
        self.0.store(to.timestamp_micros(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

/// The OS's time zone: `TZ` when it names one, else the system setting, else UTC.
pub fn system_time_zone() -> Tz {
    std::env::var("TZ")
        .ok()
        .and_then(|name| name.trim_start_matches(':').parse().ok())
        .or_else(|| {
            iana_time_zone::get_timezone()
                .ok()
                .and_then(|name| name.parse().ok())
        })
        .unwrap_or(Tz::UTC)
}

pub(crate) fn to_micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub(crate) fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// The local day number (days from CE) of an instant.
pub(crate) fn local_day(tz: Tz, micros: i64) -> i32 {
    from_micros(micros)
        .with_timezone(&tz)
        .date_naive()
        .num_days_from_ce()
}

pub(crate) fn day_to_date(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).unwrap_or_default()
}

/// The first instant of a local date, in UTC (the earliest one when a DST gap swallows midnight).
pub fn start_of_local_day(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let mut time = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    // A zone may skip midnight; walk forward to the first local time that exists.
    for _ in 0..48 {
        if let Some(at) = tz.from_local_datetime(&time).earliest() {
            return at.with_timezone(&Utc);
        }
        time += chrono::Duration::minutes(30);
    }
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// The first local day of the month that contains `day`.
pub(crate) fn first_day_of_month(day: i32) -> i32 {
    let date = day_to_date(day);
    date.with_day(1).unwrap_or(date).num_days_from_ce()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_days_follow_the_zone() {
        let at = Utc.with_ymd_and_hms(2026, 3, 31, 20, 30, 0).unwrap();
        let shanghai: Tz = "Asia/Shanghai".parse().unwrap();
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        assert_eq!(
            day_to_date(local_day(shanghai, to_micros(at))).to_string(),
            "2026-04-01"
        );
        assert_eq!(
            day_to_date(local_day(kolkata, to_micros(at))).to_string(),
            "2026-04-01"
        );
        assert_eq!(
            day_to_date(local_day(Tz::UTC, to_micros(at))).to_string(),
            "2026-03-31"
        );
        assert_eq!(
            day_to_date(first_day_of_month(local_day(shanghai, to_micros(at)))).to_string(),
            "2026-04-01"
        );
    }

    #[test]
    fn start_of_day_skips_a_dst_gap() {
        // Chile moves clocks from 24:00 to 01:00: midnight does not exist there on 2026-09-06.
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let start = start_of_local_day(santiago, date);
        assert_eq!(start.with_timezone(&santiago).date_naive(), date);
    }
}
