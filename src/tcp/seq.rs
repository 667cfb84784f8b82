//! Sequence-number arithmetic. Raw `u32` sequence numbers never leave this
//! module: they are compared only with wrap-aware helpers (RFC 1982 serial
//! arithmetic, RFC 9293 §3.4) and turned into 64-bit stream offsets relative
//! to the initial sequence number, counting wraps (as Zeek does), so that
//! everything above compares plain `u64`s. Nothing here can panic.

/// Signed distance from `b` to `a` in sequence space: positive when `a` is
/// after `b`, valid while the two are less than 2^31 apart.
pub fn seq_diff(a: u32, b: u32) -> i64 {
    a.wrapping_sub(b) as i32 as i64
}

/// `a` is strictly after `b` (RFC 1982).
pub fn seq_gt(a: u32, b: u32) -> bool {
    seq_diff(a, b) > 0
}

/// Maps raw sequence numbers of one direction to 64-bit absolute positions.
///
/// The position of a raw value is the position of the last value seen plus
/// the signed distance to it, so wraps are counted and values slightly
/// behind (retransmissions) map below. Positions start at 2^32 so that data
/// slightly before the first value seen still has a non-negative position.
#[derive(Clone, Copy, Debug)]
pub struct SeqUnwrapper {
    last_raw: u32,
    last_pos: u64,
}

/// Where the first value seen is placed, leaving room below it.
const ORIGIN: u64 = 1 << 32;

impl SeqUnwrapper {
    pub fn new(first: u32) -> SeqUnwrapper {
        SeqUnwrapper {
            last_raw: first,
            last_pos: ORIGIN,
        }
    }

    /// Absolute position of `raw`; moves the reference forward only.
    pub fn unwrap(&mut self, raw: u32) -> u64 {
        let pos = self.peek(raw);
        if pos > self.last_pos {
            self.last_raw = raw;
            self.last_pos = pos;
        }
        pos
    }

    /// Absolute position of `raw` without moving the reference.
    pub fn peek(&self, raw: u32) -> u64 {
        let d = seq_diff(raw, self.last_raw);
        if d >= 0 {
            self.last_pos.saturating_add(d as u64)
        } else {
            self.last_pos.saturating_sub(d.unsigned_abs())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_around_zero_half_and_max() {
        assert!(seq_gt(1, 0));
        assert!(seq_gt(0, u32::MAX));
        assert!(seq_gt(5, u32::MAX - 5));
        assert!(!seq_gt(u32::MAX, 0));
        assert!(seq_gt(1 << 31, (1 << 31) - 1));
        assert!(seq_gt((1 << 31) + 10, 20));
        assert_eq!(seq_diff(3, u32::MAX - 2), 6);
        assert_eq!(seq_diff(u32::MAX - 2, 3), -6);
        assert_eq!(seq_diff(0, 0), 0);
    }

    #[test]
    fn unwrapper_counts_several_wraps() {
        let mut u = SeqUnwrapper::new(u32::MAX - 100);
        let base = u.unwrap(u32::MAX - 100);
        assert_eq!(u.unwrap(10) - base, 111);
        let step = 1u32 << 30;
        let mut raw = 10u32;
        let mut expect = 111u64;
        for _ in 0..12 {
            raw = raw.wrapping_add(step);
            expect += step as u64;
            assert_eq!(u.unwrap(raw) - base, expect);
        }
        // A retransmission behind the highest value maps below it.
        assert_eq!(u.unwrap(raw.wrapping_sub(1000)) - base, expect - 1000);
        assert_eq!(u.peek(raw) - base, expect);
    }

    #[test]
    fn ordering_holds_for_any_isn() {
        for isn in [0u32, 1, (1 << 31) - 1, 1 << 31, u32::MAX - 1, u32::MAX] {
            let mut u = SeqUnwrapper::new(isn);
            let a = u.unwrap(isn.wrapping_add(1000));
            let b = u.unwrap(isn.wrapping_add(500));
            let c = u.unwrap(isn.wrapping_add(2_000_000_000));
            assert!(b < a && a < c, "isn {isn}");
        }
    }
}
