//! The rows of a connections or transactions table, kept out of memory
//! while the pass runs.
//!
//! The tables list connections in id order, but connections finish in
//! another order, so every row has to wait for the end. Each finished
//! connection's rows are encoded into a [`Spool`] (memory up to
//! [`SPOOL_MEMORY_BYTES`], then a temporary file) as one piece; what stays in
//! memory per connection is its id and where its piece starts (16 bytes).
//! At the end the pieces are read back in id order, as often as the
//! renderer needs (a long table reads them twice: widths, then rows).

use std::io;
use std::marker::PhantomData;

use super::json::{Spool, SpoolReader, SPOOL_MEMORY_BYTES};

/// A row that can be written to a spool and read back.
pub trait SpooledRow: Sized {
    /// Counted as rows are spooled ([`SpooledRows::flagged`]): the
    /// transactions table's footer counts the incomplete ones.
    fn flagged(&self) -> bool {
        false
    }
    fn encode(&self, buf: &mut Vec<u8>);
    /// The row at the start of `bytes`, advancing past it; `None` when the
    /// bytes are not a row (a damaged spool file).
    fn decode(bytes: &mut &[u8]) -> Option<Self>;
}

/// Rows spooled connection by connection.
pub struct RowSpool<R> {
    spool: Spool,
    /// (connection id, start of its piece), in the order added.
    pieces: Vec<(u32, u64)>,
    rows: usize,
    flagged: usize,
    row: PhantomData<fn() -> R>,
}

impl<R: SpooledRow> Default for RowSpool<R> {
    fn default() -> Self {
        Self::with_memory(SPOOL_MEMORY_BYTES)
    }
}

impl<R: SpooledRow> RowSpool<R> {
    /// Moves to a temporary file past `memory` bytes (tests use a tiny one).
    pub fn with_memory(memory: usize) -> RowSpool<R> {
        RowSpool {
            spool: Spool::new(memory),
            pieces: Vec::new(),
            rows: 0,
            flagged: 0,
            row: PhantomData,
        }
    }

    /// Spools the rows of connection `id`, in their order.
    pub fn add(&mut self, id: u32, rows: &[R]) -> io::Result<()> {
        let start = self.spool.len();
        self.spool.append(|buf| {
            for r in rows {
                r.encode(buf);
            }
        })?;
        self.pieces.push((id, start));
        self.rows += rows.len();
        self.flagged += rows.iter().filter(|r| r.flagged()).count();
        Ok(())
    }

    /// Rows spooled so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The rows, to be read back in connection-id order.
    pub fn finish(self) -> io::Result<SpooledRows<R>> {
        let end = self.spool.len();
        let mut ranges: Vec<(u32, u64, u64)> = self
            .pieces
            .iter()
            .enumerate()
            .map(|(i, &(id, start))| {
                let to = self.pieces.get(i + 1).map_or(end, |next| next.1);
                (id, start, to)
            })
            .collect();
        // Stable: a connection's pieces (there is one) keep their order.
        ranges.sort_by_key(|r| r.0);
        Ok(SpooledRows {
            reader: self.spool.into_reader(Vec::new())?,
            ranges: ranges.into_iter().map(|r| (r.1, r.2)).collect(),
            rows: self.rows,
            flagged: self.flagged,
            piece: Vec::new(),
            row: PhantomData,
        })
    }
}

/// Spooled rows, read back in connection-id order.
pub struct SpooledRows<R> {
    reader: SpoolReader,
    ranges: Vec<(u64, u64)>,
    rows: usize,
    flagged: usize,
    /// The piece being decoded.
    piece: Vec<u8>,
    row: PhantomData<fn() -> R>,
}

impl<R: SpooledRow> SpooledRows<R> {
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Rows whose [`SpooledRow::flagged`] is true.
    pub fn flagged(&self) -> usize {
        self.flagged
    }

    /// Calls `f` with every row in order, up to its first error; can be
    /// called again.
    pub fn for_each(&mut self, mut f: impl FnMut(R) -> io::Result<()>) -> io::Result<()> {
        let SpooledRows {
            reader,
            ranges,
            piece,
            ..
        } = self;
        for &(from, to) in ranges.iter() {
            piece.clear();
            reader.copy(from, to, piece)?;
            let mut bytes = &piece[..];
            while !bytes.is_empty() {
                let row = R::decode(&mut bytes).ok_or_else(|| {
                    super::json::spool_error(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a table row read back damaged",
                    ))
                })?;
                f(row)?;
            }
        }
        Ok(())
    }

    /// Every row, in order.
    pub fn collect(&mut self) -> io::Result<Vec<R>> {
        let mut all = Vec::with_capacity(self.rows);
        self.for_each(|r| {
            all.push(r);
            Ok(())
        })?;
        Ok(all)
    }
}

/// `s` as its length (u32, little-endian) and bytes. Cells are made by this
/// program and short; a longer one is cut at a character boundary.
pub fn put_str(buf: &mut Vec<u8>, s: &str) {
    let mut n = s.len().min(u32::MAX as usize);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    buf.extend_from_slice(&(n as u32).to_le_bytes());
    buf.extend_from_slice(&s.as_bytes()[..n]);
}

/// The string [`put_str`] wrote at the start of `bytes`.
pub fn take_str(bytes: &mut &[u8]) -> Option<String> {
    let n = u32::from_le_bytes(take_array(bytes)?) as usize;
    let s = bytes.get(..n)?;
    *bytes = &bytes[n..];
    String::from_utf8(s.to_vec()).ok()
}

/// The `N` bytes at the start of `bytes`.
pub fn take_array<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
    let (head, rest) = bytes.split_first_chunk::<N>()?;
    *bytes = rest;
    Some(*head)
}

/// Cells as a count (u8: rows have a dozen) and each cell.
pub fn put_cells(buf: &mut Vec<u8>, cells: &[String]) {
    let n = cells.len().min(usize::from(u8::MAX));
    buf.push(n as u8);
    for c in &cells[..n] {
        put_str(buf, c);
    }
}

/// The cells [`put_cells`] wrote at the start of `bytes`.
pub fn take_cells(bytes: &mut &[u8]) -> Option<Vec<String>> {
    let [n] = take_array::<1>(bytes)?;
    (0..n).map(|_| take_str(bytes)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Row(u32, Vec<String>);

    impl SpooledRow for Row {
        fn encode(&self, buf: &mut Vec<u8>) {
            buf.extend_from_slice(&self.0.to_le_bytes());
            put_cells(buf, &self.1);
        }
        fn decode(bytes: &mut &[u8]) -> Option<Row> {
            let id = u32::from_le_bytes(take_array(bytes)?);
            Some(Row(id, take_cells(bytes)?))
        }
    }

    /// Rows come back in connection-id order, each connection's in its
    /// own order, from memory and from the temporary file, twice over.
    #[test]
    fn rows_come_back_in_connection_id_order() {
        for memory in [1 << 20, 16] {
            let mut spool = RowSpool::<Row>::with_memory(memory);
            for id in [3u32, 0, 2, 1] {
                let rows: Vec<Row> = (0..id)
                    .map(|k| Row(id, vec![format!("{id}.{k}"), "é…".repeat(k as usize)]))
                    .collect();
                spool.add(id, &rows).unwrap();
            }
            assert_eq!(spool.rows(), 6);
            let mut rows = spool.finish().unwrap();
            for _ in 0..2 {
                let got: Vec<String> = rows
                    .collect()
                    .unwrap()
                    .into_iter()
                    .map(|r| format!("{}:{}", r.0, r.1.join("|")))
                    .collect();
                assert_eq!(
                    got,
                    [
                        "1:1.0|",
                        "2:2.0|",
                        "2:2.1|é…",
                        "3:3.0|",
                        "3:3.1|é…",
                        "3:3.2|é…é…"
                    ]
                );
            }
        }
    }

    /// Damaged bytes are an error, not a panic or a wrong row.
    #[test]
    fn a_damaged_row_is_an_error() {
        let mut buf = Vec::new();
        put_cells(&mut buf, &["abc".to_string(), "de".to_string()]);
        for cut in 0..buf.len() {
            assert!(take_cells(&mut &buf[..cut]).is_none(), "cut at {cut}");
        }
        assert_eq!(take_cells(&mut &buf[..]).unwrap(), ["abc", "de"]);
        let mut bad = buf.clone();
        bad[5] = 0xff;
        assert!(take_cells(&mut &bad[..]).is_none());
    }
}
