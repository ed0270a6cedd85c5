//! Reads the time of a log line, for `--since` (and the timeline). Log formats seen on DRX nodes:
//! syslog (`Nov 24 10:00:00`, no year), ISO 8601, DRX/glog (`E1120 16:37:02.690660`, year from the
//! `Log file created at:` header or the file's time), BSR's engine log
//! (`00000001 11/20/2026 16:37:02.1234567`, fixed at +9 h on Linux), WiX Burn
//! (`[0AD8:05C0][2018-07-26T15:33:04]`). Times without a zone are taken in `offset`.
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

pub struct LineClock {
    /// Zone of times written without one (the host's local time).
    offset: FixedOffset,
    /// Whether `offset` is the host's real zone or only a stand-in (a bundle rarely says).
    zone_known: bool,
    /// Zone of BSR engine-log times when it is not `offset`: BSR on Linux writes them at a fixed
    /// +9 h (KST) whatever the host's zone.
    engine_offset: Option<FixedOffset>,
    /// The file's modification time: year-less lines are placed in the year before it.
    reference: DateTime<Utc>,
    /// Year from a glog `Log file created at:` header.
    header_year: Option<i32>,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl LineClock {
    pub fn new(offset: FixedOffset, reference: DateTime<Utc>) -> Self {
        LineClock {
            offset,
            zone_known: true,
            engine_offset: None,
            reference,
            header_year: None,
        }
    }

    /// Says that `offset` is a guess: stamps read in it are marked `zone_guessed`.
    pub fn zone_unknown(mut self) -> Self {
        self.zone_known = false;
        self
    }

    /// Reads BSR engine-log times in `offset` (BSR on Linux: +9 h) instead of the local zone.
    pub fn bsr_engine_offset(mut self, offset: Option<FixedOffset>) -> Self {
        self.engine_offset = offset;
        self
    }

    /// Starts with a year from a glog header seen earlier (replaying lines kept from a file).
    pub fn with_header_year(mut self, year: Option<i32>) -> Self {
        self.header_year = year;
        self
    }

    /// The year of the last glog `Log file created at:` header read.
    pub fn header_year(&self) -> Option<i32> {
        self.header_year
    }

    /// The time a line was written, when it says.
    pub fn time_of(&mut self, line: &[u8]) -> Option<DateTime<Utc>> {
        self.stamp_of(line).map(|s| s.at)
    }

    /// The time a line was written, with what had to be guessed to read it.
    pub fn stamp_of(&mut self, line: &[u8]) -> Option<Stamp> {
        let text = std::str::from_utf8(&line[..line.len().min(64)])
            .ok()
            .or_else(|| {
                // A line cut inside a multi-byte character: the time is at its start anyway.
                let cut = &line[..line.len().min(64)];
                let valid = std::str::from_utf8(cut).err()?.valid_up_to();
                std::str::from_utf8(&cut[..valid]).ok()
            })?;
        if let Some(rest) = text.strip_prefix("Log file created at: ") {
            self.header_year = rest.get(0..4).and_then(|y| y.parse().ok());
            return None;
        }
        let bytes = text.as_bytes();
        if bytes.first() == Some(&b'[') {
            // WiX Burn: [PPPP:TTTT][YYYY-MM-DDThh:mm:ss]
            let close = text.find("][")?;
            return self.iso(text.get(close + 2..)?);
        }
        if bytes.len() >= 19 && bytes[4] == b'-' && bytes[7] == b'-' {
            return self.iso(text);
        }
        if bytes.len() >= 15 && MONTHS.contains(&text.get(0..3)?) && bytes[3] == b' ' {
            let month = MONTHS.iter().position(|m| *m == &text[0..3])? as u32 + 1;
            let day: u32 = text.get(4..6)?.trim().parse().ok()?;
            let time = NaiveTime::parse_from_str(text.get(7..15)?, "%H:%M:%S").ok()?;
            return self.yearless(month, day, time);
        }
        if bytes.len() >= 20
            && matches!(bytes[0], b'I' | b'W' | b'E' | b'F')
            && bytes[1..5].iter().all(u8::is_ascii_digit)
        {
            // glog: [IWEF]mmdd hh:mm:ss.uuuuuu or [IWEF]yyyymmdd hh:mm:ss.uuuuuu
            let digits = bytes[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            let (date, rest) = text[1..].split_at(digits);
            let time = NaiveTime::parse_from_str(rest.trim_start().get(0..8)?, "%H:%M:%S").ok()?;
            return match digits {
                4 => self.yearless(date[0..2].parse().ok()?, date[2..4].parse().ok()?, time),
                8 => {
                    let day = NaiveDate::parse_from_str(date, "%Y%m%d").ok()?;
                    self.local(day.and_time(time), false)
                }
                _ => None,
            };
        }
        if bytes.len() >= 28 && bytes[..8].iter().all(u8::is_ascii_digit) && bytes[8] == b' ' {
            // BSR engine log: sequence, MM/DD/YYYY HH:MM:SS.fffffff
            let stamp =
                NaiveDateTime::parse_from_str(text.get(9..28)?, "%m/%d/%Y %H:%M:%S").ok()?;
            if let Some(engine) = self.engine_offset {
                let at = engine.from_local_datetime(&stamp).single()?;
                return Some(Stamp {
                    at: at.with_timezone(&Utc),
                    year_guessed: false,
                    zone_guessed: false,
                });
            }
            return self.local(stamp, false);
        }
        None
    }

    fn iso(&self, text: &str) -> Option<Stamp> {
        let end = text
            .find(|c: char| c.is_whitespace() || c == ']' || c == ',')
            .unwrap_or(text.len());
        if let Ok(at) = DateTime::parse_from_rfc3339(&text[..end]) {
            return Some(Stamp {
                at: at.with_timezone(&Utc),
                year_guessed: false,
                zone_guessed: false,
            });
        }
        // `2026-11-20 16:37:02` or a zone-less `2026-11-20T16:37:02.123`.
        let naive = text.get(0..19)?.replacen(' ', "T", 1);
        let naive = NaiveDateTime::parse_from_str(&naive, "%Y-%m-%dT%H:%M:%S").ok()?;
        self.local(naive, false)
    }

    fn yearless(&self, month: u32, day: u32, time: NaiveTime) -> Option<Stamp> {
        if let Some(year) = self.header_year {
            return self.local(
                NaiveDate::from_ymd_opt(year, month, day)?.and_time(time),
                false,
            );
        }
        let year = self.reference.year();
        let this_year = self.local(
            NaiveDate::from_ymd_opt(year, month, day)?.and_time(time),
            true,
        )?;
        // A line "from the future" relative to the file's last write is last year's.
        if this_year.at > self.reference + chrono::Duration::days(1) {
            self.local(
                NaiveDate::from_ymd_opt(year - 1, month, day)?.and_time(time),
                true,
            )
        } else {
            Some(this_year)
        }
    }

    fn local(&self, naive: NaiveDateTime, year_guessed: bool) -> Option<Stamp> {
        self.offset
            .from_local_datetime(&naive)
            .single()
            .map(|t| Stamp {
                at: t.with_timezone(&Utc),
                year_guessed,
                zone_guessed: !self.zone_known,
            })
    }
}

/// A line's time and which parts of it were not written in the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub at: DateTime<Utc>,
    /// The line has no year: it came from the reference time.
    pub year_guessed: bool,
    /// The line has no zone and the host's zone is not known.
    pub zone_guessed: bool,
}

impl Stamp {
    pub fn guessed(&self) -> bool {
        self.year_guessed || self.zone_guessed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> LineClock {
        let reference = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        LineClock::new(FixedOffset::east_opt(0).unwrap(), reference)
    }

    fn at(text: &str) -> String {
        clock()
            .time_of(text.as_bytes())
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    }

    #[test]
    fn reads_every_log_format() {
        assert_eq!(
            at("Nov 24 10:00:00 node1 kernel: x"),
            "2026-11-24T10:00:00+00:00"
        );
        assert_eq!(
            at("Dec 31 23:00:00 node1 kernel: x"),
            "2025-12-31T23:00:00+00:00"
        );
        assert_eq!(at("Nov  2 10:00:00 node1 x"), "2026-11-02T10:00:00+00:00");
        assert_eq!(
            at("2026-11-20T16:37:02.123+09:00 x"),
            "2026-11-20T07:37:02.123+00:00"
        );
        assert_eq!(at("2026-11-20 16:37:02 x"), "2026-11-20T16:37:02+00:00");
        assert_eq!(
            at("E1120 16:37:02.690660 t42053 config] x"),
            "2026-11-20T16:37:02+00:00"
        );
        assert_eq!(
            at("I20261120 16:37:02.690660 t1 main] x"),
            "2026-11-20T16:37:02+00:00"
        );
        assert_eq!(
            at("00000001 11/20/2026 16:37:02.1234567 [f] [c:0] bsr_infox"),
            "2026-11-20T16:37:02+00:00"
        );
        assert_eq!(
            at("[0AD8:05C0][2018-07-26T15:33:04]e000: Error 0x800b010a"),
            "2018-07-26T15:33:04+00:00"
        );
        assert_eq!(at("no time here"), "");
        assert_eq!(at(""), "");
    }

    #[test]
    fn glog_header_gives_the_year() {
        let mut clock = clock();
        assert!(clock
            .time_of(b"Log file created at: 2019/03/01 10:00:00")
            .is_none());
        let t = clock.time_of(b"W0301 10:00:01.000000 t1 main] x").unwrap();
        assert_eq!(t.year(), 2019);
    }

    #[test]
    fn bsr_engine_log_on_linux_is_kst_whatever_the_zone() {
        let kst = FixedOffset::east_opt(9 * 3600);
        let mut linux = clock().zone_unknown().bsr_engine_offset(kst);
        let stamp = linux
            .stamp_of(b"00000001 11/20/2026 16:37:02.1234567 [f] [c:0] bsr_info x")
            .unwrap();
        assert_eq!(stamp.at.to_rfc3339(), "2026-11-20T07:37:02+00:00");
        assert!(!stamp.guessed(), "the +9 h is known, not guessed");
        // Without the engine offset (Windows) it is local time, guessed when the zone is unknown.
        let mut windows = clock().zone_unknown();
        let stamp = windows
            .stamp_of(b"00000001 11/20/2026 16:37:02.1234567 [f] [c:0] bsr_info x")
            .unwrap();
        assert_eq!(stamp.at.to_rfc3339(), "2026-11-20T16:37:02+00:00");
        assert!(stamp.zone_guessed && !stamp.year_guessed);
    }

    #[test]
    fn stamps_say_what_was_guessed() {
        let mut known = clock();
        let syslog = known.stamp_of(b"Nov 24 10:00:00 node1 kernel: x").unwrap();
        assert!(syslog.year_guessed && !syslog.zone_guessed);
        let iso = known.stamp_of(b"2026-11-20T16:37:02+09:00 x").unwrap();
        assert!(!iso.guessed());
        let mut unknown = clock().zone_unknown();
        let burn = unknown
            .stamp_of(b"[0AD8:05C0][2018-07-26T15:33:04]e000: Error")
            .unwrap();
        assert!(burn.zone_guessed && !burn.year_guessed);
        let mut headed = clock().with_header_year(Some(2019));
        let glog = headed
            .stamp_of(b"E0301 10:00:01.000000 t1 main] x")
            .unwrap();
        assert_eq!(glog.at.year(), 2019);
        assert!(!glog.year_guessed);
        assert_eq!(headed.header_year(), Some(2019));
    }
}
