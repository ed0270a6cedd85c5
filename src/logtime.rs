//! Reads the time of a log line, for `--since` (and the timeline). Log formats seen on DRX nodes:
//! syslog (`Nov 24 10:00:00`, no year), ISO 8601, DRX/glog (`E1120 16:37:02.690660`, year from the
//! `Log file created at:` header or the file's time), BSR's engine log
//! (`00000001 11/20/2026 16:37:02.1234567`, fixed at +9 h on Linux), WiX Burn
//! (`[0AD8:05C0][2018-07-26T15:33:04]`). Times without a zone are taken in `offset`.
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

pub struct LineClock {
    /// Zone of times written without one (the host's local time).
    offset: FixedOffset,
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
            reference,
            header_year: None,
        }
    }

    /// The time a line was written, when it says.
    pub fn time_of(&mut self, line: &[u8]) -> Option<DateTime<Utc>> {
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
                    self.local(day.and_time(time))
                }
                _ => None,
            };
        }
        if bytes.len() >= 28 && bytes[..8].iter().all(u8::is_ascii_digit) && bytes[8] == b' ' {
            // BSR engine log: sequence, MM/DD/YYYY HH:MM:SS.fffffff
            let stamp =
                NaiveDateTime::parse_from_str(text.get(9..28)?, "%m/%d/%Y %H:%M:%S").ok()?;
            return self.local(stamp);
        }
        None
    }

    fn iso(&self, text: &str) -> Option<DateTime<Utc>> {
        let end = text
            .find(|c: char| c.is_whitespace() || c == ']' || c == ',')
            .unwrap_or(text.len());
        if let Ok(at) = DateTime::parse_from_rfc3339(&text[..end]) {
            return Some(at.with_timezone(&Utc));
        }
        // `2026-11-20 16:37:02` or a zone-less `2026-11-20T16:37:02.123`.
        let naive = text.get(0..19)?.replacen(' ', "T", 1);
        let naive = NaiveDateTime::parse_from_str(&naive, "%Y-%m-%dT%H:%M:%S").ok()?;
        self.local(naive)
    }

    fn yearless(&self, month: u32, day: u32, time: NaiveTime) -> Option<DateTime<Utc>> {
        if let Some(year) = self.header_year {
            return self.local(NaiveDate::from_ymd_opt(year, month, day)?.and_time(time));
        }
        let year = self.reference.year();
        let this_year = self.local(NaiveDate::from_ymd_opt(year, month, day)?.and_time(time))?;
        // A line "from the future" relative to the file's last write is last year's.
        if this_year > self.reference + chrono::Duration::days(1) {
            self.local(NaiveDate::from_ymd_opt(year - 1, month, day)?.and_time(time))
        } else {
            Some(this_year)
        }
    }

    fn local(&self, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
        self.offset
            .from_local_datetime(&naive)
            .single()
            .map(|t| t.with_timezone(&Utc))
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
}
