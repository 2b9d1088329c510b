//! Simulated time: it only moves when the simulation moves it, so every run
//! of a scenario sees the same timestamps.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// The instant every simulation starts at.
pub fn epoch() -> DateTime<Utc> {
    // 2025-06-01T12:00:00Z is a valid date; the fallback is never taken.
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// A clock that stands still until advanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    now: DateTime<Utc>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock { now: epoch() }
    }
}

impl Clock {
    /// A clock at `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        Clock { now }
    }

    /// The current simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The current time as Kubernetes writes it (`2025-06-01T12:00:00Z`).
    pub fn text(&self) -> String {
        self.now.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// Nanoseconds since the Unix epoch (what a VolumeSnapshotContent's
    /// `status.creationTime` holds).
    pub fn nanos(&self) -> i64 {
        self.now.timestamp_nanos_opt().unwrap_or(0)
    }

    /// Moves the clock forward.
    pub fn advance(&mut self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        self.now += by;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_the_epoch_and_advances() {
        let mut c = Clock::default();
        assert_eq!(c.text(), "2025-06-01T12:00:00Z");
        c.advance(Duration::from_secs(90));
        assert_eq!(c.text(), "2025-06-01T12:01:30Z");
        assert_eq!(c.nanos(), c.now().timestamp() * 1_000_000_000);
    }
}
