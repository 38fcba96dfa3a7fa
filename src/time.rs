//! Calendar arithmetic for UTC timestamps, without a date crate: the civil date of a Unix time
//! and the two text forms sensorctl prints (the `date` command's and ISO 8601).
//!
//! Pure; needs no privileges. The clock itself is read in `sys::clock`.
#![forbid(unsafe_code)]

/// A broken-down UTC time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utc {
    /// Full year (may be before 1970 or after 9999).
    pub year: i64,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
    /// 0–23.
    pub hour: u32,
    /// 0–59.
    pub minute: u32,
    /// 0–59 (Unix time has no leap seconds).
    pub second: u32,
    /// 0 = Sunday … 6 = Saturday.
    pub weekday: u32,
}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

impl Utc {
    /// The UTC calendar time of `secs` seconds since 1970-01-01T00:00:00Z.
    ///
    /// Days to civil date by the era method of Howard Hinnant's "chrono-compatible low-level
    /// date algorithms": exact for the proleptic Gregorian calendar over the whole i64 day range
    /// that fits, with no loops and no tables.
    pub fn from_unix(secs: i64) -> Utc {
        let days = secs.div_euclid(86_400);
        let of_day = secs.rem_euclid(86_400) as u32;
        // 1970-01-01 was a Thursday (4).
        let weekday = (days + 4).rem_euclid(7) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097); // [0, 146096]
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
        let mp = (5 * doy + 2) / 153; // [0, 11], March-based
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Utc { year, month, day, hour: of_day / 3600, minute: of_day / 60 % 60, second: of_day % 60, weekday }
    }

    /// The form of date(1) in the C locale with TZ=UTC, as the reference CLI prints it:
    /// `Thu Sep 29 18:38:23 UTC 2022` (day of month padded with a space, like `%e`).
    pub fn date_command_text(&self) -> String {
        format!(
            "{} {} {:>2} {:02}:{:02}:{:02} UTC {}",
            WEEKDAYS[self.weekday as usize],
            MONTHS[(self.month - 1) as usize],
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.year
        )
    }

    /// ISO 8601 / RFC 3339 in UTC: `2022-09-29T18:38:23Z`.
    pub fn iso8601(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        // The seed's example: `Thu Sep 29 18:38:23 UTC 2022` (epoch value from `date -u -d`).
        assert_eq!(Utc::from_unix(1_664_476_703).date_command_text(), "Thu Sep 29 18:38:23 UTC 2022");
        assert_eq!(Utc::from_unix(0).date_command_text(), "Thu Jan  1 00:00:00 UTC 1970");
        assert_eq!(Utc::from_unix(-1).iso8601(), "1969-12-31T23:59:59Z");
        // Leap day in a century year divisible by 400, and the 2038 32-bit rollover second.
        assert_eq!(Utc::from_unix(951_782_400).iso8601(), "2000-02-29T00:00:00Z");
        assert_eq!(Utc::from_unix(2_147_483_648).iso8601(), "2038-01-19T03:14:08Z");
        // 2100 is not a leap year: Feb 28 is followed by Mar 1.
        assert_eq!(Utc::from_unix(4_107_542_400).iso8601(), "2100-03-01T00:00:00Z");
    }

    #[test]
    fn every_day_for_three_centuries_follows_the_previous_one() {
        let mut previous = Utc::from_unix(-86_400 * 365 * 100);
        for day in (-365 * 100 + 1)..(365 * 200) {
            let now = Utc::from_unix(day * 86_400);
            let next_expected = if previous.day < days_in_month(previous.year, previous.month) {
                (previous.year, previous.month, previous.day + 1)
            } else if previous.month < 12 {
                (previous.year, previous.month + 1, 1)
            } else {
                (previous.year + 1, 1, 1)
            };
            assert_eq!((now.year, now.month, now.day), next_expected, "day {day}");
            assert_eq!(now.weekday, (previous.weekday + 1) % 7);
            previous = now;
        }
    }

    fn days_in_month(year: i64, month: u32) -> u32 {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][(month - 1) as usize]
    }
}
