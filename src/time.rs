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

/// Nanoseconds shown as milliseconds with one decimal: the same text as
/// `format!("{:.1}", ns_to_ms(ns))`, from integer arithmetic. Finding
/// details print hundreds of thousands of these, and the float path (exact
/// decimal expansion) was a tenth of the blame's time.
#[derive(Clone, Copy, Debug)]
pub struct Ms1(pub i64);

impl fmt::Display for Ms1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let abs = self.0.unsigned_abs();
        let (tenths, rest) = (abs / 100_000, abs % 100_000);
        // Only a remainder of exactly half a tenth depends on how the float
        // rounded: let the float decide those (about 1 in 100 values).
        if rest == 50_000 {
            return write!(f, "{:.1}", ns_to_ms(self.0));
        }
        let tenths = tenths + u64::from(rest > 50_000);
        // Laid out by hand and written once: through `write!` the pieces
        // cost more than the arithmetic.
        let mut text = [0u8; 24];
        let mut n = 0;
        if self.0 < 0 {
            text[0] = b'-';
            n = 1;
        }
        let mut digits = itoa::Buffer::new();
        let whole = digits.format(tenths / 10).as_bytes();
        text[n..n + whole.len()].copy_from_slice(whole);
        n += whole.len();
        text[n] = b'.';
        text[n + 1] = b'0' + (tenths % 10) as u8;
        n += 2;
        f.write_str(std::str::from_utf8(&text[..n]).unwrap_or_default())
    }
}

/// Nanoseconds to whole microseconds (truncated toward negative infinity).
pub fn ns_to_us(ns: i64) -> i64 {
    ns.div_euclid(1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms1_is_the_float_formatting() {
        let mut values: Vec<i64> = vec![0, 1, 49_999, 50_000, 50_001, 99_999, 100_000, 250_000];
        values.extend([1_050_000, 34_050_000, 12_345_678_901, i64::MAX / 2]);
        // Every tie and its neighbours up to 10 s, and a spread of others.
        for t in (0..100_000i64).map(|k| k * 100_000 + 50_000) {
            values.extend([t - 1, t, t + 1]);
        }
        values.extend((0..200_000i64).map(|k| k * 7_919_333));
        for v in values {
            for v in [v, -v] {
                assert_eq!(Ms1(v).to_string(), format!("{:.1}", ns_to_ms(v)), "{v} ns");
            }
        }
    }

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
