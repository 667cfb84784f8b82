//! Parsers for a complete HTTP/1.x head: start line and header fields.
//!
//! Input: the bytes of one head, from the first byte of the start line up to
//! and including the empty line that ends it (the reader has already found
//! that end, so these are nom *complete*-mode parsers that never wait for more
//! input). Output: an owned [`Head`] with lossy UTF-8 strings, plus the names
//! of the leniencies that were needed (recorded as anomalies by the caller).
//!
//! Lenient where real traffic is sloppy (a passive analyzer must keep going):
//! bare LF line ends, several spaces between start-line parts, obsolete line
//! folding (RFC 9112 §5.2), whitespace before a header colon (RFC 9112 §5.1
//! says reject), lines without a colon (skipped). Strict where leniency would
//! misparse: the version must be `HTTP/d.d`, the status code three digits.
//!
//! Invariant: every function returns `Ok` or `Err` for any input; none panics.
//! Governing RFCs: RFC 9112 §2–§5 (message syntax), RFC 1945 §4.1 (0.9 simple
//! requests).

use nom::bytes::complete::{tag, take_while, take_while1, take_while_m_n};
use nom::combinator::{eof, rest};
use nom::{IResult, Parser};
use std::borrow::Cow;

use crate::http::sniff::KNOWN_METHODS;

/// Longest request target kept, in characters; longer targets are cut.
///
/// Source: the task's output contract (2048, the long-standing practical URL
/// limit of browsers and CDNs). Only what is *kept* is cut, not what is parsed.
pub const MAX_URI_CHARS: usize = 2048;

/// An HTTP version, `HTTP/major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
}

impl Version {
    /// The implied version of a simple request (no version on the line).
    pub const HTTP_09: Version = Version { major: 0, minor: 9 };
    pub const HTTP_10: Version = Version { major: 1, minor: 0 };
    pub const HTTP_11: Version = Version { major: 1, minor: 1 };

    /// `HTTP/1.1` etc.: the common ones without an allocation (one label
    /// per message).
    pub fn label(self) -> Cow<'static, str> {
        match (self.major, self.minor) {
            (1, 1) => Cow::Borrowed("HTTP/1.1"),
            (1, 0) => Cow::Borrowed("HTTP/1.0"),
            (0, 9) => Cow::Borrowed("HTTP/0.9"),
            (major, minor) => Cow::Owned(format!("HTTP/{major}.{minor}")),
        }
    }
}

/// The version field of a request line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestVersion {
    Http(Version),
    /// No version: an HTTP/0.9 simple request if the method is GET.
    Missing,
    /// Something that is not `HTTP/d.d` (e.g. `HTTP/1.`); tolerated.
    Malformed,
    /// Unknown: the line was cut (by a gap or a snap length) before its
    /// version was complete.
    Cut,
}

/// A parsed request line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLine {
    /// The common methods are not copied.
    pub method: Cow<'static, str>,
    /// As on the wire (lossy UTF-8), cut at [`MAX_URI_CHARS`].
    pub target: String,
    pub version: RequestVersion,
}

impl RequestLine {
    /// An HTTP/0.9 simple request (RFC 1945 §4.1: `GET` SP target, nothing
    /// more); the message is this one line.
    pub fn is_simple(&self) -> bool {
        self.version == RequestVersion::Missing && self.method == "GET" && !self.target.is_empty()
    }

    /// The version, `HTTP/0.9` for a simple request, None when unknown.
    pub fn known_version(&self) -> Option<Version> {
        match self.version {
            RequestVersion::Http(v) => Some(v),
            _ if self.is_simple() => Some(Version::HTTP_09),
            _ => None,
        }
    }

    /// `HTTP/1.1` etc., None when unknown.
    pub fn version_label(&self) -> Option<Cow<'static, str>> {
        self.known_version().map(Version::label)
    }
}

/// A parsed status line. The reason phrase is checked but not kept: no
/// report shows it (RFC 9112 §4: clients should ignore it), and copying it
/// was an allocation per response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusLine {
    pub version: Version,
    pub code: u16,
}

/// The first line of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartLine {
    Request(RequestLine),
    Status(StatusLine),
}

/// A parsed head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub start: StartLine,
    /// Every field, in order, names and values as received (bytes),
    /// folded continuation lines joined with one space.
    pub fields: Fields,
    /// Leniencies used, as anomaly kinds (at most one of each kind).
    pub leniencies: Vec<&'static str>,
}

/// A head's fields as received, in one buffer (one allocation per head, not
/// two per field, and no UTF-8 work: heads are parsed for every message, and
/// most runs keep none of their fields).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    raw: Vec<u8>,
    /// (name start, name end, value start, value end) in `raw`.
    spans: Vec<[u32; 4]>,
}

impl Fields {
    fn with_capacity(bytes: usize, fields: usize) -> Fields {
        Fields {
            raw: Vec::with_capacity(bytes),
            spans: Vec::with_capacity(fields),
        }
    }

    /// Appends a field.
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        let at = |t: &Vec<u8>| u32::try_from(t.len()).unwrap_or(u32::MAX);
        let n0 = at(&self.raw);
        self.raw.extend_from_slice(name);
        let n1 = at(&self.raw);
        self.raw.extend_from_slice(value);
        self.spans.push([n0, n1, n1, at(&self.raw)]);
    }

    /// Joins an obs-fold continuation to the last field's value with one
    /// space; false when there is no field yet.
    pub fn fold_into_last(&mut self, more: &[u8]) -> bool {
        let Some(last) = self.spans.last_mut() else {
            return false;
        };
        if !more.is_empty() {
            if last[3] > last[2] {
                self.raw.push(b' ');
            }
            self.raw.extend_from_slice(more);
            last[3] = u32::try_from(self.raw.len()).unwrap_or(u32::MAX);
        }
        true
    }

    /// (name, value) pairs in order, as received.
    pub fn iter_bytes(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.spans.iter().map(|s| {
            let part = |a: u32, b: u32| self.raw.get(a as usize..b as usize).unwrap_or(&[]);
            (part(s[0], s[1]), part(s[2], s[3]))
        })
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The first `max` fields as owned pairs (lossy UTF-8).
    pub fn to_vec(&self, max: usize) -> Vec<(String, String)> {
        self.iter_bytes()
            .take(max)
            .map(|(n, v)| (lossy(n), lossy(v)))
            .collect()
    }
}

/// Why a head could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadError {
    BadRequestLine,
    BadStatusLine,
}

impl HeadError {
    /// Anomaly kind.
    pub fn kind(self) -> &'static str {
        match self {
            HeadError::BadRequestLine => "http_bad_request_line",
            HeadError::BadStatusLine => "http_bad_status_line",
        }
    }
}

/// RFC 9110 §5.6.2 `tchar`.
pub fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// `tchar` as a table: every byte of every header name goes through it, and
/// one lookup is cheaper than the comparisons and the search of the list.
static TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    t
};

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}

/// Lossy UTF-8 copy.
pub fn lossy(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// The slices between LFs (as `split` on LF, found with memchr).
fn split_lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(head);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memchr(b'\n', r) {
            Some(i) => {
                rest = r.get(i + 1..);
                r.get(..i)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Strips one trailing CR (line ends are CRLF or bare LF).
fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_spaces(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if !is_space(*first) {
            break;
        }
        b = rest;
    }
    while let [rest @ .., last] = b {
        if !is_space(*last) {
            break;
        }
        b = rest;
    }
    b
}

fn digit_value(b: &[u8]) -> Option<u8> {
    match b {
        [d] if d.is_ascii_digit() => Some(d - b'0'),
        _ => None,
    }
}

/// `HTTP/d.d`
fn version(i: &[u8]) -> IResult<&[u8], Version> {
    let (i, (_, major, _, minor)) = (
        tag("HTTP/"),
        take_while_m_n(1, 1, is_digit),
        tag("."),
        take_while_m_n(1, 1, is_digit),
    )
        .parse(i)?;
    match (digit_value(major), digit_value(minor)) {
        (Some(major), Some(minor)) => Ok((i, Version { major, minor })),
        _ => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Digit,
        ))),
    }
}

/// The parts of a request line, borrowed from the input.
struct RawRequestLine<'a> {
    method: &'a [u8],
    target: &'a [u8],
    version: RequestVersion,
}

/// The parts of a status line, borrowed from the input.
struct RawStatusLine<'a> {
    version: Version,
    code: &'a [u8],
    /// Parsed to check the line, not kept (see [`StatusLine`]).
    #[cfg_attr(not(test), allow(dead_code))]
    reason: &'a [u8],
}

/// The parts of a field line, borrowed from the input.
struct RawField<'a> {
    name: &'a [u8],
    space_before_colon: bool,
    value: &'a [u8],
}

/// `method SP+ target [SP+ version] SP*` on one line (no line end).
///
/// Lenient like Wireshark: the version is the last word, and the target is
/// everything between method and version (scanners send targets with
/// spaces). A last word that starts with `HTTP/` but is not exactly a version
/// is `Malformed`; any other last word (`T / HTTP`) is not a request line.
fn request_line(i: &[u8]) -> IResult<&[u8], RawRequestLine<'_>> {
    let (i, method) = take_while1(is_tchar)(i)?;
    let (i, gap) = take_while(is_space)(i)?;
    let (i, line) = rest(i)?;
    let line = trim_spaces(line);
    let not_a_request =
        || nom::Err::Error(nom::error::Error::new(line, nom::error::ErrorKind::Verify));
    if line.is_empty() && KNOWN_METHODS.contains(&method) {
        // A known method alone (broken clients): no target, no version.
        return Ok((
            i,
            RawRequestLine {
                method,
                target: line,
                version: RequestVersion::Missing,
            },
        ));
    }
    if gap.is_empty() {
        return Err(not_a_request());
    }
    let (target, version) = match line.iter().rposition(|&b| is_space(b)) {
        None => (line, RequestVersion::Missing),
        Some(cut) => {
            let last = line.get(cut.saturating_add(1)..).unwrap_or_default();
            let before = trim_spaces(line.get(..cut).unwrap_or_default());
            let version = match (version, eof).parse(last) {
                Ok((_, (v, _))) => RequestVersion::Http(v),
                Err(_) if last.starts_with(b"HTTP/") => RequestVersion::Malformed,
                Err(_) => return Err(not_a_request()),
            };
            (before, version)
        }
    };
    if target.is_empty() {
        return Err(not_a_request());
    }
    Ok((
        i,
        RawRequestLine {
            method,
            target,
            version,
        },
    ))
}

/// `version SP+ 3DIGIT [SP reason]` on one line (no line end).
fn status_line(i: &[u8]) -> IResult<&[u8], RawStatusLine<'_>> {
    let (i, version) = version(i)?;
    let (i, _) = take_while1(is_space)(i)?;
    let (i, code) = take_while_m_n(3, 3, is_digit)(i)?;
    // After the code: end of line, or whitespace then the reason phrase.
    let (i, reason) = if i.is_empty() {
        (i, &b""[..])
    } else {
        let (i, _) = take_while1(is_space)(i)?;
        rest(i)?
    };
    Ok((
        i,
        RawStatusLine {
            version,
            code,
            reason,
        },
    ))
}

/// A method as text: the registered ones (RFC 9110 §9) as constants.
fn method_text(raw: &[u8]) -> Cow<'static, str> {
    const KNOWN: [&str; 9] = [
        "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
    ];
    match KNOWN.iter().find(|m| m.as_bytes() == raw) {
        Some(m) => Cow::Borrowed(m),
        None => Cow::Owned(lossy(raw)),
    }
}

fn request_line_from(raw: RawRequestLine<'_>) -> RequestLine {
    let target = lossy(raw.target);
    let target = match target.char_indices().nth(MAX_URI_CHARS) {
        Some((cut, _)) => target.get(..cut).unwrap_or_default().to_owned(),
        None => target,
    };
    RequestLine {
        method: method_text(raw.method),
        target,
        version: raw.version,
    }
}

/// Whether a line (without its line end) is an HTTP/0.9 simple request,
/// as [`RequestLine::is_simple`] of its parse, without copying its parts.
pub fn is_simple_request_line(line: &[u8]) -> bool {
    request_line(strip_cr(line)).is_ok_and(|(_, raw)| {
        raw.version == RequestVersion::Missing && raw.method == b"GET" && !raw.target.is_empty()
    })
}

/// Parses a request line (without its line end).
pub fn parse_request_line(line: &[u8]) -> Result<RequestLine, HeadError> {
    let (_, raw) = request_line(strip_cr(line)).map_err(|_| HeadError::BadRequestLine)?;
    Ok(request_line_from(raw))
}

/// Parses a status line (without its line end).
pub fn parse_status_line(line: &[u8]) -> Result<StatusLine, HeadError> {
    let (_, raw) = status_line(strip_cr(line)).map_err(|_| HeadError::BadStatusLine)?;
    let RawStatusLine { version, code, .. } = raw;
    let code = code
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d.saturating_sub(b'0')));
    Ok(StatusLine { version, code })
}

/// Which start line to expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartKind {
    Request,
    Status,
}

/// Parses a start line of the given kind.
pub fn parse_start_line(kind: StartKind, line: &[u8]) -> Result<StartLine, HeadError> {
    match kind {
        StartKind::Request => parse_request_line(line).map(StartLine::Request),
        StartKind::Status => parse_status_line(line).map(StartLine::Status),
    }
}

/// Parses a start line cut short (its line end was never seen, e.g. lost to
/// a gap or a snap length). Accepted only when the parts kept are whole
/// enough: a status line needs its code; a request needs its method, spaces
/// and at least one target byte. The version of a cut request line is
/// [`RequestVersion::Cut`] unless it was complete.
///
/// A target may itself be cut. As Wireshark does, what was seen of it is
/// kept (the transaction is incomplete anyway), but only after a registered
/// method ([`KNOWN_METHODS`]): another token counts as a method only once
/// the start of `HTTP/` follows its target, as when sniffing.
pub fn parse_truncated_start_line(kind: StartKind, cut: &[u8]) -> Option<StartLine> {
    match kind {
        StartKind::Status => parse_status_line(cut).ok().map(StartLine::Status),
        StartKind::Request => {
            let cut = strip_cr(cut);
            let parts: IResult<&[u8], _> =
                (take_while1(is_tchar), take_while1(is_space)).parse(cut);
            let (line, (method, _)) = parts.ok()?;
            let line = trim_spaces(line);
            // As in a whole line, the version is the last word.
            let (target, last) = match line.iter().rposition(|&b| is_space(b)) {
                Some(sp) => (
                    trim_spaces(line.get(..sp).unwrap_or_default()),
                    line.get(sp.saturating_add(1)..).unwrap_or_default(),
                ),
                None => (line, &b""[..]),
            };
            let version = match (version, eof).parse(last) {
                Ok((_, (v, _))) => Some(RequestVersion::Http(v)),
                Err(_) if !last.is_empty() && b"HTTP/".starts_with(last) => {
                    Some(RequestVersion::Cut)
                }
                Err(_) if last.starts_with(b"HTTP/") => Some(RequestVersion::Cut),
                Err(_) => None,
            };
            let (target, version) = match version {
                Some(v) if !target.is_empty() => (target, v),
                // No version in sight: the rest of the line is the target
                // (or its start), after a registered method only.
                _ if KNOWN_METHODS.contains(&method) && !line.is_empty() => {
                    (line, RequestVersion::Cut)
                }
                _ => return None,
            };
            Some(StartLine::Request(request_line_from(RawRequestLine {
                method,
                target,
                version,
            })))
        }
    }
}

/// `name [SP*] ":" OWS value OWS`.
fn field_line(i: &[u8]) -> IResult<&[u8], RawField<'_>> {
    let (i, name) = take_while1(is_tchar)(i)?;
    let (i, ws) = take_while(is_space)(i)?;
    let (i, _) = tag(":")(i)?;
    let (i, value) = rest(i)?;
    let field = RawField {
        name,
        space_before_colon: !ws.is_empty(),
        value: trim_spaces(value),
    };
    Ok((i, field))
}

fn note(leniencies: &mut Vec<&'static str>, kind: &'static str) {
    if !leniencies.contains(&kind) {
        leniencies.push(kind);
    }
}

/// Field lines most heads have at most.
const TYPICAL_FIELDS: usize = 16;

/// Parses a complete head: start line, field lines, up to the empty line.
/// Bytes after the empty line (there should be none) are ignored.
pub fn parse_head(kind: StartKind, head: &[u8]) -> Result<Head, HeadError> {
    parse_lines(kind, head.len(), split_lines(head))
}

/// As [`parse_head`], with the positions of all of the head's LFs already
/// known (the reader finds them while looking for the head's end).
pub fn parse_head_at(kind: StartKind, head: &[u8], lfs: &[u32]) -> Result<Head, HeadError> {
    let (mut next, mut start, mut done) = (0, 0, false);
    let lines = std::iter::from_fn(move || {
        if done {
            return None;
        }
        match lfs.get(next) {
            Some(&lf) => {
                next += 1;
                let line = head.get(start..lf as usize).unwrap_or_default();
                start = (lf as usize).saturating_add(1);
                Some(line)
            }
            None => {
                done = true;
                Some(head.get(start..).unwrap_or_default())
            }
        }
    });
    parse_lines(kind, head.len(), lines)
}

fn parse_lines<'a>(
    kind: StartKind,
    head_len: usize,
    lines: impl Iterator<Item = &'a [u8]>,
) -> Result<Head, HeadError> {
    let mut lines = lines.map(strip_cr);
    let start = parse_start_line(kind, lines.next().unwrap_or_default())?;
    // Room for a typical head's fields without counting its lines first
    // (another pass over every head); more grow as usual.
    let mut fields = Fields::with_capacity(head_len, TYPICAL_FIELDS);
    let mut leniencies = Vec::new();
    if let StartLine::Request(line) = &start {
        if line.version == RequestVersion::Malformed {
            note(&mut leniencies, "http_bad_request_version");
        }
        if line.target.contains([' ', '\t']) {
            note(&mut leniencies, "http_space_in_target");
        }
    }
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.first().is_some_and(|&b| is_space(b)) {
            // obs-fold (RFC 9112 §5.2): replace the fold with one space.
            note(&mut leniencies, "http_obs_fold");
            if !fields.fold_into_last(trim_spaces(line)) {
                note(&mut leniencies, "http_bad_header_line");
            }
            continue;
        }
        match field_line(line) {
            Ok((_, field)) => {
                if field.space_before_colon {
                    note(&mut leniencies, "http_space_before_colon");
                }
                fields.push(field.name, field.value);
            }
            Err(_) => note(&mut leniencies, "http_bad_header_line"),
        }
    }
    Ok(Head {
        start,
        fields,
        leniencies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tchar_table_is_rfc_9110() {
        let expected = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        for b in 0..=255u8 {
            assert_eq!(is_tchar(b), expected(b), "byte {b}");
        }
    }

    #[test]
    fn parse_at_known_line_ends_is_parse() {
        for head in [
            &b""[..],
            b"\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"HTTP/1.1 200 OK\nContent-Length: 3\n\n",
            b"GET /x HTTP/1.0\r\nA: b\r\n c\r\n\r\nrest\n",
            b"GET / HTTP/1.1\r\nBad line\r\nX : y\r\n\r\n",
            b"HTTP/1.0 404\r\n\r",
        ] {
            let lfs: Vec<u32> = memchr::memchr_iter(b'\n', head).map(|p| p as u32).collect();
            for kind in [StartKind::Request, StartKind::Status] {
                assert_eq!(
                    parse_head_at(kind, head, &lfs),
                    parse_head(kind, head),
                    "{head:?}"
                );
            }
        }
    }

    #[test]
    fn request_line_basic() {
        let r = parse_request_line(b"GET /a?b=c HTTP/1.1\r").unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/a?b=c");
        assert_eq!(r.version, RequestVersion::Http(Version::HTTP_11));
    }

    #[test]
    fn request_line_lenient_spaces_and_simple() {
        let r = parse_request_line(b"POST   http://h/x  HTTP/1.0  ").unwrap();
        assert_eq!(r.target, "http://h/x");
        assert_eq!(r.version, RequestVersion::Http(Version::HTTP_10));
        let r = parse_request_line(b"GET /old").unwrap();
        assert_eq!(r.version, RequestVersion::Missing);
        assert!(r.is_simple());
        assert_eq!(r.version_label().as_deref(), Some("HTTP/0.9"));
        let r = parse_request_line(b"OPTIONS HTTP/1.1").unwrap();
        assert_eq!(
            (r.target.as_str(), r.version),
            ("HTTP/1.1", RequestVersion::Missing)
        );
        assert!(!r.is_simple(), "only GET makes a simple request");
        let r = parse_request_line(b"OPTIONS").unwrap();
        assert_eq!((r.target.as_str(), r.is_simple()), ("", false));
        for line in [
            &b"GET /old"[..],
            b"GET /old\r",
            b"GET /a HTTP/1.1",
            b"OPTIONS HTTP/1.1",
            b"OPTIONS",
            b"get /x",
            b"GET",
            b"\xffGET /x",
        ] {
            let parsed = parse_request_line(line).is_ok_and(|r| r.is_simple());
            assert_eq!(is_simple_request_line(line), parsed, "{line:?}");
        }
    }

    #[test]
    fn target_with_spaces() {
        let line = b"GET /cgi-bin/x;cat /etc/passwd|?d=1 HTTP/1.1";
        let r = parse_request_line(line).unwrap();
        assert_eq!(r.target, "/cgi-bin/x;cat /etc/passwd|?d=1");
        assert_eq!(r.version, RequestVersion::Http(Version::HTTP_11));
        let h = parse_head(StartKind::Request, b"GET /a b HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(h.leniencies, vec!["http_space_in_target"]);
    }

    #[test]
    fn request_line_malformed_version_is_tolerated() {
        for line in [&b"GET / HTTP/1."[..], b"GET / HTTP/x.1", b"GET / HTTP/11.1"] {
            let r = parse_request_line(line).unwrap();
            assert_eq!(r.version, RequestVersion::Malformed, "{line:?}");
            assert_eq!(r.version_label(), None);
        }
        let h = parse_head(StartKind::Request, b"GET / HTTP/1.\r\n\r\n").unwrap();
        assert_eq!(h.leniencies, vec!["http_bad_request_version"]);
    }

    #[test]
    fn request_line_bad() {
        for bad in [
            &b""[..],
            b"FOO",
            b"FOO ",
            b" GET / HTTP/1.1",
            b"G(T / HTTP/1.1",
            b"GET/ HTTP/1.1",
            b"T / HTTP",
            b"GET / xyz",
            b"GET / HTTP/1.1 extra",
        ] {
            assert_eq!(
                parse_request_line(bad),
                Err(HeadError::BadRequestLine),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn truncated_start_lines() {
        let req = |b: &[u8]| match parse_truncated_start_line(StartKind::Request, b) {
            Some(StartLine::Request(r)) => Some((r.target, r.version)),
            _ => None,
        };
        assert_eq!(
            req(b"GET /a HTTP/1.1"),
            Some(("/a".into(), RequestVersion::Http(Version::HTTP_11)))
        );
        assert_eq!(req(b"GET /a HT"), Some(("/a".into(), RequestVersion::Cut)));
        assert_eq!(
            req(b"GET /a HTTP/1"),
            Some(("/a".into(), RequestVersion::Cut))
        );
        assert_eq!(
            req(b"GET /a HTTP/1.1\r"),
            Some(("/a".into(), RequestVersion::Http(Version::HTTP_11)))
        );
        // Cut inside the target (a 68-byte snap length): what was seen of it.
        assert_eq!(
            req(b"GET /archive-dv7cnezq"),
            Some(("/archive-dv7cnezq".into(), RequestVersion::Cut))
        );
        assert_eq!(req(b"GET /a "), Some(("/a".into(), RequestVersion::Cut)));
        assert_eq!(
            req(b"GET /a xy"),
            Some(("/a xy".into(), RequestVersion::Cut)),
            "the version is the last word; the target may hold spaces"
        );
        assert_eq!(
            req(b"FOO /a HT"),
            Some(("/a".into(), RequestVersion::Cut)),
            "any token, once the version starts"
        );
        assert_eq!(req(b"FOO /a"), None, "an unknown token needs a version");
        assert_eq!(req(b"FOO /a xy"), None);
        assert_eq!(req(b"GET"), None, "a method alone may be cut (GETX)");
        assert_eq!(req(b"GET "), None);
        assert_eq!(
            req(b"GET /a HTTP/1.1x"),
            Some(("/a".into(), RequestVersion::Cut))
        );
        assert!(req(b"GET /a").is_some_and(|(_, v)| v != RequestVersion::Missing));
        let status = parse_truncated_start_line(StartKind::Status, b"HTTP/1.1 200 O");
        assert!(matches!(status, Some(StartLine::Status(s)) if s.code == 200));
        assert_eq!(
            parse_truncated_start_line(StartKind::Status, b"HTTP/1.1 20"),
            None
        );
    }

    #[test]
    fn uri_is_cut() {
        let mut line = b"GET /".to_vec();
        line.extend(std::iter::repeat_n(b'a', 5000));
        line.extend_from_slice(b" HTTP/1.1");
        let r = parse_request_line(&line).unwrap();
        assert_eq!(r.target.chars().count(), MAX_URI_CHARS);
    }

    #[test]
    fn status_line_variants() {
        let reason = |line: &[u8]| {
            let (_, raw) = status_line(strip_cr(line)).unwrap();
            lossy(trim_spaces(raw.reason))
        };
        let s = parse_status_line(b"HTTP/1.1 200 OK").unwrap();
        assert_eq!((s.code, reason(b"HTTP/1.1 200 OK").as_str()), (200, "OK"));
        let line = b"HTTP/1.0 404 Not  Found \r";
        let s = parse_status_line(line).unwrap();
        assert_eq!(
            (s.version, s.code, reason(line).as_str()),
            (Version::HTTP_10, 404, "Not  Found")
        );
        let s = parse_status_line(b"HTTP/1.1 204").unwrap();
        assert_eq!((s.code, reason(b"HTTP/1.1 204").as_str()), (204, ""));
        let s = parse_status_line(b"HTTP/1.1 999 \xff").unwrap();
        assert_eq!(
            (s.code, reason(b"HTTP/1.1 999 \xff").as_str()),
            (999, "\u{fffd}")
        );
    }

    #[test]
    fn status_line_bad() {
        for bad in [
            &b"HTTP/1.1 20 OK"[..],
            b"HTTP/1.1 2000 OK",
            b"HTTP/1.1 200OK",
            b"HTTP/1.1",
            b"HTTP/a.1 200 OK",
            b"http/1.1 200 OK",
            b"ICY 200 OK",
        ] {
            assert_eq!(
                parse_status_line(bad),
                Err(HeadError::BadStatusLine),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn headers_and_folding() {
        let h = parse_head(
            StartKind::Request,
            b"GET / HTTP/1.1\r\nHost:  example.com \r\nX-Long: a\r\n  b\r\n\tc\r\nBad line\r\nName : v\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            h.fields.to_vec(usize::MAX),
            vec![
                ("Host".into(), "example.com".into()),
                ("X-Long".into(), "a b c".into()),
                ("Name".into(), "v".into()),
            ]
        );
        assert_eq!(
            h.leniencies,
            vec![
                "http_obs_fold",
                "http_bad_header_line",
                "http_space_before_colon"
            ]
        );
    }

    #[test]
    fn split_lines_is_split_on_lf() {
        for head in [
            &b""[..],
            b"\n",
            b"a",
            b"a\n",
            b"a\nb",
            b"\n\na\r\n\r\n",
            b"x\ny\n\n",
        ] {
            let ours: Vec<&[u8]> = split_lines(head).collect();
            let std: Vec<&[u8]> = head.split(|&b| b == b'\n').collect();
            assert_eq!(ours, std, "{head:?}");
        }
    }

    #[test]
    fn bare_lf_and_empty_value() {
        let h = parse_head(StartKind::Status, b"HTTP/1.1 200 OK\nA:\nB: 1\n\n").unwrap();
        assert_eq!(
            h.fields.to_vec(usize::MAX),
            vec![("A".into(), "".into()), ("B".into(), "1".into())]
        );
        assert!(h.leniencies.is_empty());
    }

    #[test]
    fn fold_before_any_field_is_noted() {
        let h = parse_head(StartKind::Status, b"HTTP/1.1 200 OK\r\n x\r\n\r\n").unwrap();
        assert!(h.fields.is_empty());
        assert!(h.leniencies.contains(&"http_bad_header_line"));
    }

    #[test]
    fn wrong_kind_is_an_error() {
        assert_eq!(
            parse_head(StartKind::Status, b"GET / HTTP/1.1\r\n\r\n"),
            Err(HeadError::BadStatusLine)
        );
        assert_eq!(
            parse_head(StartKind::Request, b"HTTP/1.1 200 OK\r\n\r\n"),
            Err(HeadError::BadRequestLine)
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x1234_5678u32;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    b"GET HTP/1.0 \r\n:\t"[(seed >> 16) as usize % 16]
                })
                .collect();
            let _ = parse_head(StartKind::Request, &bytes);
            let _ = parse_head(StartKind::Status, &bytes);
        }
    }
}
