//! HAR 1.2 export of the report (`--format har`), for HAR viewers (browser
//! developer tools, HAR analyzers) and anything else that reads HAR.
//!
//! Built from the serialized report (not the internals) so the HAR and the
//! JSON report can never disagree; the only extra input is the headers, which
//! the JSON model does not carry. `docs/har.md` documents every mapping:
//! timings keep the HAR meanings the report already uses, the causes travel
//! in the custom fields `_blame` and `_findings`, and entries are grouped into
//! pages by client, Referer and time ([`assign_pages`]).
//!
//! Invariants: no panic on any input (every string from the wire is escaped
//! into a valid URI or carried as a JSON string); the same report and headers
//! give the same document.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

use serde_json::{json, Map, Value};

use super::json::write_pretty;
use crate::report::model::{ConnectionOut, FindingOut, Report, Tool, TransactionOut};

/// Request and response header fields of one transaction, as received.
#[derive(Clone, Debug, Default)]
pub struct TxHeaders {
    pub request: Vec<(String, String)>,
    pub response: Vec<(String, String)>,
}

/// A request without a Referer (or a navigation) joins its client's latest
/// page only if that page started less than this long before it.
///
/// Source: our choice. A page's subresources without a Referer (API calls,
/// fetches by non-browser clients) follow the page within a few seconds;
/// user think time between pages is usually longer. Trade-off: two pages
/// opened within 10 s by a client that sends no Referer merge into one;
/// requests of a slow page arriving after 10 s start a new one.
pub const PAGE_WINDOW_US: i64 = 10_000_000;

/// HAR 1.2 document for the report. `headers` gives, per transaction id, the
/// request and response headers (may be empty: pages then follow time only,
/// and headers, MIME types and redirect targets are left empty).
pub fn to_har(report: &Report, headers: &BTreeMap<u64, TxHeaders>) -> Value {
    let none = TxHeaders::default();
    let plan = Plan::new(report, headers, &none);
    let entries: Vec<Value> = (0..plan.prepared.len()).map(|i| plan.entry(i)).collect();
    json!({
        "log": {
            "version": "1.2",
            "creator": plan.creator(),
            "pages": plan.pages,
            "entries": entries,
            "comment": plan.comment(),
        }
    })
}

/// An array value of `log`, its elements six spaces in.
pub(super) fn pretty_array<T: serde::Serialize>(
    out: &mut dyn Write,
    buf: &mut Vec<u8>,
    items: impl Iterator<Item = T>,
) -> io::Result<()> {
    let mut any = false;
    for item in items {
        out.write_all(if any { b",\n      " } else { b"[\n      " })?;
        write_pretty(out, buf, &item, 6)?;
        any = true;
    }
    out.write_all(if any { b"\n    ]" } else { b"[]" })
}

/// What the document is made of: the transactions in start order with what
/// their entries need, their pages, and the pages' JSON.
struct Plan<'a> {
    report: &'a Report,
    prepared: Vec<Prepared<'a>>,
    assignment: Vec<usize>,
    pages: Vec<Value>,
    findings: BTreeMap<u64, Vec<&'a FindingOut>>,
}

impl<'a> Plan<'a> {
    fn new(
        report: &'a Report,
        headers: &'a BTreeMap<u64, TxHeaders>,
        none: &'a TxHeaders,
    ) -> Plan<'a> {
        let conns: BTreeMap<u32, &ConnectionOut> =
            report.connections.iter().map(|c| (c.id, c)).collect();
        let mut findings: BTreeMap<u64, Vec<&FindingOut>> = BTreeMap::new();
        for f in &report.findings {
            if let Some(t) = f.transaction {
                findings.entry(t).or_default().push(f);
            }
        }

        // HAR prefers entries sorted by start; the id breaks ties so the output
        // is deterministic.
        let mut txs: Vec<&TransactionOut> = report.transactions.iter().collect();
        txs.sort_by_key(|t| (t.span_start_us, t.id));

        let prepared: Vec<Prepared> = txs
            .iter()
            .map(|t| {
                let conn = conns.get(&t.connection).copied();
                let h = headers.get(&t.id).unwrap_or(none);
                Prepared::new(t, conn, h)
            })
            .collect();
        let inputs: Vec<PageInput> = prepared
            .iter()
            .map(|p| PageInput {
                client: p.client.clone(),
                start_us: p.tx.span_start_us,
                url: p.url.clone(),
                referer: p.referer.clone(),
                navigation: p.navigation,
                redirect: p.redirect.clone(),
            })
            .collect();
        let (assignment, pages) = assign_pages(&inputs);
        let pages = page_values(&pages).collect();
        Plan {
            report,
            prepared,
            assignment,
            pages,
            findings,
        }
    }

    fn entry(&self, i: usize) -> Value {
        let p = &self.prepared[i];
        let fs = self
            .findings
            .get(&p.tx.id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        entry(p, &page_id(self.assignment[i]), fs)
    }

    fn creator(&self) -> Value {
        creator(&self.report.tool)
    }

    fn comment(&self) -> String {
        comment(&self.report.capture.path)
    }
}

pub(super) fn creator(tool: &Tool) -> Value {
    json!({ "name": tool.name, "version": tool.version })
}

pub(super) fn comment(path: &str) -> String {
    format!("wireblame analysis of {path}")
}

/// The pages' JSON, in order, one at a time (a capture can have tens of
/// thousands of pages, over 1 kB each as values).
pub(super) fn page_values(pages: &[Page]) -> impl Iterator<Item = Value> + '_ {
    pages.iter().enumerate().map(|(i, p)| {
        json!({
            "startedDateTime": iso8601_ms(p.start_us),
            "id": page_id(i),
            "title": p.url,
            // Load events happen inside the browser; packets cannot show them.
            "pageTimings": { "onContentLoad": -1, "onLoad": -1 },
            "_client": p.client,
        })
    })
}

pub(super) fn page_id(i: usize) -> String {
    format!("page_{}", i + 1)
}

/// One transaction with what the entry and the page grouping need.
pub(super) struct Prepared<'a> {
    tx: &'a TransactionOut,
    headers: &'a TxHeaders,
    /// Client IP address (without port: a browser opens many ports).
    pub(super) client: String,
    server_ip: Option<IpAddr>,
    pub(super) url: String,
    pub(super) referer: Option<String>,
    pub(super) navigation: bool,
    /// Where a redirect response sends the client (absolute).
    pub(super) redirect: Option<String>,
    has_request: bool,
    has_response: bool,
}

impl<'a> Prepared<'a> {
    pub(super) fn new(
        tx: &'a TransactionOut,
        conn: Option<&ConnectionOut>,
        headers: &'a TxHeaders,
    ) -> Self {
        let client_addr = conn.and_then(|c| c.client.parse::<SocketAddr>().ok());
        let server_addr = conn.and_then(|c| c.server.parse::<SocketAddr>().ok());
        let client = match (client_addr, conn) {
            (Some(a), _) => a.ip().to_string(),
            (None, Some(c)) => c.client.clone(),
            (None, None) => String::new(),
        };
        let has_request = tx.method.is_some() || tx.request_start_us.is_some();
        let has_response = tx.status.is_some() || tx.response_start_us.is_some();
        let url = request_url(
            tx.method.as_deref(),
            tx.host.as_deref(),
            tx.uri.as_deref(),
            server_addr,
        );
        let redirect = header(&headers.response, "location").and_then(|l| resolve(&url, l));
        Prepared {
            tx,
            headers,
            client,
            server_ip: server_addr.map(|a| a.ip()),
            url,
            referer: header(&headers.request, "referer").map(str::to_string),
            navigation: is_navigation(&headers.request, &headers.response, tx.status),
            redirect,
            has_request,
            has_response,
        }
    }
}

/// First field named `name` (case-insensitive), trimmed.
fn header<'h>(fields: &'h [(String, String)], name: &str) -> Option<&'h str> {
    fields
        .iter()
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// A top-level document load: it starts a page even if it has a Referer (a
/// followed link). Fetch metadata says so directly (`Sec-Fetch-Dest:
/// document`; frames are `iframe` and stay in their page). Without it (older
/// browsers), a request without a Referer that asks for HTML and gets HTML or
/// a redirect is one; the answer matters because plugins (Flash) send a
/// browser's HTML Accept for every fetch.
fn is_navigation(req: &[(String, String)], resp: &[(String, String)], status: Option<u16>) -> bool {
    if let Some(dest) = header(req, "sec-fetch-dest") {
        return dest.eq_ignore_ascii_case("document");
    }
    if header(req, "sec-fetch-mode").is_some() {
        return false;
    }
    let html = |v: &str| {
        let v = v.to_ascii_lowercase();
        v.contains("text/html") || v.contains("application/xhtml+xml")
    };
    header(req, "referer").is_none()
        && header(req, "accept").is_some_and(html)
        && (status.is_some_and(|s| (300..400).contains(&s))
            || header(resp, "content-type").is_some_and(html))
}

fn num(v: f64) -> Value {
    // NaN and infinities have no JSON form; a timing that is not a number did
    // not apply.
    if v.is_finite() {
        json!(v)
    } else {
        json!(-1.0)
    }
}

/// Rounds to the microsecond, the report's precision, so sums of
/// millisecond values do not show binary noise (0.1 + 0.2).
fn round_us(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

fn size(v: Option<u64>) -> i64 {
    v.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

fn header_list(fields: &[(String, String)]) -> Vec<Value> {
    fields
        .iter()
        .map(|(n, v)| json!({ "name": n, "value": v }))
        .collect()
}

pub(super) fn entry(p: &Prepared, pageref: &str, findings: &[&FindingOut]) -> Value {
    let t = p.tx;
    let tm = &t.timings_ms;
    // HAR 1.2 allows -1 ("does not apply") only for blocked, dns, connect and
    // ssl; send, wait and receive are required non-negative numbers. A phase
    // the capture did not show (no response yet) is therefore 0, and
    // `_incomplete` says why.
    let required = |v: f64| if v >= 0.0 { v } else { 0.0 };
    let optional = |v: f64| if v >= 0.0 { v } else { -1.0 };
    let blocked = optional(tm.blocked);
    let dns = optional(tm.dns);
    let connect = optional(tm.connect);
    let send = required(tm.send);
    let wait = required(tm.wait);
    let receive = required(tm.receive);
    let time = round_us(
        [blocked, dns, connect, send, wait, receive]
            .iter()
            .filter(|v| **v >= 0.0)
            .sum(),
    );

    let version = t.version.as_deref().unwrap_or_default().to_string();
    let req_h = &p.headers.request;
    let resp_h = &p.headers.response;
    let request = json!({
        "method": t.method.clone().unwrap_or_default(),
        "url": p.url,
        "httpVersion": if p.has_request { version.clone() } else { String::new() },
        "cookies": [],
        "headers": header_list(req_h),
        "queryString": query_string(t.uri.as_deref().unwrap_or("")),
        "headersSize": size(t.request_head_bytes),
        "bodySize": size(t.request_body_bytes),
    });
    let status = t.status.unwrap_or(0);
    let mime = header(resp_h, "content-type")
        .filter(|v| !v.is_empty())
        .unwrap_or("x-unknown");
    let content_size = t
        .response_body_decoded_bytes
        .or(t.response_body_bytes)
        .unwrap_or(0);
    let mut response = json!({
        "status": status,
        "statusText": if t.status.is_some() { reason_phrase(status) } else { "" },
        "httpVersion": if p.has_response { version } else { String::new() },
        "cookies": [],
        "headers": header_list(resp_h),
        "content": { "size": size(Some(content_size)).max(0), "mimeType": mime },
        "redirectURL": header(resp_h, "location").unwrap_or(""),
        "headersSize": size(t.response_head_bytes),
        "bodySize": size(t.response_body_bytes),
    });
    if !t.interim.is_empty() {
        response["_interim"] = json!(t.interim);
    }

    let mut e = Map::new();
    e.insert("pageref".into(), json!(pageref));
    e.insert("startedDateTime".into(), json!(iso8601_ms(t.span_start_us)));
    e.insert("time".into(), num(time));
    e.insert("request".into(), request);
    e.insert("response".into(), response);
    e.insert("cache".into(), json!({}));
    e.insert(
        "timings".into(),
        json!({
            "blocked": num(blocked),
            "dns": num(dns),
            "connect": num(connect),
            "send": num(send),
            "wait": num(wait),
            "receive": num(receive),
            // Plain HTTP: no TLS handshake to time.
            "ssl": -1,
        }),
    );
    if let Some(ip) = p.server_ip {
        e.insert("serverIPAddress".into(), json!(ip.to_string()));
    }
    e.insert("connection".into(), json!(t.connection.to_string()));
    e.insert("_transaction".into(), json!(t.id));
    e.insert("_startedUs".into(), json!(t.span_start_us));
    e.insert(
        "_blame".into(),
        serde_json::to_value(&t.blame_ms).unwrap_or(Value::Null),
    );
    e.insert("_dominantCause".into(), json!(t.dominant_cause));
    e.insert(
        "_findings".into(),
        serde_json::to_value(findings).unwrap_or_else(|_| json!([])),
    );
    if let Some(why) = &t.incomplete {
        e.insert("_incomplete".into(), json!(why));
    }
    let mut frames = Map::new();
    for (k, v) in [
        ("requestFirst", t.request_first_frame),
        ("requestLast", t.request_last_frame),
        ("responseFirst", t.response_first_frame),
        ("responseLast", t.response_last_frame),
    ] {
        if let Some(f) = v {
            frames.insert(k.into(), json!(f));
        }
    }
    e.insert("_frames".into(), Value::Object(frames));
    Value::Object(e)
}

// ---------------------------------------------------------------- URLs

/// `http://` + authority + request target, as a valid RFC 3986 URI.
///
/// The authority is the Host (or an absolute target's authority), else the
/// server's address. Bytes a URI cannot hold are percent-encoded, so HAR
/// importers that parse the URL accept every entry.
fn request_url(
    method: Option<&str>,
    host: Option<&str>,
    uri: Option<&str>,
    server: Option<SocketAddr>,
) -> String {
    let fallback = server.map_or_else(|| "unknown.invalid".to_string(), server_authority);
    let host = host
        .map(str::trim)
        .filter(|h| valid_authority(h))
        .map_or(fallback.clone(), str::to_string);
    let uri = uri.unwrap_or("");
    if let Some((scheme, rest)) = split_absolute(uri) {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (auth, path) = rest.split_at(end);
        if valid_authority(auth) {
            let path = if path.is_empty() { "/" } else { path };
            return format!(
                "{scheme}://{}{}",
                auth.to_ascii_lowercase(),
                encode_target(path)
            );
        }
        return format!("http://{host}/");
    }
    if uri.starts_with('/') {
        return format!("http://{host}{}", encode_target(uri));
    }
    // Authority form (CONNECT host:port) names the target itself; the
    // asterisk form (OPTIONS *) and a missing request have no path.
    if method == Some("CONNECT") && valid_authority(uri) {
        return format!("http://{uri}/");
    }
    format!("http://{host}/")
}

fn server_authority(a: SocketAddr) -> String {
    let ip = match a.ip() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    if a.port() == 80 {
        ip
    } else {
        format!("{ip}:{}", a.port())
    }
}

/// `http://…` or `https://…` (scheme case-insensitive): the absolute form a
/// proxy receives. Returns the lowercased scheme and what follows `://`.
fn split_absolute(uri: &str) -> Option<(&'static str, &str)> {
    for scheme in ["http", "https"] {
        let n = scheme.len();
        if uri.len() > n + 3
            && uri.is_char_boundary(n)
            && uri[..n].eq_ignore_ascii_case(scheme)
            && uri[n..].starts_with("://")
        {
            return Some((scheme, &uri[n + 3..]));
        }
    }
    None
}

/// host[:port] with a registered name, IPv4 or bracketed IPv6 host: the
/// shapes a URL parser accepts. Anything else falls back to the server's
/// address rather than producing an invalid URL.
fn valid_authority(a: &str) -> bool {
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            return false;
        };
        let inner = &rest[..close];
        if inner.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        let after = &rest[close + 1..];
        match after.strip_prefix(':') {
            Some(p) => ("x", Some(p)),
            None if after.is_empty() => ("x", None),
            None => return false,
        }
    } else {
        match a.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (a, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let port_ok = port.is_none_or(|p| p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// Percent-encodes what RFC 3986 does not allow in a path and query (and a
/// `%` not followed by two hex digits); keeps valid escapes as they are.
fn encode_target(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'/'
                    | b'?'
            );
        let escape = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if keep || escape {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
        i += 1;
    }
    out
}

/// The query's name/value pairs, decoded as `application/x-www-form-urlencoded`
/// (WHATWG URL: `+` is a space, `%XX` a byte, empty pieces skipped).
fn query_string(uri: &str) -> Vec<Value> {
    let Some((_, q)) = uri.split_once('?') else {
        return Vec::new();
    };
    let q = q.split('#').next().unwrap_or("");
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            json!({ "name": form_decode(n), "value": form_decode(v) })
        })
        .collect()
}

fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2)) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Comparable form of a URL for Referer matching: no fragment, lowercase
/// scheme and host, default port dropped, empty path as `/`.
fn normalize_url(u: &str) -> String {
    let u = u.trim();
    let u = u.split('#').next().unwrap_or("");
    let Some((scheme, rest)) = split_absolute(u) else {
        return u.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (auth, path) = rest.split_at(end);
    let mut auth = auth.to_ascii_lowercase();
    let default = if scheme == "http" { ":80" } else { ":443" };
    if let Some(a) = auth.strip_suffix(default) {
        auth = a.to_string();
    }
    let path = if path.is_empty() || path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    format!("{scheme}://{auth}{path}")
}

/// `scheme://authority/` of a normalized URL (None for a relative one).
fn origin(normalized: &str) -> Option<&str> {
    let (scheme, rest) = split_absolute(normalized)?;
    let slash = rest.find('/')?;
    normalized.get(..scheme.len() + 3 + slash + 1)
}

/// A Location value as an absolute URL: absolute, scheme-relative (`//h/p`)
/// or absolute-path (`/p`) references; other relative forms are rare in
/// redirects and are not resolved.
fn resolve(base: &str, location: &str) -> Option<String> {
    let l = location.trim();
    if split_absolute(l).is_some() {
        return Some(l.to_string());
    }
    let (scheme, rest) = split_absolute(base)?;
    if let Some(r) = l.strip_prefix("//") {
        return Some(format!("{scheme}://{r}"));
    }
    if l.starts_with('/') {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        return Some(format!("{scheme}://{}{l}", &rest[..end]));
    }
    None
}

// ---------------------------------------------------------------- pages

/// What page grouping looks at, per entry (in start order).
#[derive(Clone, Debug, Default)]
pub struct PageInput {
    pub client: String,
    pub start_us: i64,
    pub url: String,
    pub referer: Option<String>,
    pub navigation: bool,
    /// Absolute target of a redirect response (its Location).
    pub redirect: Option<String>,
}

impl PageInput {
    pub fn view(&self) -> PageView<'_> {
        PageView {
            client: &self.client,
            start_us: self.start_us,
            url: &self.url,
            referer: self.referer.as_deref(),
            navigation: self.navigation,
            redirect: self.redirect.as_deref(),
        }
    }
}

/// A [`PageInput`] borrowed, from wherever its strings are kept.
#[derive(Clone, Copy, Debug)]
pub struct PageView<'a> {
    pub client: &'a str,
    pub start_us: i64,
    pub url: &'a str,
    pub referer: Option<&'a str>,
    pub navigation: bool,
    pub redirect: Option<&'a str>,
}

/// A page: its client, start, and the URL it is named after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub client: String,
    pub start_us: i64,
    pub url: String,
}

/// Groups entries (sorted by start) into pages; returns each entry's page
/// index and the pages. Rules, first match wins (all per client address):
///
/// 0. The target of an earlier entry's redirect joins that entry's page (a
///    browser shows a redirect chain as one page load).
/// 1. A navigation starts a page named after its URL.
/// 2. A Referer equal to a page's URL, or to the URL of an entry already in
///    a page, joins that page (the latest such).
/// 3. A Referer that is only an origin (`http://host/`, what browsers send
///    cross-origin by default) joins the latest page with that origin.
/// 4. Any other Referer starts a page named after the Referer: the referring
///    document was not captured (HTTPS, cache, before the capture), and its
///    other subresources join through rule 2.
/// 5. No Referer: join the client's latest page if it started less than
///    [`PAGE_WINDOW_US`] earlier, else start a page named after the URL.
pub fn assign_pages(inputs: &[PageInput]) -> (Vec<usize>, Vec<Page>) {
    assign_pages_of(inputs.iter().map(PageInput::view))
}

/// [`assign_pages`] of borrowed inputs, in start order.
pub fn assign_pages_of<'a>(
    inputs: impl ExactSizeIterator<Item = PageView<'a>>,
) -> (Vec<usize>, Vec<Page>) {
    let mut pages: Vec<Page> = Vec::new();
    // Per client: normalized URL -> page, origin -> page, latest page.
    let mut by_url: BTreeMap<(&str, String), usize> = BTreeMap::new();
    let mut by_origin: BTreeMap<(&str, String), usize> = BTreeMap::new();
    let mut by_redirect: BTreeMap<(&str, String), usize> = BTreeMap::new();
    let mut latest: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(inputs.len());
    for inp in inputs {
        let client = inp.client;
        let referer = inp.referer.map(normalize_url);
        let redirected = by_redirect.get(&(client, normalize_url(inp.url))).copied();
        let found = if redirected.is_some() {
            redirected
        } else if inp.navigation {
            None
        } else if let Some(r) = &referer {
            by_url.get(&(client, r.clone())).copied().or_else(|| {
                let o = origin(r).filter(|o| *o == r)?;
                by_origin.get(&(client, o.to_string())).copied()
            })
        } else {
            latest
                .get(client)
                .copied()
                .filter(|p| inp.start_us.saturating_sub(pages[*p].start_us) < PAGE_WINDOW_US)
        };
        let page = match found {
            Some(p) => p,
            None => {
                let url = match (inp.referer, inp.navigation) {
                    (Some(r), false) => r.trim().to_string(),
                    _ => inp.url.to_string(),
                };
                pages.push(Page {
                    client: inp.client.to_string(),
                    start_us: inp.start_us,
                    url: url.clone(),
                });
                let p = pages.len() - 1;
                remember(&mut by_url, &mut by_origin, client, &url, p);
                p
            }
        };
        remember(&mut by_url, &mut by_origin, client, inp.url, page);
        if let Some(target) = inp.redirect {
            by_redirect.insert((client, normalize_url(target)), page);
        }
        latest.insert(client, page);
        out.push(page);
    }
    (out, pages)
}

fn remember<'c>(
    by_url: &mut BTreeMap<(&'c str, String), usize>,
    by_origin: &mut BTreeMap<(&'c str, String), usize>,
    client: &'c str,
    url: &str,
    page: usize,
) {
    let n = normalize_url(url);
    if let Some(o) = origin(&n) {
        by_origin.insert((client, o.to_string()), page);
    }
    by_url.insert((client, n), page);
}

// ---------------------------------------------------------------- dates

/// ISO 8601 in UTC with milliseconds, e.g. `2026-11-26T07:00:30.166Z`.
/// Times outside years 0000–9999 are clamped: the HAR schema requires four
/// year digits.
pub fn iso8601_ms(us: i64) -> String {
    const MAX_US: i64 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999Z
    const MIN_US: i64 = -62_167_219_200_000_000; // 0000-01-01T00:00:00Z
    let us = us.clamp(MIN_US, MAX_US);
    let secs = us.div_euclid(1_000_000);
    let ms = us.rem_euclid(1_000_000) / 1000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`), exact for the clamped range above.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

// ---------------------------------------------------------------- status

/// The reason phrase registered for a status code (RFC 9110 §15 and the
/// IANA registry); "" for unregistered codes. The report does not carry the
/// phrase from the wire, and HAR requires one.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        511 => "Network Authentication Required",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso8601_utc_with_milliseconds() {
        assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso8601_ms(1_795_676_830_166_297),
            "2026-11-26T07:07:10.166Z"
        );
        assert_eq!(iso8601_ms(951_782_400_000_999), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso8601_ms(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(iso8601_ms(i64::MIN), "0000-01-01T00:00:00.000Z");
    }

    #[test]
    fn targets_become_valid_uris() {
        assert_eq!(encode_target("/a b?x=1&y=%zz#f"), "/a%20b?x=1&y=%25zz%23f");
        assert_eq!(encode_target("/%41[1]|é"), "/%41%5B1%5D%7C%C3%A9");
        assert_eq!(encode_target("/p;q=1?a=b/c:d@e"), "/p;q=1?a=b/c:d@e");
    }

    #[test]
    fn urls_of_every_request_form() {
        let srv: SocketAddr = "10.0.0.2:8080".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
        let url = |m, h, u, s| request_url(m, h, u, s);
        let get = Some("GET");
        assert_eq!(
            url(get, Some("ex.com"), Some("/a?b=1"), Some(srv)),
            "http://ex.com/a?b=1"
        );
        assert_eq!(
            url(get, None, Some("/a"), Some(srv)),
            "http://10.0.0.2:8080/a"
        );
        assert_eq!(
            url(get, None, Some("/a"), Some(v6)),
            "http://[2001:db8::1]/a"
        );
        assert_eq!(
            url(get, Some("bad host"), Some("/"), Some(srv)),
            "http://10.0.0.2:8080/"
        );
        assert_eq!(
            url(get, Some("h"), Some("HTTP://Proxy.Example:81"), None),
            "http://proxy.example:81/"
        );
        assert_eq!(url(get, Some("h"), Some("http://u@h/p"), None), "http://h/");
        assert_eq!(
            url(Some("CONNECT"), None, Some("ex.com:443"), Some(srv)),
            "http://ex.com:443/"
        );
        assert_eq!(
            url(Some("OPTIONS"), Some("h"), Some("*"), None),
            "http://h/"
        );
        assert_eq!(url(None, None, None, None), "http://unknown.invalid/");
    }

    proptest::proptest! {
        /// Whatever the wire held, the URL is an RFC 3986 URI and nothing panics.
        #[test]
        fn any_target_gives_a_valid_uri(
            m in proptest::option::of("[A-Z]{1,8}"),
            h in proptest::option::of(".{0,20}"),
            u in proptest::option::of(".{0,40}"),
            loc in ".{0,30}",
        ) {
            let srv: SocketAddr = "[::1]:8000".parse().unwrap();
            let url = request_url(m.as_deref(), h.as_deref(), u.as_deref(), Some(srv));
            proptest::prop_assert!(url.starts_with("http://") || url.starts_with("https://"));
            proptest::prop_assert!(
                url.bytes().all(|b| b.is_ascii_alphanumeric()
                    || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)),
                "{}", url
            );
            let _ = query_string(u.as_deref().unwrap_or(""));
            let _ = resolve(&url, &loc);
            let n = normalize_url(&loc);
            let _ = origin(&n);
        }
    }

    #[test]
    fn authorities() {
        for ok in [
            "example.com",
            "a.b:8080",
            "10.0.0.1",
            "[::1]:80",
            "[fe80::1]",
            "x_y",
        ] {
            assert!(valid_authority(ok), "{ok}");
        }
        for bad in [
            "", "a b", "a@b", "a/b", "[::1", "[zz]", "h:p", "h:123456", "a:1:2", "é",
        ] {
            assert!(!valid_authority(bad), "{bad}");
        }
    }

    #[test]
    fn query_strings_decode_like_url_search_params() {
        let q = query_string("/s?q=a+b%21&&flag&x=%zz&=v#frag");
        assert_eq!(
            q,
            vec![
                json!({"name": "q", "value": "a b!"}),
                json!({"name": "flag", "value": ""}),
                json!({"name": "x", "value": "%zz"}),
                json!({"name": "", "value": "v"}),
            ]
        );
        assert!(query_string("/plain").is_empty());
        assert_eq!(form_decode("%ff%"), "\u{fffd}%");
    }

    #[test]
    fn url_normalization_and_origin() {
        assert_eq!(normalize_url("HTTP://Ex.COM:80"), "http://ex.com/");
        assert_eq!(normalize_url("http://ex.com?a#b"), "http://ex.com/?a");
        assert_eq!(normalize_url("https://ex.com:443/x"), "https://ex.com/x");
        assert_eq!(origin("http://ex.com/a/b"), Some("http://ex.com/"));
        assert_eq!(origin("http://ex.com"), None);
        assert_eq!(origin("/rel"), None);
    }

    fn inp(client: &str, s: i64, url: &str, referer: Option<&str>, nav: bool) -> PageInput {
        PageInput {
            client: client.into(),
            start_us: s * 1_000_000,
            url: url.into(),
            referer: referer.map(Into::into),
            navigation: nav,
            redirect: None,
        }
    }

    #[test]
    fn redirect_targets_join_the_redirecting_page() {
        let mut first = inp("c", 0, "http://www.site/", None, true);
        first.redirect = resolve("http://www.site/", "http://site/home");
        let inputs = [
            first,
            inp("c", 1, "http://site/home", None, true),
            inp("c", 2, "http://site/x.css", Some("http://site/home"), false),
            inp("c", 3, "http://site/other", None, true),
        ];
        let (assign, pages) = assign_pages(&inputs);
        assert_eq!(assign, vec![0, 0, 0, 1]);
        assert_eq!(pages[0].url, "http://www.site/");
    }

    #[test]
    fn locations_resolve() {
        let b = "http://h:8080/a/b?q";
        assert_eq!(resolve(b, "/c").as_deref(), Some("http://h:8080/c"));
        assert_eq!(resolve(b, "//o/p").as_deref(), Some("http://o/p"));
        assert_eq!(resolve(b, "HTTPS://x/").as_deref(), Some("HTTPS://x/"));
        assert_eq!(resolve(b, "rel"), None);
        assert_eq!(resolve("/nobase", "/c"), None);
    }

    #[test]
    fn pages_follow_referer_navigation_and_time() {
        let a = "http://site/a.html";
        let inputs = [
            inp("c1", 0, a, None, true),
            inp("c1", 1, "http://site/a.css", Some(a), false),
            // Cross-origin subresource: the Referer is the origin only.
            inp("c1", 1, "http://cdn/x.js", Some("http://site/"), false),
            // Loaded by the stylesheet: its Referer is an entry of page 1.
            inp(
                "c1",
                2,
                "http://site/font.woff",
                Some("http://site/a.css"),
                false,
            ),
            // Another client at the same time has its own page.
            inp("c2", 2, "http://site/api", None, false),
            // No Referer, soon after: same page (time proximity).
            inp("c1", 5, "http://site/ping", None, false),
            // Followed link: a navigation with a Referer starts a page.
            inp("c1", 6, "http://site/b.html", Some(a), true),
            inp(
                "c1",
                7,
                "http://site/b.css",
                Some("http://site/b.html#top"),
                false,
            ),
            // Referer of an uncaptured page: a page named after it.
            inp(
                "c1",
                8,
                "http://site/c.png",
                Some("https://secure/page"),
                false,
            ),
            inp(
                "c1",
                9,
                "http://site/d.png",
                Some("https://secure/page"),
                false,
            ),
            // A late request without a Referer: 10 s after page 4 started.
            inp("c1", 18, "http://site/late", None, false),
        ];
        let (assign, pages) = assign_pages(&inputs);
        assert_eq!(assign, vec![0, 0, 0, 0, 1, 0, 2, 2, 3, 3, 4]);
        let urls: Vec<&str> = pages.iter().map(|p| p.url.as_str()).collect();
        assert_eq!(
            urls,
            vec![
                a,
                "http://site/api",
                "http://site/b.html",
                "https://secure/page",
                "http://site/late"
            ]
        );
        assert_eq!(pages[3].start_us, 8_000_000);
    }

    #[test]
    fn without_headers_pages_are_time_windows() {
        let inputs: Vec<PageInput> = [0, 3, 9, 10, 12, 25]
            .iter()
            .map(|s| inp("c", *s, "http://h/", None, false))
            .collect();
        let (assign, pages) = assign_pages(&inputs);
        assert_eq!(assign, vec![0, 0, 0, 1, 1, 2]);
        assert_eq!(pages.len(), 3);
    }

    #[test]
    fn navigation_detection() {
        let h = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let html = h(&[("Content-Type", "text/html; charset=utf-8")]);
        let png = h(&[("Content-Type", "image/png")]);
        let nav = |req: &[(&str, &str)], resp: &[(String, String)], status| {
            is_navigation(&h(req), resp, status)
        };
        assert!(nav(&[("Sec-Fetch-Dest", "document")], &png, Some(200)));
        assert!(!nav(
            &[("sec-fetch-dest", "iframe"), ("Accept", "text/html")],
            &html,
            Some(200)
        ));
        assert!(!nav(
            &[("Sec-Fetch-Mode", "cors"), ("Accept", "text/html")],
            &html,
            Some(200)
        ));
        assert!(nav(&[("Accept", "text/html,*/*")], &html, Some(200)));
        assert!(nav(&[("Accept", "text/html,*/*")], &[], Some(301)));
        // A plugin fetching an image with the browser's Accept.
        assert!(!nav(&[("Accept", "text/html,*/*")], &png, Some(200)));
        assert!(!nav(
            &[("Accept", "text/html"), ("Referer", "http://x/")],
            &html,
            Some(200)
        ));
        assert!(!nav(&[("Accept", "*/*")], &html, Some(200)));
    }

    #[test]
    fn reason_phrases() {
        assert_eq!(reason_phrase(200), "OK");
        assert_eq!(reason_phrase(404), "Not Found");
        assert_eq!(reason_phrase(299), "");
    }
}
