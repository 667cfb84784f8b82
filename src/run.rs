//! Runs one command: the pass over the captures, then the chosen view.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use crate::cli::{Config, Format, View};
use crate::error::Error;
use crate::pipeline::{self, ConnectionRecord, PassOptions};
use crate::report::{self, table};

/// Runs the configured analysis and writes its output.
pub fn run(config: &Config) -> Result<(), Error> {
    config.validate()?;
    let mut records: Vec<ConnectionRecord> = Vec::new();
    let options = PassOptions {
        decode_only: config.decode_only,
    };
    let summary = pipeline::run(&config.captures, &options, &mut |r| records.push(r))?;
    records.sort_by_key(|r| r.id);
    let report = report::build(&summary, &records);
    drop(records);

    let text = match (config.format, config.view) {
        (Format::Json, _) => {
            let mut s = serde_json::to_string_pretty(&report).map_err(|e| Error::Output {
                path: "<report>".into(),
                source: io::Error::other(e),
            })?;
            s.push('\n');
            s
        }
        (Format::Table, View::Connections) => table::connections(&report),
        (Format::Table, View::Transactions) => table::transactions(&report),
        (Format::Table, View::Analyze) => table::analyze(&report, config.top, config.color()),
    };
    write_output(config.output.as_deref(), text.as_bytes())
}

fn write_output(path: Option<&str>, bytes: &[u8]) -> Result<(), Error> {
    match path {
        None | Some("-") => {
            let stdout = io::stdout();
            let mut out = stdout.lock();
            out.write_all(bytes)
                .and_then(|_| out.flush())
                .map_err(|source| Error::Output {
                    path: "<stdout>".into(),
                    source,
                })
        }
        Some(p) => {
            let err = |source| Error::Output {
                path: p.to_string(),
                source,
            };
            let f = File::create(p).map_err(err)?;
            let mut w = BufWriter::new(f);
            w.write_all(bytes).and_then(|_| w.flush()).map_err(err)
        }
    }
}
