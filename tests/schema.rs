//! The report's JSON Schema: the committed file matches the Rust types, and
//! every report the tests produce validates against it (the `jsonschema`
//! crate). Regenerate the file with `UPDATE_SCHEMA=1 cargo test schema`.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/schema/report.schema.json")
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap();
    s.push('\n');
    s
}

#[test]
fn schema_file_matches_the_types() {
    let generated = pretty(&wireblame::report::schema());
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(schema_path(), &generated).unwrap();
    }
    let committed = std::fs::read_to_string(schema_path()).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/schema/report.schema.json is out of date: run UPDATE_SCHEMA=1 cargo test schema"
    );
    let v: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string(schema_path()).unwrap()).unwrap();
        jsonschema::draft202012::new(&schema).expect("the schema compiles")
    })
}

/// Panics unless `report` validates against the committed schema.
pub fn assert_valid(report: &Value, what: &str) {
    let errors: Vec<String> = validator()
        .iter_errors(report)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: report does not match the schema: {errors:#?}"
    );
}

#[test]
fn a_report_missing_a_required_field_is_rejected() {
    let report = serde_json::to_value(crate::lab::analyze(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/lab-keepalive-reuse.pcap"),
    ))
    .unwrap();
    assert_valid(&report, "keepalive");
    let mut broken = report.clone();
    broken["transactions"][0]
        .as_object_mut()
        .unwrap()
        .remove("blame_ms");
    assert!(!validator().is_valid(&broken));
}
