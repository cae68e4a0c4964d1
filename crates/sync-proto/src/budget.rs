//! Per-user budgets: the day and month they reset in (the org's time zone), and where a user stands
//! against them across all of their devices, as the server counted at a push.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::money::Micros;

/// The zone budgets follow when an org has not chosen one.
pub const DEFAULT_TIME_ZONE: &str = "UTC";

/// The budget day and month that hold an instant: `[start, end)` in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BudgetPeriods {
    pub day_start: DateTime<Utc>,
    pub day_end: DateTime<Utc>,
    pub month_start: DateTime<Utc>,
    pub month_end: DateTime<Utc>,
}

impl BudgetPeriods {
    /// The local day and month around `now` in `zone`.
    pub fn around(now: DateTime<Utc>, zone: Tz) -> Self {
        let today = now.with_timezone(&zone).date_naive();
        let first = today.with_day(1).unwrap_or(today);
        Self {
            day_start: start_of(today, zone),
            day_end: start_of(today + Days::new(1), zone),
            month_start: start_of(first, zone),
            month_end: start_of(first + Months::new(1), zone),
        }
    }
}

/// The first instant of a local date: midnight, or the first hour that exists when a clock change skips it.
fn start_of(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    (0..24)
        .find_map(|hour| {
            zone.from_local_datetime(&date.and_hms_opt(hour, 0, 0)?)
                .earliest()
        })
        .map_or_else(
            || date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
            |start| start.with_timezone(&Utc),
        )
}

/// Parses an IANA time zone name, as an admin types it.
pub fn parse_time_zone(name: &str) -> Option<Tz> {
    name.trim().parse().ok()
}

/// A user's budgets (0: none) and their spend, net of reversals, across every device in the periods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BudgetStatus {
    pub daily_limit_micros: Micros,
    pub monthly_limit_micros: Micros,
    pub spent_today_micros: Micros,
    pub spent_month_micros: Micros,
    pub periods: BudgetPeriods,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn days_and_months_begin_at_local_midnight() {
        let shanghai = parse_time_zone("Asia/Shanghai").unwrap();
        // 2026-03-31 23:30 in Shanghai is 15:30 UTC.
        let periods = BudgetPeriods::around(at("2026-03-31T15:30:00Z"), shanghai);
        assert_eq!(periods.day_start, at("2026-03-30T16:00:00Z"));
        assert_eq!(periods.day_end, at("2026-03-31T16:00:00Z"));
        assert_eq!(periods.month_start, at("2026-02-28T16:00:00Z"));
        assert_eq!(periods.month_end, at("2026-03-31T16:00:00Z"));
        let utc = BudgetPeriods::around(at("2026-12-31T23:59:59Z"), Tz::UTC);
        assert_eq!(utc.month_end, at("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn a_day_with_a_clock_change_is_as_long_as_it_is() {
        let new_york = parse_time_zone("America/New_York").unwrap();
        let spring = BudgetPeriods::around(at("2026-03-08T12:00:00Z"), new_york);
        assert_eq!(
            spring.day_end - spring.day_start,
            chrono::Duration::hours(23)
        );
        // Havana's clocks spring from 00:00 to 01:00: that day starts at 01:00.
        let havana = parse_time_zone("America/Havana").unwrap();
        let skipped = BudgetPeriods::around(at("2026-03-08T12:00:00Z"), havana);
        assert_eq!(skipped.day_start, at("2026-03-08T05:00:00Z"));
    }

    #[test]
    fn only_real_zones_parse() {
        assert!(parse_time_zone(" Europe/Paris ").is_some());
        assert!(parse_time_zone("Mars/Olympus").is_none());
        assert!(parse_time_zone("").is_none());
    }
}
