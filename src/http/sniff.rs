//! Content sniffing: does this byte prefix start an HTTP request, an HTTP
//! response, a TLS record, or something else?
//!
//! Used twice: to classify a connection by its first bytes (never by port),
//! and to find a plausible message start when a direction resynchronizes after
//! a gap (see the resync rule in [`crate::http`]). Input: the bytes from a
//! candidate position onward; only the first line (up to the first LF) is
//! examined, and at most [`MAX_PROBE_BYTES`] of it. Output: a three-way
//! verdict where `NeedMore` means the answer depends on bytes not seen yet.
//!
//! Invariant: a verdict of `Yes`/`No` never changes when more bytes are
//! appended (so results do not depend on chunk boundaries).
//! Governing RFCs: RFC 9112 §3 (request line), §4 (status line); RFC 8446
//! §5.1 (TLS record header: content type 22 = handshake, legacy version 3.x).

use crate::http::Role;

/// Longest first line examined before giving up with `No`.
///
/// Source: common server request-line limits (Apache `LimitRequestLine` 8190,
/// nginx `large_client_header_buffers` 8k). Trade-off: a longer generic-method
/// line (unknown method, target longer than this) is not recognized.
pub const MAX_PROBE_BYTES: usize = 8 * 1024;

/// Longest method token accepted when sniffing.
///
/// Source: the longest registered methods (RFC 3253 `BASELINE-CONTROL`,
/// `VERSION-CONTROL`, 15–16 chars) plus slack. Bounds how long a run of
/// upper-case letters can keep the verdict undecided.
pub const MAX_METHOD_LEN: usize = 24;

/// Methods recognized from `METHOD SP` plus the first target byte (or from
/// the method alone on its line). Other upper-case tokens need
/// `SP target SP HTTP/` on the line.
///
/// Source: RFC 9110 §9 and RFC 5789 (PATCH); the IANA HTTP Method Registry
/// entries of WebDAV (RFC 4918, 3253, 3648, 3744, 4791, 5323, 5842); SSDP and
/// UPnP eventing (M-SEARCH, NOTIFY, SUBSCRIBE, UNSUBSCRIBE); and vendor
/// methods Wireshark also recognizes (CCM_POST, RPC_IN_DATA, RPC_OUT_DATA).
pub const KNOWN_METHODS: [&[u8]; 40] = [
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"REPORT",
    b"CHECKOUT",
    b"CHECKIN",
    b"UNCHECKOUT",
    b"MKWORKSPACE",
    b"UPDATE",
    b"LABEL",
    b"MERGE",
    b"MKACTIVITY",
    b"VERSION-CONTROL",
    b"BASELINE-CONTROL",
    b"ORDERPATCH",
    b"ACL",
    b"MKCALENDAR",
    b"BIND",
    b"M-SEARCH",
    b"NOTIFY",
    b"SUBSCRIBE",
    b"UNSUBSCRIBE",
    b"CCM_POST",
    b"RPC_IN_DATA",
    b"RPC_OUT_DATA",
    b"QUERY",
];

/// Answer about a prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Yes,
    No,
    NeedMore,
}

/// Classification of a direction's first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniff {
    NeedMore,
    Request,
    Response,
    Tls,
    Other,
}

/// The first line (without its LF) and whether the LF was seen.
fn first_line(prefix: &[u8]) -> (&[u8], bool) {
    let limited = prefix.get(..MAX_PROBE_BYTES).unwrap_or(prefix);
    match limited.iter().position(|&b| b == b'\n') {
        Some(lf) => (limited.get(..lf).unwrap_or_default(), true),
        None => (limited, false),
    }
}

/// `No` once the line ended or the probe limit is reached, else `NeedMore`.
fn undecided(prefix: &[u8], line_ended: bool) -> Verdict {
    if line_ended || prefix.len() >= MAX_PROBE_BYTES {
        Verdict::No
    } else {
        Verdict::NeedMore
    }
}

fn is_method_char(b: u8) -> bool {
    b.is_ascii_uppercase() || b == b'-' || b == b'_'
}

/// First byte of a request target: anything visible (real clients and
/// scanners send `.`, `%`, raw UTF-8, ...).
fn is_target_start(b: u8) -> bool {
    b != b' ' && b != b'\t' && !b.is_ascii_control()
}

/// Drops leading spaces and tabs (several may separate method and target).
fn skip_spaces(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
    b.get(n..).unwrap_or_default()
}

/// Matches `prefix` against a literal: `Yes` if it starts with it, `NeedMore`
/// if it is a proper prefix of it, else `No`.
fn literal(prefix: &[u8], lit: &[u8]) -> Verdict {
    if prefix.starts_with(lit) {
        Verdict::Yes
    } else if lit.starts_with(prefix) {
        Verdict::NeedMore
    } else {
        Verdict::No
    }
}

/// Is this plausibly the start of a request line?
pub fn request_line_start(prefix: &[u8]) -> Verdict {
    let (line, ended) = first_line(prefix);
    let method_len = line
        .iter()
        .position(|&b| !is_method_char(b))
        .unwrap_or(line.len());
    if method_len > MAX_METHOD_LEN {
        return Verdict::No;
    }
    let (method, after_method) = line.split_at(method_len);
    let known = KNOWN_METHODS.contains(&method);
    let after = match after_method {
        [] if known && ended => return Verdict::Yes,
        [] => return undecided(prefix, ended),
        [b' ', after @ ..] if !method.is_empty() => after,
        // A known method alone on its line (a broken client; servers answer
        // it with 400, and Wireshark counts it as a request).
        [b'\r' | b'\n', ..] if known => return Verdict::Yes,
        _ => return Verdict::No,
    };
    if known {
        return match skip_spaces(after).first() {
            None => undecided(prefix, ended),
            Some(&b) if is_target_start(b) => Verdict::Yes,
            Some(_) => Verdict::No,
        };
    }
    // Unknown token: needs `target SP HTTP/` on the same line.
    let target_len = after
        .iter()
        .position(|&b| b == b' ' || b.is_ascii_control())
        .unwrap_or(after.len());
    match after.split_at(target_len) {
        ([], _) => match after.first() {
            None => undecided(prefix, ended),
            Some(_) => Verdict::No,
        },
        (_, []) => undecided(prefix, ended),
        (_, [b' ', version @ ..]) => match literal(version, b"HTTP/") {
            Verdict::NeedMore => undecided(prefix, ended),
            v => v,
        },
        _ => Verdict::No,
    }
}

/// Is this plausibly the start of a status line, `HTTP/1.x NNN`?
pub fn status_line_start(prefix: &[u8]) -> Verdict {
    const HEAD: &[u8] = b"HTTP/1.";
    if prefix.len() <= HEAD.len() {
        return literal(prefix, HEAD);
    }
    if !prefix.starts_with(HEAD) {
        return Verdict::No;
    }
    // minor digit, SP, three code digits
    let tail = prefix.get(HEAD.len()..).unwrap_or_default();
    let expect: [fn(u8) -> bool; 5] = [
        |b| b.is_ascii_digit(),
        |b| b == b' ',
        |b| b.is_ascii_digit(),
        |b| b.is_ascii_digit(),
        |b| b.is_ascii_digit(),
    ];
    for (i, ok) in expect.iter().enumerate() {
        match tail.get(i) {
            None => return Verdict::NeedMore,
            Some(&b) if ok(b) => {}
            Some(_) => return Verdict::No,
        }
    }
    Verdict::Yes
}

/// Is this plausibly the start of a message of `role`?
pub fn plausible(role: Role, prefix: &[u8]) -> Verdict {
    match role {
        Role::Request => request_line_start(prefix),
        Role::Response => status_line_start(prefix),
    }
}

/// Classifies a direction by its first bytes.
pub fn sniff(prefix: &[u8]) -> Sniff {
    match prefix {
        [] | [0x16] => return Sniff::NeedMore,
        [0x16, 0x03, ..] => return Sniff::Tls,
        [0x16, ..] => return Sniff::Other,
        _ => {}
    }
    let status = literal(prefix, b"HTTP/1.");
    if status == Verdict::Yes {
        return Sniff::Response;
    }
    match (status, request_line_start(prefix)) {
        (_, Verdict::Yes) => Sniff::Request,
        (Verdict::No, Verdict::No) => Sniff::Other,
        _ => Sniff::NeedMore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods() {
        assert_eq!(sniff(b"GET / HTTP/1.1\r\n"), Sniff::Request);
        assert_eq!(sniff(b"GET /"), Sniff::Request);
        assert_eq!(sniff(b"CONNECT host:443 HTTP/1.1"), Sniff::Request);
        assert_eq!(sniff(b"GET"), Sniff::NeedMore);
        assert_eq!(sniff(b"G"), Sniff::NeedMore);
        assert_eq!(sniff(b"GET "), Sniff::NeedMore);
        assert_eq!(sniff(b"GET    /x"), Sniff::Request);
        assert_eq!(sniff(b"GET . HTTP/1.0"), Sniff::Request);
        assert_eq!(sniff(b"GET  "), Sniff::NeedMore);
        assert_eq!(sniff(b"GET \r\n"), Sniff::Other);
        assert_eq!(
            sniff(b"GET\r\n"),
            Sniff::Request,
            "method alone on its line"
        );
        assert_eq!(sniff(b"FOO\r\n"), Sniff::Other);
        assert_eq!(sniff(b"OPTIONS\nHost: a\n\n"), Sniff::Request);
        assert_eq!(sniff(b"CCM_POST /x\n"), Sniff::Request);
    }

    #[test]
    fn generic_method_needs_version() {
        assert_eq!(sniff(b"FOOBAR /d HTTP/1.1\r\n"), Sniff::Request);
        assert_eq!(sniff(b"FOOBAR /d HT"), Sniff::NeedMore);
        assert_eq!(sniff(b"PROPFIND /d"), Sniff::Request, "a registered method");
        assert_eq!(sniff(b"EHLO mail.example.com\r\n"), Sniff::Other);
        assert_eq!(sniff(b"USER anonymous\r\n"), Sniff::Other);
        assert_eq!(sniff(b"M-SEARCH * HTTP/1.1\r\n"), Sniff::Request);
        assert_eq!(sniff(b"FOO /x RTSP/1.0\r\n"), Sniff::Other);
    }

    #[test]
    fn responses_tls_other() {
        assert_eq!(sniff(b"HTTP/1.1 200 OK"), Sniff::Response);
        assert_eq!(sniff(b"HTTP/1."), Sniff::Response);
        assert_eq!(sniff(b"HTTP/"), Sniff::NeedMore);
        assert_eq!(sniff(b"HTTP/2"), Sniff::Other);
        assert_eq!(sniff(b"H"), Sniff::NeedMore);
        assert_eq!(sniff(b"HEAD / HTTP/1.0"), Sniff::Request);
        assert_eq!(sniff(&[0x16, 0x03, 0x01, 0x02]), Sniff::Tls);
        assert_eq!(sniff(&[0x16]), Sniff::NeedMore);
        assert_eq!(sniff(&[0x16, 0x04]), Sniff::Other);
        assert_eq!(sniff(b"SSH-2.0-OpenSSH\r\n"), Sniff::Other);
        assert_eq!(sniff(b"\x00\x01"), Sniff::Other);
    }

    #[test]
    fn long_lines_give_up() {
        let mut line = b"LONGMETHOD /".to_vec();
        line.extend(std::iter::repeat_n(b'a', MAX_PROBE_BYTES));
        assert_eq!(sniff(&line), Sniff::Other);
        let method = vec![b'A'; MAX_METHOD_LEN + 1];
        assert_eq!(sniff(&method), Sniff::Other);
    }

    #[test]
    fn status_line_resync_is_strict() {
        assert_eq!(status_line_start(b"HTTP/1.1 200 OK"), Verdict::Yes);
        assert_eq!(status_line_start(b"HTTP/1.1 20"), Verdict::NeedMore);
        assert_eq!(status_line_start(b"HTTP/1.1 2x0"), Verdict::No);
        assert_eq!(status_line_start(b"HTTP/1.x 200"), Verdict::No);
        assert_eq!(status_line_start(b"xHTTP/1.1 200"), Verdict::No);
    }

    #[test]
    fn verdicts_are_stable_under_extension() {
        let line = b"FOOBAR /dav/x HTTP/1.1\r\nHost: a\r\n";
        let mut decided = None;
        for n in 0..=line.len() {
            let v = request_line_start(&line[..n]);
            if let Some(d) = decided {
                assert_eq!(v, d, "prefix {n}");
            } else if v != Verdict::NeedMore {
                decided = Some(v);
            }
        }
        assert_eq!(decided, Some(Verdict::Yes));
    }
}
