//! The HAR document, written while the pass runs, in memory that grows by
//! about 90 bytes per transaction (and each distinct URL once) instead of
//! by its whole entry.
//!
//! A HAR lists its entries by start time, each naming its page, and pages
//! can only be assigned once every entry is known, in start order. So each
//! finished connection's entries are serialized at once into a [`Spool`]
//! (in memory up to a limit, then a temporary file), with an empty page
//! reference and an empty finding list whose places are remembered; their
//! findings go to a second spool. What stays in memory per transaction is
//! its place in the spools, its start, and what page grouping looks at
//! ([`PageKeys`]: the client, URL, Referer and redirect target, each
//! distinct string kept once). At the end
//! the entries are sorted by start, the pages assigned, and each entry is
//! copied out with its page and findings spliced in. Connection-management
//! findings that name a transaction arrive later; they go to a third spool,
//! found at the end by transaction id.
//!
//! The bytes are the same as `serde_json::to_writer_pretty` of
//! [`super::har::to_har`] for [`super::build_with`]'s report, and a newline
//! (a test checks it).

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::Value;

use super::har::{
    assign_pages_of, comment, creator, entry, page_id, page_values, pretty_array, PageView,
    Prepared, TxHeaders,
};
use super::json::{pretty_indented, write_pretty, Spool, SPOOL_MEMORY_BYTES};
use super::model::FindingOut;
use super::strings::StringTable;
use super::{capture_out, record_out_taking, tool, ConnectionFindings, ReportOptions};
use crate::pipeline::{ConnectionRecord, PassSummary};
use crate::transaction::Message;

/// An entry's keys are 8 spaces in (entries are 6 in, in `log` 4 in), its
/// finding objects 10.
const ENTRY_INDENT: usize = 6;
const FINDING_INDENT: usize = 10;
/// The placeholders the entries are spooled with, as serialized (no string
/// value can hold a raw newline, so only the entry's own keys match).
const FINDINGS_KEY: &[u8] = b"\n        \"_findings\": ";
const PAGEREF_KEY: &[u8] = b"\n        \"pageref\": ";

/// Where one entry is in the spools, and what sorting it needs.
struct Item {
    start_us: i64,
    tx: u64,
    /// The entry's bytes in the entry spool.
    at: u64,
    len: u32,
    /// Offsets in the entry of its `[]` findings and `""` page reference.
    findings_at: u32,
    pageref_at: u32,
    /// Its own connection's findings in the finding spool, each after
    /// `,\n` and its indent.
    findings: (u64, u64),
}

/// What page grouping looks at of one entry ([`super::har::PageInput`]),
/// its strings as ids in a [`StringTable`]: 32 bytes. A capture's entries share a
/// few clients and, mostly, URLs and Referers; these were four strings
/// apiece, most of the writer's memory (big.pcap: 310 k entries).
struct PageKeys {
    start_us: i64,
    client: u32,
    url: u32,
    /// [`NONE`] when absent.
    referer: u32,
    redirect: u32,
    navigation: bool,
}

/// A [`PageKeys`] string that is absent.
const NONE: u32 = u32::MAX;

/// `s`'s id in `strings`.
fn string_id(strings: &mut StringTable, s: &str) -> io::Result<u32> {
    strings
        .id(s)
        .filter(|&id| id != NONE)
        .ok_or_else(|| io::Error::other("HAR: over 4 billion distinct URLs"))
}

fn optional_id(strings: &mut StringTable, s: Option<&str>) -> io::Result<u32> {
    s.map_or(Ok(NONE), |s| string_id(strings, s))
}

impl PageKeys {
    fn view<'a>(&self, strings: &[&'a str]) -> PageView<'a> {
        let get = |id: u32| strings.get(id as usize).copied();
        PageView {
            client: get(self.client).unwrap_or(""),
            start_us: self.start_us,
            url: get(self.url).unwrap_or(""),
            referer: get(self.referer),
            navigation: self.navigation,
            redirect: get(self.redirect),
        }
    }
}

/// Builds the HAR document one finished connection at a time.
pub struct HarWriter {
    multi: bool,
    analysis: ConnectionFindings,
    items: Vec<Item>,
    /// In the order of `items`.
    pages: Vec<PageKeys>,
    strings: StringTable,
    entries: Spool,
    findings: Spool,
    late: Late,
    buf: Vec<u8>,
}

/// Connection-management findings that name a transaction: spooled, each
/// after its separator, as the analysis gives them.
struct Late {
    spool: Spool,
    /// (transaction id, spool range), in the order given.
    index: Vec<(u64, u64, u64)>,
}

impl Late {
    fn keep(&mut self, f: &FindingOut) -> io::Result<()> {
        let Some(tx) = f.transaction else {
            return Ok(());
        };
        let v = finding_value(f)?;
        let from = self.spool.len();
        self.spool.append(|buf| element(buf, &v))?;
        self.index.push((tx, from, self.spool.len()));
        Ok(())
    }
}

impl HarWriter {
    pub fn new(multi: bool, options: &ReportOptions) -> HarWriter {
        Self::with_spool_memory(multi, options, SPOOL_MEMORY_BYTES)
    }

    /// As [`Self::new`], moving the spools to temporary files past
    /// `spool_memory` bytes (tests use a tiny limit).
    pub fn with_spool_memory(
        multi: bool,
        options: &ReportOptions,
        spool_memory: usize,
    ) -> HarWriter {
        HarWriter {
            multi,
            analysis: ConnectionFindings::new(options),
            items: Vec::new(),
            pages: Vec::new(),
            strings: StringTable::default(),
            entries: Spool::new(spool_memory),
            findings: Spool::new(spool_memory),
            late: Late {
                spool: Spool::new(spool_memory),
                index: Vec::new(),
            },
            buf: Vec::new(),
        }
    }

    /// Spools one finished connection's entries (`keep`: false when a
    /// filter left it out; only its id reaches the connection analysis).
    /// Its findings and header fields are moved out of the record.
    pub fn add(&mut self, r: &mut ConnectionRecord, keep: bool) -> io::Result<()> {
        let late = &mut self.late;
        let mut failed = None;
        self.analysis.push(r, keep, &mut |f| {
            if let Err(e) = late.keep(&f) {
                failed.get_or_insert(e);
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        if !keep {
            return Ok(());
        }
        let out = record_out_taking(r, self.multi);
        let headers = take_headers(r);
        let none = TxHeaders::default();
        // The findings by transaction, each transaction's in their order
        // (a connection may have 10,000 transactions and as many findings:
        // no scan of them all per transaction).
        let mut by_tx: Vec<(u64, &FindingOut)> = out
            .findings
            .iter()
            .filter_map(|f| Some((f.transaction?, f)))
            .collect();
        by_tx.sort_by_key(|(tx, _)| *tx);
        for t in &out.transactions {
            let h = headers.get(&t.id).unwrap_or(&none);
            let p = Prepared::new(t, Some(&out.connection), h);
            let from = self.findings.len();
            let first = by_tx.partition_point(|(tx, _)| *tx < t.id);
            for (_, f) in by_tx[first..].iter().take_while(|(tx, _)| *tx == t.id) {
                let v = finding_value(f)?;
                self.findings.append(|buf| element(buf, &v))?;
            }
            let findings = (from, self.findings.len());
            self.buf.clear();
            pretty_indented(&mut self.buf, &entry(&p, "", &[]), ENTRY_INDENT)?;
            let (Some(f), Some(g)) = (
                placeholder(&self.buf, FINDINGS_KEY, b"[]"),
                placeholder(&self.buf, PAGEREF_KEY, b"\"\""),
            ) else {
                return Err(io::Error::other("HAR entry without its placeholders"));
            };
            let len = u32::try_from(self.buf.len())
                .map_err(|_| io::Error::other("HAR entry over 4 GiB"))?;
            let at = self.entries.len();
            let bytes = &self.buf;
            self.entries.append(|buf| buf.extend_from_slice(bytes))?;
            self.items.push(Item {
                start_us: t.span_start_us,
                tx: t.id,
                at,
                len,
                findings_at: f,
                pageref_at: g,
                findings,
            });
            let strings = &mut self.strings;
            self.pages.push(PageKeys {
                start_us: t.span_start_us,
                client: string_id(strings, &p.client)?,
                url: string_id(strings, &p.url)?,
                referer: optional_id(strings, p.referer.as_deref())?,
                redirect: optional_id(strings, p.redirect.as_deref())?,
                navigation: p.navigation,
            });
        }
        Ok(())
    }

    /// Runs the connection analysis to its end and writes the document
    /// (ending with a newline).
    pub fn finish(mut self, summary: &PassSummary, out: &mut dyn Write) -> io::Result<()> {
        let late = &mut self.late;
        let mut failed = None;
        // HAR has no place for warnings (the JSON report gives them).
        let _warnings = self.analysis.finish(&mut |f| {
            if let Err(e) = late.keep(&f) {
                failed.get_or_insert(e);
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        // HAR prefers entries sorted by start; the id breaks ties.
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        order.sort_unstable_by_key(|&i| (self.items[i].start_us, self.items[i].tx));
        let (assignment, pages) = {
            let strings = self.strings.by_id();
            assign_pages_of(order.iter().map(|&i| self.pages[i].view(&strings)))
        };
        self.pages = Vec::new();
        self.strings = StringTable::default();

        let mut buf = Vec::new();
        out.write_all(b"{\n  \"log\": {\n    \"comment\": ")?;
        write_pretty(out, &mut buf, &comment(&capture_out(summary).path), 4)?;
        out.write_all(b",\n    \"creator\": ")?;
        write_pretty(out, &mut buf, &creator(&tool()), 4)?;
        out.write_all(b",\n    \"entries\": ")?;
        let mut entries = self.entries.into_reader(Vec::new())?;
        let mut findings = self.findings.into_reader(Vec::new())?;
        // By transaction, keeping the order they came in.
        let mut late_index = std::mem::take(&mut self.late.index);
        late_index.sort_by_key(|l| l.0);
        let mut late = self.late.spool.into_reader(Vec::new())?;
        for (n, (&i, page)) in order.iter().zip(&assignment).enumerate() {
            let item = &self.items[i];
            out.write_all(if n == 0 { b"[\n      " } else { b",\n      " })?;
            let (f, g) = (u64::from(item.findings_at), u64::from(item.pageref_at));
            let end = item.at + u64::from(item.len);
            entries.copy(item.at, item.at + f, out)?;
            // The findings: its connection's, then the late ones.
            let first = late_index.partition_point(|l| l.0 < item.tx);
            let later = &late_index[first..];
            let later = &later[..later.partition_point(|l| l.0 == item.tx)];
            let (from, to) = item.findings;
            if from == to && later.is_empty() {
                out.write_all(b"[]")?;
            } else {
                out.write_all(b"[")?;
                // Every element starts with its separator: the first loses
                // the comma.
                let mut skip = 1;
                if from < to {
                    findings.copy(from + 1, to, out)?;
                    skip = 0;
                }
                for &(_, from, to) in later {
                    late.copy(from + skip, to, out)?;
                    skip = 0;
                }
                out.write_all(b"\n        ]")?;
            }
            entries.copy(item.at + f + 2, item.at + g, out)?;
            write_pretty(out, &mut buf, &page_id(*page), 0)?;
            entries.copy(item.at + g + 2, end, out)?;
        }
        out.write_all(if order.is_empty() { b"[]" } else { b"\n    ]" })?;
        out.write_all(b",\n    \"pages\": ")?;
        pretty_array(out, &mut buf, page_values(&pages))?;
        out.write_all(b",\n    \"version\": \"1.2\"\n  }\n}\n")
    }
}

/// A finding as `to_har` has it: a JSON value (its keys sorted).
fn finding_value(f: &FindingOut) -> io::Result<Value> {
    serde_json::to_value(f).map_err(io::Error::other)
}

/// One element of an entry's `_findings`, after its separator.
fn element(buf: &mut Vec<u8>, v: &Value) {
    buf.extend_from_slice(b",\n");
    buf.extend(std::iter::repeat_n(b' ', FINDING_INDENT));
    // Serializing a JSON value into memory cannot fail.
    let _ = pretty_indented(buf, v, FINDING_INDENT);
}

/// Where `value` is in `entry`, right after the key `key` at the entry's
/// own level.
fn placeholder(entry: &[u8], key: &[u8], value: &[u8]) -> Option<u32> {
    let at = memchr::memmem::find(entry, key)? + key.len();
    let ok = entry.get(at..at + value.len()) == Some(value);
    ok.then(|| u32::try_from(at).ok()).flatten()
}

/// A record's request and response header fields by transaction id (the
/// report's: by position on the connection), moved out of it.
pub fn take_headers(r: &mut ConnectionRecord) -> BTreeMap<u64, TxHeaders> {
    let fields = |m: Option<&mut Message>| m.map(|m| std::mem::take(&mut m.headers));
    (r.first_tx_id..)
        .zip(&mut r.transactions)
        .map(|(id, t)| {
            let h = TxHeaders {
                request: fields(t.request.as_mut()).unwrap_or_default(),
                response: fields(t.response.as_mut()).unwrap_or_default(),
            };
            (id, h)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal strings share an id, every id gives its string back, and an
    /// absent Referer or redirect stays absent.
    #[test]
    fn page_keys_give_back_their_strings() {
        let mut strings = StringTable::default();
        let a = PageKeys {
            start_us: 7,
            client: string_id(&mut strings, "10.0.0.1").unwrap(),
            url: string_id(&mut strings, "http://h/a").unwrap(),
            referer: optional_id(&mut strings, None).unwrap(),
            redirect: optional_id(&mut strings, Some("http://h/b")).unwrap(),
            navigation: true,
        };
        let b = PageKeys {
            start_us: 9,
            client: string_id(&mut strings, "10.0.0.1").unwrap(),
            url: string_id(&mut strings, "http://h/b").unwrap(),
            referer: optional_id(&mut strings, Some("http://h/a")).unwrap(),
            redirect: optional_id(&mut strings, None).unwrap(),
            navigation: false,
        };
        assert_eq!(strings.len(), 3);
        assert_eq!((a.client, b.client, a.redirect), (0, 0, b.url));
        let all = strings.by_id();
        let (a, b) = (a.view(&all), b.view(&all));
        assert_eq!(
            (
                a.client,
                a.start_us,
                a.url,
                a.referer,
                a.redirect,
                a.navigation
            ),
            ("10.0.0.1", 7, "http://h/a", None, Some("http://h/b"), true)
        );
        assert_eq!(
            (
                b.client,
                b.start_us,
                b.url,
                b.referer,
                b.redirect,
                b.navigation
            ),
            ("10.0.0.1", 9, "http://h/b", Some("http://h/a"), None, false)
        );
    }
}
