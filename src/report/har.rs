//! HAR 1.2 export (placeholder; being written).

/// Request and response headers of one transaction.
#[derive(Clone, Debug, Default)]
pub struct TxHeaders {
    pub request: Vec<(String, String)>,
    pub response: Vec<(String, String)>,
}

/// HAR 1.2 document for the report.
pub fn to_har(
    _report: &crate::report::model::Report,
    _headers: &std::collections::BTreeMap<u64, TxHeaders>,
) -> serde_json::Value {
    serde_json::json!({"log": {"version": "1.2", "creator": {"name": "wireblame", "version": env!("CARGO_PKG_VERSION")}, "entries": []}})
}
