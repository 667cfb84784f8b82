//! Capture time: integer nanoseconds since the Unix epoch.
//!
//! Packet timestamps never pass through `f64` (nanosecond captures would lose
//! precision). JSON carries integer microseconds; tables show milliseconds.

use std::fmt;

/// A point in capture time, nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Builds a timestamp from seconds and a fraction counted in `units_per_sec`.
    pub fn from_parts(secs: i64, frac: u64, units_per_sec: u64) -> Timestamp {
        let ns = if units_per_sec == 0 {
            0
        } else {
            // 128-bit so that pcapng resolutions up to 2^63 cannot overflow.
            ((frac as u128) * 1_000_000_000u128 / units_per_sec as u128) as i64
        };
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(ns))
    }

    /// Whole microseconds since the epoch (truncated toward negative infinity).
    pub fn as_micros(self) -> i64 {
        self.0.div_euclid(1_000)
    }

    /// Nanoseconds from `earlier` to `self`; negative when `self` is earlier.
    pub fn since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000_000);
        let ns = self.0.rem_euclid(1_000_000_000);
        write!(f, "{secs}.{ns:09}")
    }
}

/// Nanoseconds shown as milliseconds.
pub fn ns_to_ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

/// Nanoseconds to whole microseconds (truncated toward negative infinity).
pub fn ns_to_us(ns: i64) -> i64 {
    ns.div_euclid(1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_and_nano_resolutions() {
        assert_eq!(Timestamp::from_parts(1, 5, 1_000_000).0, 1_000_005_000);
        assert_eq!(Timestamp::from_parts(1, 5, 1_000_000_000).0, 1_000_000_005);
        assert_eq!(Timestamp::from_parts(0, 1, 2).0, 500_000_000);
    }

    #[test]
    fn micros_round_down() {
        assert_eq!(Timestamp(1_999).as_micros(), 1);
        assert_eq!(Timestamp(-1).as_micros(), -1);
    }
}
