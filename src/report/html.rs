//! HTML report (placeholder; being written).

/// Per connection, the packets for the time–sequence graph.
pub struct ConnectionTimeline {
    pub connection: u32,
    pub points: Vec<SeqPoint>,
}

/// One segment for the time–sequence graph.
pub struct SeqPoint {
    pub t_us: i64,
    pub side: u8,
    pub seq_start: u64,
    pub seq_end: u64,
    pub ack: Option<u64>,
    pub window: u64,
    pub kind: &'static str,
    pub frame: u64,
}

/// Renders the report as one self-contained HTML page.
pub fn render(report: &crate::report::model::Report, _timelines: &[ConnectionTimeline]) -> String {
    format!(
        "<!doctype html><title>wireblame</title><pre>{} transactions</pre>",
        report.transactions.len()
    )
}
