//! The body-length decision of RFC 9112 §6.3, and the header facts it needs.
//!
//! Input: a parsed head's fields (and, for a response, its status code and the
//! method of the request it answers). Output: a [`Decision`], the [`Framing`]
//! of the body plus the anomaly kinds found on the way. The rules, in the
//! RFC's order, are tabulated in [`crate::http`].
//!
//! Leniency (a passive observer must pick *some* framing): differing
//! Content-Length values use the first one; an invalid Content-Length on a
//! response falls back to reading until close. Both are reported.
//!
//! Invariant: pure functions; no panics; length parsing is overflow-checked.
//! Governing RFCs: RFC 9112 §6 (framing), §9.3 (persistence); RFC 9110 §8.6
//! (Content-Length), §9.3.6 (CONNECT), §15.2 (1xx), §7.8 (Upgrade).

use crate::http::parse::Version;

/// How a message's body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// The message ends with its head.
    NoBody,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// The body runs until the sender closes the connection.
    UntilClose,
    /// The connection stops carrying HTTP after this head (101, 2xx to CONNECT).
    Tunnel,
    /// A request body whose length cannot be determined (RFC 9112 §6.3 rules
    /// 4–5 for requests): the server would reject it and close.
    Unframable,
}

/// What the Content-Length field(s) said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentLength {
    Absent,
    Valid(u64),
    /// Several differing values; the first one is kept.
    Conflicting(u64),
    /// Not a decimal number, or one that overflows u64.
    Invalid,
}

/// What the Transfer-Encoding field(s) said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferCoding {
    Absent,
    ChunkedLast,
    /// Only `identity` (obsolete, RFC 2616): treated as absent.
    Identity,
    /// Codings present but `chunked` is not the last one.
    Other,
}

/// Whether the connection persists after a message (RFC 9112 §9.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    KeepAlive,
    Close,
}

/// The header facts that framing, pairing and reporting need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderSummary {
    pub content_length: ContentLength,
    pub transfer_coding: TransferCoding,
    pub host: Option<String>,
    pub connection_close: bool,
    pub connection_keep_alive: bool,
    pub expect_continue: bool,
}

/// Framing plus anomaly kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub framing: Framing,
    pub anomalies: Vec<&'static str>,
}

fn comma_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Parses a decimal length; `None` on any non-digit or on overflow.
pub fn parse_length(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Collects the framing-relevant facts from all fields (not just the kept ones).
pub fn summarize<'a>(fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> HeaderSummary {
    // Content-Length values in order, folded as they come (no list: this
    // runs for every message): the first, and whether a later one is invalid
    // or differs.
    let mut first_length: Option<Option<u64>> = None;
    let (mut later_invalid, mut later_differs) = (false, false);
    let mut length = |v: Option<u64>| match first_length {
        None => first_length = Some(v),
        Some(first) => {
            later_invalid |= v.is_none();
            later_differs |= v != first;
        }
    };
    // Transfer codings: whether the last is chunked, and whether all are
    // identity (compared without case, as RFC 9110 §10.1.4 says).
    let mut last_chunked: Option<bool> = None;
    let mut all_identity = true;
    let mut summary = HeaderSummary {
        content_length: ContentLength::Absent,
        transfer_coding: TransferCoding::Absent,
        host: None,
        connection_close: false,
        connection_keep_alive: false,
        expect_continue: false,
    };
    for (name, value) in fields {
        // Only the few fields framing reads are decoded.
        let value = || String::from_utf8_lossy(value);
        if name.eq_ignore_ascii_case(b"content-length") {
            let value = value();
            // A list like "5, 5" is allowed when all values agree (RFC 9110 §8.6).
            let mut any = false;
            for v in comma_list(&value) {
                length(parse_length(v));
                any = true;
            }
            if !any {
                length(None);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            for coding in comma_list(&value()) {
                last_chunked = Some(coding.eq_ignore_ascii_case("chunked"));
                all_identity &= coding.eq_ignore_ascii_case("identity");
            }
        } else if name.eq_ignore_ascii_case(b"host") {
            if summary.host.is_none() {
                summary.host = Some(value().trim().to_owned());
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            let value = value();
            for token in comma_list(&value) {
                summary.connection_close |= token.eq_ignore_ascii_case("close");
                summary.connection_keep_alive |= token.eq_ignore_ascii_case("keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            summary.expect_continue |= value().trim().eq_ignore_ascii_case("100-continue");
        }
    }
    summary.content_length = match first_length {
        None => ContentLength::Absent,
        Some(None) => ContentLength::Invalid,
        Some(Some(_)) if later_invalid => ContentLength::Invalid,
        Some(Some(first)) if later_differs => ContentLength::Conflicting(first),
        Some(Some(first)) => ContentLength::Valid(first),
    };
    summary.transfer_coding = match last_chunked {
        None => TransferCoding::Absent,
        Some(true) => TransferCoding::ChunkedLast,
        Some(false) if all_identity => TransferCoding::Identity,
        Some(false) => TransferCoding::Other,
    };
    summary
}

/// The framing of a request body (RFC 9112 §6.3 rules 3–7 as they apply to
/// requests).
pub fn request_framing(s: &HeaderSummary) -> Decision {
    let mut anomalies = Vec::new();
    let coded = matches!(
        s.transfer_coding,
        TransferCoding::ChunkedLast | TransferCoding::Other
    );
    if coded && s.content_length != ContentLength::Absent {
        anomalies.push("te_and_cl");
    }
    let framing = match s.transfer_coding {
        TransferCoding::ChunkedLast => Framing::Chunked,
        TransferCoding::Other => {
            anomalies.push("request_te_not_chunked");
            Framing::Unframable
        }
        TransferCoding::Absent | TransferCoding::Identity => {
            length_framing(s.content_length, &mut anomalies).unwrap_or(Framing::Unframable)
        }
    };
    let framing = match framing {
        Framing::UntilClose => Framing::NoBody,
        f => f,
    };
    Decision { framing, anomalies }
}

/// Content-Length rules 5–6; `UntilClose` when absent, `None` when invalid.
fn length_framing(cl: ContentLength, anomalies: &mut Vec<&'static str>) -> Option<Framing> {
    match cl {
        ContentLength::Absent => Some(Framing::UntilClose),
        ContentLength::Valid(0) => Some(Framing::NoBody),
        ContentLength::Valid(n) => Some(Framing::Length(n)),
        ContentLength::Conflicting(first) => {
            anomalies.push("multiple_content_length");
            Some(if first == 0 {
                Framing::NoBody
            } else {
                Framing::Length(first)
            })
        }
        ContentLength::Invalid => {
            anomalies.push("bad_content_length");
            None
        }
    }
}

/// The framing of a response body. `request_method` is the method of the
/// request it answers, when known.
pub fn response_framing(status: u16, request_method: Option<&str>, s: &HeaderSummary) -> Decision {
    let mut anomalies = Vec::new();
    let is_connect = request_method == Some("CONNECT");
    let framing = if (is_connect && (200..300).contains(&status)) || status == 101 {
        Framing::Tunnel
    } else if request_method == Some("HEAD")
        || (100..200).contains(&status)
        || status == 204
        || status == 304
    {
        Framing::NoBody
    } else {
        let coded = matches!(
            s.transfer_coding,
            TransferCoding::ChunkedLast | TransferCoding::Other
        );
        if coded && s.content_length != ContentLength::Absent {
            anomalies.push("te_and_cl");
        }
        match s.transfer_coding {
            TransferCoding::ChunkedLast => Framing::Chunked,
            TransferCoding::Other => Framing::UntilClose,
            TransferCoding::Absent | TransferCoding::Identity => {
                length_framing(s.content_length, &mut anomalies).unwrap_or(Framing::UntilClose)
            }
        }
    };
    Decision { framing, anomalies }
}

/// Persistence of the connection after a message of `version` (RFC 9112 §9.3):
/// HTTP/1.1 persists unless `close`; HTTP/1.0 only with `keep-alive`.
pub fn persistence(version: Version, s: &HeaderSummary) -> Persistence {
    if s.connection_close {
        Persistence::Close
    } else if version >= Version::HTTP_11 || s.connection_keep_alive {
        Persistence::KeepAlive
    } else {
        Persistence::Close
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&str, &str)]) -> HeaderSummary {
        let owned: Vec<(String, String)> = list
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        summarize(owned.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    }

    fn resp(status: u16, method: &str, list: &[(&str, &str)]) -> Decision {
        response_framing(status, Some(method), &fields(list))
    }

    fn only(framing: Framing) -> Decision {
        Decision {
            framing,
            anomalies: vec![],
        }
    }

    // Rule 1: HEAD, 1xx, 204, 304 have no body, whatever the fields say.
    #[test]
    fn rule1_head_response() {
        assert_eq!(
            resp(200, "HEAD", &[("Content-Length", "50")]),
            only(Framing::NoBody)
        );
    }

    #[test]
    fn rule1_status_without_body() {
        for status in [100, 103, 204, 304] {
            assert_eq!(
                resp(status, "GET", &[("Transfer-Encoding", "chunked")]).framing,
                Framing::NoBody
            );
        }
    }

    // Rule 2: 2xx to CONNECT, and 101, become a tunnel.
    #[test]
    fn rule2_connect_and_101() {
        assert_eq!(resp(200, "CONNECT", &[]), only(Framing::Tunnel));
        assert_eq!(resp(101, "GET", &[]), only(Framing::Tunnel));
        assert_eq!(
            resp(407, "CONNECT", &[("Content-Length", "3")]),
            only(Framing::Length(3))
        );
    }

    // Rule 3: chunked last wins over Content-Length, which is an anomaly.
    #[test]
    fn rule3_chunked() {
        assert_eq!(
            resp(200, "GET", &[("Transfer-Encoding", "gzip, Chunked")]),
            only(Framing::Chunked)
        );
        let d = resp(
            200,
            "GET",
            &[("Transfer-Encoding", "chunked"), ("Content-Length", "5")],
        );
        assert_eq!(
            (d.framing, d.anomalies),
            (Framing::Chunked, vec!["te_and_cl"])
        );
        let d = request_framing(&fields(&[
            ("Content-Length", "5"),
            ("Transfer-Encoding", "chunked"),
        ]));
        assert_eq!(
            (d.framing, d.anomalies),
            (Framing::Chunked, vec!["te_and_cl"])
        );
    }

    // Rule 3/4: a coding without chunked last: responses until close,
    // requests unframable.
    #[test]
    fn rule4_te_not_chunked() {
        assert_eq!(
            resp(200, "GET", &[("Transfer-Encoding", "gzip")]),
            only(Framing::UntilClose)
        );
        let d = request_framing(&fields(&[("Transfer-Encoding", "chunked, gzip")]));
        assert_eq!(d.framing, Framing::Unframable);
        assert_eq!(
            resp(200, "GET", &[("Transfer-Encoding", "identity")]),
            only(Framing::UntilClose)
        );
    }

    // Rule 5: invalid or conflicting Content-Length.
    #[test]
    fn rule5_bad_content_length() {
        let d = resp(200, "GET", &[("Content-Length", "12a")]);
        assert_eq!(
            (d.framing, d.anomalies),
            (Framing::UntilClose, vec!["bad_content_length"])
        );
        let d = request_framing(&fields(&[("Content-Length", "99999999999999999999999")]));
        assert_eq!(d.framing, Framing::Unframable);
        let d = resp(
            200,
            "GET",
            &[("Content-Length", "5"), ("Content-Length", "7")],
        );
        assert_eq!(
            (d.framing, d.anomalies),
            (Framing::Length(5), vec!["multiple_content_length"])
        );
        let d = resp(200, "GET", &[("Content-Length", "5, 7")]);
        assert_eq!(d.framing, Framing::Length(5));
        // Repeated identical values are fine.
        assert_eq!(
            resp(
                200,
                "GET",
                &[("Content-Length", "5, 5"), ("content-length", "5")]
            ),
            only(Framing::Length(5))
        );
    }

    // Rule 6: a valid Content-Length.
    #[test]
    fn rule6_content_length() {
        assert_eq!(
            resp(200, "GET", &[("content-length", " 42 ")]),
            only(Framing::Length(42))
        );
        assert_eq!(
            resp(200, "GET", &[("Content-Length", "0")]),
            only(Framing::NoBody)
        );
        assert_eq!(
            request_framing(&fields(&[("Content-Length", "10")])),
            only(Framing::Length(10))
        );
    }

    // Rule 7: a request with neither has no body.
    #[test]
    fn rule7_request_without_length() {
        assert_eq!(request_framing(&fields(&[])), only(Framing::NoBody));
    }

    // Rule 8: a response with neither runs until close.
    #[test]
    fn rule8_response_until_close() {
        assert_eq!(resp(200, "GET", &[]), only(Framing::UntilClose));
        assert_eq!(
            response_framing(200, None, &fields(&[])),
            only(Framing::UntilClose)
        );
    }

    #[test]
    fn length_overflow_is_none() {
        assert_eq!(parse_length("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_length("18446744073709551616"), None);
        assert_eq!(parse_length("+5"), None);
        assert_eq!(parse_length(""), None);
    }

    #[test]
    fn persistence_rules() {
        let none = fields(&[]);
        assert_eq!(persistence(Version::HTTP_11, &none), Persistence::KeepAlive);
        assert_eq!(persistence(Version::HTTP_10, &none), Persistence::Close);
        let ka = fields(&[("Connection", "Keep-Alive")]);
        assert_eq!(persistence(Version::HTTP_10, &ka), Persistence::KeepAlive);
        let close = fields(&[("connection", "upgrade, close")]);
        assert_eq!(persistence(Version::HTTP_11, &close), Persistence::Close);
    }

    #[test]
    fn summary_facts() {
        let s = fields(&[
            ("HOST", " example.com "),
            ("Host", "second"),
            ("Expect", "100-Continue"),
        ]);
        assert_eq!(s.host.as_deref(), Some("example.com"));
        assert!(s.expect_continue);
        assert_eq!(
            fields(&[("Content-Length", "")]).content_length,
            ContentLength::Invalid
        );
    }

    /// The list-based fold `summarize` replaced (RFC 9110 §8.6, §10.1.4),
    /// kept as the reference.
    fn reference(list: &[(String, String)]) -> (ContentLength, TransferCoding) {
        let (mut lengths, mut codings) = (Vec::new(), Vec::new());
        for (name, value) in list {
            if name.eq_ignore_ascii_case("content-length") {
                let before = lengths.len();
                lengths.extend(comma_list(value).map(parse_length));
                if lengths.len() == before {
                    lengths.push(None);
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                codings.extend(comma_list(value).map(str::to_ascii_lowercase));
            }
        }
        let length = match lengths.split_first() {
            None => ContentLength::Absent,
            Some((None, _)) => ContentLength::Invalid,
            Some((Some(first), others)) => {
                if others.iter().any(Option::is_none) {
                    ContentLength::Invalid
                } else if others.iter().all(|o| *o == Some(*first)) {
                    ContentLength::Valid(*first)
                } else {
                    ContentLength::Conflicting(*first)
                }
            }
        };
        let coding = match codings.last().map(String::as_str) {
            None => TransferCoding::Absent,
            Some("chunked") => TransferCoding::ChunkedLast,
            Some(_) if codings.iter().all(|c| c == "identity") => TransferCoding::Identity,
            Some(_) => TransferCoding::Other,
        };
        (length, coding)
    }

    proptest::proptest! {
        #[test]
        fn folds_like_the_lists(
            list in proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "Content-Length", "content-length", "Transfer-Encoding",
                        "transfer-encoding", "Host",
                    ]),
                    "(5|6|x|chunked|Chunked|identity|gzip| |,){0,4}",
                ),
                0..5,
            )
        ) {
            let owned: Vec<(String, String)> =
                list.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
            let got = summarize(owned.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
            proptest::prop_assert_eq!(
                (got.content_length, got.transfer_coding),
                reference(&owned)
            );
        }
    }
}
