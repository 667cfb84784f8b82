//! The per-connection records (connections, transactions, findings) written
//! as JSON text without going through serde.
//!
//! They are nearly all of a report's bytes (about 1.3 kB per transaction),
//! and serde_json spends most of its time on them escaping constant key
//! names and copying small fragments through its writer; writing each key
//! with its quotes and colon as one constant is several times faster (see
//! docs/performance.md). The text is byte for byte what
//! `serde_json::to_writer` (compact) or the report's pretty printer writes
//! for the same value; the tests below compare the two on every record of
//! the bundled samples, and on random numbers and strings.

use super::model::*;

/// Where the text goes, and how it is laid out.
pub struct JsonBuf<'a> {
    pub out: &'a mut Vec<u8>,
    /// `None`: compact. `Some(base)`: pretty, two spaces a level, the value
    /// itself starting `base` spaces in (as serde_json's `PrettyFormatter`
    /// nested that deep).
    pretty: Option<usize>,
    depth: usize,
}

impl<'a> JsonBuf<'a> {
    pub fn compact(out: &'a mut Vec<u8>) -> JsonBuf<'a> {
        JsonBuf {
            out,
            pretty: None,
            depth: 0,
        }
    }

    pub fn pretty(out: &'a mut Vec<u8>, base: usize) -> JsonBuf<'a> {
        JsonBuf {
            out,
            pretty: Some(base),
            depth: 0,
        }
    }

    /// A line break (after a comma when `comma`) and the indent: one copy
    /// from a constant line for the usual depths.
    fn newline(&mut self, comma: bool) {
        const LINE: [u8; 66] = {
            let mut line = [b' '; 66];
            line[0] = b',';
            line[1] = b'\n';
            line
        };
        let mut n = self.pretty.unwrap_or(0) + 2 * self.depth;
        let from = if comma { 0 } else { 1 };
        let here = n.min(LINE.len() - 2);
        self.out.extend_from_slice(&LINE[from..2 + here]);
        n -= here;
        while n > 0 {
            let k = n.min(LINE.len() - 2);
            self.out.extend_from_slice(&LINE[2..2 + k]);
            n -= k;
        }
    }

    fn open(&mut self, bracket: u8) {
        self.out.push(bracket);
        self.depth += 1;
    }

    /// Closes an object or array that had at least one member.
    fn close(&mut self, bracket: u8) {
        self.depth -= 1;
        if self.pretty.is_some() {
            self.newline(false);
        }
        self.out.push(bracket);
    }

    /// An object key (a plain identifier: nothing to escape), with the
    /// separator before it. `compact` is the whole compact text, e.g.
    /// `,"id":`, and `pretty` the key's pretty text, `"id": `: each one
    /// constant copy (see [`object_fields`]).
    #[inline(always)]
    fn key(&mut self, first: bool, compact: &'static [u8], pretty: &'static [u8]) {
        match self.pretty {
            None => self.out.extend_from_slice(compact),
            Some(_) => {
                self.newline(!first);
                self.out.extend_from_slice(pretty);
            }
        }
    }
}

/// A value that writes itself as JSON text.
pub trait ToJson {
    fn to_json(&self, w: &mut JsonBuf<'_>);
}

/// A value written as a JSON object.
pub trait JsonObject {
    /// The fields alone, after `{` (or after other fields, when `first` is
    /// false): NDJSON lines put their `"type"` tag first.
    fn json_fields(&self, w: &mut JsonBuf<'_>, first: bool);
}

/// An object written field by field: `{`, the fields, `}`. The first field
/// is written without a separator, the others after a comma.
macro_rules! object_fields {
    ($w:expr, $first:expr; $($key:ident : $value:expr),+ $(,)?) => {{
        let w: &mut JsonBuf<'_> = $w;
        let mut first = $first;
        $(
            let compact: &'static [u8] = if first {
                concat!("\"", stringify!($key), "\":").as_bytes()
            } else {
                concat!(",\"", stringify!($key), "\":").as_bytes()
            };
            let pretty = concat!("\"", stringify!($key), "\": ").as_bytes();
            w.key(first, compact, pretty);
            ToJson::to_json(&$value, w);
            #[allow(unused_assignments)]
            { first = false; }
        )+
    }};
}

macro_rules! impl_object {
    ($ty:ty, |$s:ident, $w:ident, $first:ident| $body:block) => {
        impl JsonObject for $ty {
            fn json_fields(&self, $w: &mut JsonBuf<'_>, $first: bool) {
                let $s = self;
                $body
            }
        }

        impl ToJson for $ty {
            fn to_json(&self, w: &mut JsonBuf<'_>) {
                w.open(b'{');
                self.json_fields(w, true);
                w.close(b'}');
            }
        }
    };
}

impl ToJson for bool {
    fn to_json(&self, w: &mut JsonBuf<'_>) {
        w.out
            .extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

macro_rules! impl_integer {
    ($($t:ty),*) => {$(
        impl ToJson for $t {
            #[inline]
            fn to_json(&self, w: &mut JsonBuf<'_>) {
                w.out.extend_from_slice(itoa::Buffer::new().format(*self).as_bytes());
            }
        }
    )*};
}

impl_integer!(u8, u16, u32, u64, i64, usize);

impl ToJson for f64 {
    /// The report's milliseconds are whole microseconds divided by 1000;
    /// such a value's shortest round-trip text (what serde_json writes) is
    /// the decimal itself, written here from the integer. Anything else
    /// goes through serde_json.
    fn to_json(&self, w: &mut JsonBuf<'_>) {
        let x = *self;
        // Most of a transaction's fifteen causes are zero.
        if x.to_bits() == 0 {
            w.out.extend_from_slice(b"0.0");
            return;
        }
        let scaled = x * 1000.0;
        // Below 2^40 thousandths (12.7 days) the step between neighbouring
        // doubles is far under 0.001, so no shorter decimal names the same
        // double; -0.0 keeps its sign only through serde_json. (Rounding by
        // adding a half: `f64::round` is a libm call on baseline x86-64, and
        // the check after it catches any miss.)
        if scaled.abs() < (1u64 << 40) as f64 && !(x == 0.0 && x.is_sign_negative()) {
            let k = (scaled + if scaled < 0.0 { -0.5 } else { 0.5 }) as i64;
            if k as f64 / 1000.0 != x {
                let _ = serde_json::to_writer(&mut *w.out, &x);
                return;
            }
            let (whole, frac) = (k / 1000, (k % 1000).unsigned_abs());
            if k < 0 {
                w.out.push(b'-');
            }
            let mut digits = itoa::Buffer::new();
            w.out
                .extend_from_slice(digits.format(whole.unsigned_abs()).as_bytes());
            w.out.push(b'.');
            let frac_digits = [
                b'0' + (frac / 100) as u8,
                b'0' + (frac / 10 % 10) as u8,
                b'0' + (frac % 10) as u8,
            ];
            let keep = if frac % 100 == 0 {
                1
            } else if frac % 10 == 0 {
                2
            } else {
                3
            };
            w.out.extend_from_slice(&frac_digits[..keep]);
            return;
        }
        let _ = serde_json::to_writer(&mut *w.out, &x);
    }
}

impl ToJson for str {
    fn to_json(&self, w: &mut JsonBuf<'_>) {
        if !needs_escape(self.as_bytes()) {
            w.out.push(b'"');
            w.out.extend_from_slice(self.as_bytes());
            w.out.push(b'"');
        } else {
            let _ = serde_json::to_writer(&mut *w.out, self);
        }
    }
}

/// Whether `s` has a byte serde_json escapes: `"`, `\` or a control
/// character. Eight bytes at a time (a word's bytes tested together, as in
/// "Bit Twiddling Hacks": `has_less`, `has_zero`): the finding texts and
/// URIs are most of the report's string bytes.
fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let any_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    let mut words = s.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let v = u64::from_le_bytes(b);
        let below_space = v.wrapping_sub(ONES * 0x20) & !v & HIGHS != 0;
        if below_space
            || any_zero(v ^ (ONES * u64::from(b'"')))
            || any_zero(v ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

impl ToJson for String {
    fn to_json(&self, w: &mut JsonBuf<'_>) {
        self.as_str().to_json(w)
    }
}

impl ToJson for std::borrow::Cow<'static, str> {
    fn to_json(&self, w: &mut JsonBuf<'_>) {
        (**self).to_json(w)
    }
}

impl ToJson for &str {
    fn to_json(&self, w: &mut JsonBuf<'_>) {
        (**self).to_json(w)
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn to_json(&self, w: &mut JsonBuf<'_>) {
        match self {
            Some(v) => v.to_json(w),
            None => w.out.extend_from_slice(b"null"),
        }
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(&self, w: &mut JsonBuf<'_>) {
        if self.is_empty() {
            w.out.extend_from_slice(b"[]");
            return;
        }
        w.open(b'[');
        for (i, v) in self.iter().enumerate() {
            match (w.pretty.is_some(), i == 0) {
                (true, first) => w.newline(!first),
                (false, false) => w.out.push(b','),
                (false, true) => {}
            }
            v.to_json(w);
        }
        w.close(b']');
    }
}

impl<T: ToJson> ToJson for PerSide<T> {
    fn to_json(&self, w: &mut JsonBuf<'_>) {
        w.open(b'{');
        object_fields!(w, true; client: self.client, server: self.server);
        w.close(b'}');
    }
}

impl_object!(HandshakeOut, |s, w, first| {
    object_fields!(w, first;
        syn_us: s.syn_us,
        synack_us: s.synack_us,
        ack_us: s.ack_us,
        rtt_us: s.rtt_us,
        syn_retransmits: s.syn_retransmits,
        synack_retransmits: s.synack_retransmits,
        syn_frame: s.syn_frame,
        synack_frame: s.synack_frame,
        ack_frame: s.ack_frame,
    );
});

impl_object!(CloseOut, |s, w, first| {
    object_fields!(w, first; by: s.by, how: s.how, active_closer: s.active_closer);
});

impl_object!(RetransOut, |s, w, first| {
    object_fields!(w, first;
        timeout: s.timeout,
        fast: s.fast,
        spurious: s.spurious,
        syn: s.syn,
        window_probe: s.window_probe,
        inferred: s.inferred,
    );
});

impl_object!(DirectionOut, |s, w, first| {
    object_fields!(w, first;
        mss: s.mss,
        window_scale: s.window_scale,
        sack_permitted: s.sack_permitted,
        timestamps: s.timestamps,
        retransmission_kinds: s.retransmission_kinds,
        out_of_order: s.out_of_order,
        duplicate_frames: s.duplicate_frames,
        keepalives: s.keepalives,
        zero_windows: s.zero_windows,
        acked_unseen_bytes: s.acked_unseen_bytes,
        gap_bytes: s.gap_bytes,
    );
});

impl_object!(ConnectionOut, |s, w, first| {
    object_fields!(w, first;
        id: s.id,
        client: s.client,
        server: s.server,
        roles: s.roles,
        protocol: s.protocol,
        first_frame: s.first_frame,
        start_us: s.start_us,
        end_us: s.end_us,
        handshake: s.handshake,
        vantage: s.vantage,
        packets: s.packets,
        bytes: s.bytes,
        retransmissions: s.retransmissions,
        close: s.close,
        port_reused: s.port_reused,
        port_reused_after_us: s.port_reused_after_us,
        transactions: s.transactions,
        details: s.details,
    );
    if let Some(file) = s.file {
        object_fields!(w, false; file: file);
    }
});

impl_object!(TimingsMs, |s, w, first| {
    object_fields!(w, first;
        blocked: s.blocked,
        dns: s.dns,
        connect: s.connect,
        send: s.send,
        wait: s.wait,
        receive: s.receive,
        total: s.total,
    );
});

impl_object!(BlameMs, |s, w, first| {
    object_fields!(w, first;
        dns: s.dns,
        connect_rtt: s.connect_rtt,
        syn_retransmit: s.syn_retransmit,
        client: s.client,
        request_send: s.request_send,
        network_rtt: s.network_rtt,
        server: s.server,
        head_of_line: s.head_of_line,
        transfer: s.transfer,
        slow_start: s.slow_start,
        loss_recovery: s.loss_recovery,
        receive_window: s.receive_window,
        nagle: s.nagle,
        delayed_ack: s.delayed_ack,
        unexplained: s.unexplained,
    );
});

impl_object!(TransactionOut, |s, w, first| {
    object_fields!(w, first;
        id: s.id,
        connection: s.connection,
        index: s.index,
        method: s.method,
        uri: s.uri,
        host: s.host,
        version: s.version,
        status: s.status,
        interim: s.interim,
        request_head_bytes: s.request_head_bytes,
        request_body_bytes: s.request_body_bytes,
        request_body_decoded_bytes: s.request_body_decoded_bytes,
        response_head_bytes: s.response_head_bytes,
        response_body_bytes: s.response_body_bytes,
        response_body_decoded_bytes: s.response_body_decoded_bytes,
        request_first_frame: s.request_first_frame,
        request_last_frame: s.request_last_frame,
        response_first_frame: s.response_first_frame,
        response_last_frame: s.response_last_frame,
        request_start_us: s.request_start_us,
        request_end_us: s.request_end_us,
        response_start_us: s.response_start_us,
        response_end_us: s.response_end_us,
        incomplete: s.incomplete,
        reused_connection: s.reused_connection,
        pipelined: s.pipelined,
        idle_before_us: s.idle_before_us,
        timings_ms: s.timings_ms,
        blame_ms: s.blame_ms,
        dominant_cause: s.dominant_cause,
        span_start_us: s.span_start_us,
    );
    if let Some(file) = s.file {
        object_fields!(w, false; file: file);
    }
});

impl_object!(FindingOut, |s, w, first| {
    object_fields!(w, first;
        kind: s.kind,
        connection: s.connection,
        transaction: s.transaction,
        start_us: s.start_us,
        duration_us: s.duration_us,
        frames: s.frames,
        detail: s.detail,
        confidence: s.confidence,
        vantage: s.vantage,
        saving_ms: s.saving_ms,
        recommendation: s.recommendation,
    );
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::json::pretty_indented;
    use serde::Serialize;

    fn compact<T: ToJson>(v: &T) -> String {
        let mut out = Vec::new();
        v.to_json(&mut JsonBuf::compact(&mut out));
        String::from_utf8(out).expect("utf-8")
    }

    fn pretty<T: ToJson>(v: &T, base: usize) -> String {
        let mut out = Vec::new();
        v.to_json(&mut JsonBuf::pretty(&mut out, base));
        String::from_utf8(out).expect("utf-8")
    }

    fn same<T: ToJson + Serialize>(v: &T) {
        let expected = serde_json::to_string(v).expect("serializes");
        assert_eq!(compact(v), expected);
        for base in [0, 4, 70] {
            let mut expected = Vec::new();
            pretty_indented(&mut expected, v, base).expect("serializes");
            assert_eq!(pretty(v, base), String::from_utf8(expected).expect("utf-8"));
        }
    }

    #[test]
    fn numbers_at_the_edges() {
        for x in [
            0.0,
            -0.0,
            -1.0,
            0.001,
            -0.001,
            0.0005,
            1e-7,
            34.23,
            1099511627.775,
            1099511627.776,
            1e15,
            1e16,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            same(&x);
        }
        for n in [0u64, 9, 10, 99, 100, u64::MAX] {
            same(&n);
        }
        same(&i64::MIN);
        same(&vec![1u16, 2, 3]);
        same(&Vec::<u64>::new());
        same(&Some("x".to_string()));
        same(&Option::<String>::None);
    }

    #[test]
    fn escape_check_is_bytewise() {
        let bytewise = |s: &[u8]| s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        for b in 0..=255u8 {
            for at in 0..17 {
                let mut s = vec![b'a'; 17];
                s[at] = b;
                assert_eq!(needs_escape(&s), bytewise(&s), "byte {b} at {at}");
                assert_eq!(needs_escape(&s[..at + 1]), bytewise(&s[..at + 1]));
            }
        }
    }

    #[test]
    fn strings_that_need_escaping() {
        for s in [
            "",
            "plain",
            "a\"b",
            "back\\slash",
            "tab\there",
            "\u{1}\u{1f}\u{7f}",
            "é↔✓",
        ] {
            same(&s.to_string());
        }
    }

    proptest::proptest! {
        #[test]
        fn milliseconds_from_microseconds(us in -(1i64 << 42)..(1i64 << 42)) {
            same(&(us as f64 / 1000.0));
        }

        #[test]
        fn any_double(bits in proptest::prelude::any::<u64>()) {
            same(&f64::from_bits(bits));
        }

        #[test]
        fn any_string(s in proptest::prelude::any::<String>()) {
            same(&s);
        }
    }

    /// Every record of every bundled sample, compact and pretty.
    #[test]
    fn records_of_the_samples_match_serde() {
        use crate::pipeline::{self, PassOptions};
        use crate::report::{record_out, ConnectionFindings, ReportOptions};
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .expect("samples/")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
            .collect();
        paths.sort();
        assert!(paths.len() >= 20, "samples found: {}", paths.len());
        let (mut connections, mut transactions, mut findings) = (0, 0, 0);
        for path in &paths {
            let path = path.to_string_lossy().into_owned();
            let mut analysis = ConnectionFindings::new(&ReportOptions::default());
            let mut found = Vec::new();
            pipeline::run(
                std::slice::from_ref(&path),
                &PassOptions::default(),
                &mut |r| {
                    analysis.push(&r, true, &mut |f| found.push(f));
                    for multi in [false, true] {
                        let out = record_out(&r, multi);
                        // Moving the findings out gives the same lines.
                        let taken = crate::report::record_out_taking(&mut r.clone(), multi);
                        let json = |f: &FindingOut| serde_json::to_string(f).expect("serializes");
                        assert_eq!(
                            taken.findings.iter().map(json).collect::<Vec<_>>(),
                            out.findings.iter().map(json).collect::<Vec<_>>()
                        );
                        same(&out.connection);
                        out.transactions.iter().for_each(same);
                        out.findings.iter().for_each(same);
                        transactions += out.transactions.len();
                        findings += out.findings.len();
                    }
                    connections += 1;
                },
            )
            .expect("sample reads");
            analysis.finish(&mut |f| found.push(f));
            found.iter().for_each(same);
            findings += found.len();
        }
        // The samples exercise every kind of record.
        assert!(connections > 50 && transactions > 50 && findings > 50);
    }
}
