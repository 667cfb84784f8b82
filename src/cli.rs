//! Command line: clap's derive structs (the "low" layer) and the validated
//! [`Config`] the rest of the program uses. Nothing else imports clap.

use std::ffi::OsString;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::error::Error;

/// `--version`: the crate version and the git commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("WIREBLAME_GIT_COMMIT"),
    ")"
);

#[derive(Parser, Debug)]
#[command(
    name = "wireblame",
    version = VERSION,
    about = "Why was each HTTP transaction in this capture slow? Reads pcap/pcapng.",
    after_help = "`wireblame CAPTURE` is short for `wireblame analyze CAPTURE`."
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Analyze captures: quality, where the time went, slowest transactions, findings.
    Analyze(Common),
    /// One row per TCP connection.
    Connections(Common),
    /// One row per HTTP request/response pair.
    Transactions(Common),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args, Debug)]
struct Common {
    /// Capture files (pcap, pcapng, optionally gzip-compressed); `-` reads standard input.
    #[arg(required = true, value_name = "CAPTURE")]
    captures: Vec<String>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the output to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "PATH")]
    output: Option<String>,
    /// Keep only matching connections: `host=NAME` (Host header or IP),
    /// `port=N`, `conn=ID`. Repeat to require several.
    #[arg(long, value_name = "KEY=VALUE")]
    filter: Vec<String>,
    /// How many of the slowest transactions `analyze` lists.
    #[arg(long, default_value_t = 10, value_name = "N")]
    top: usize,
    /// How long a closed connection holds its four-tuple in TIME_WAIT
    /// (2MSL; Linux: 60 s), for the TIME_WAIT findings.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    time_wait: f64,
    /// Never color the terminal output (color is used only on a terminal).
    #[arg(long)]
    no_color: bool,
    /// No progress bar.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Decode frames only, without connection tracking (benchmark floor).
    #[arg(long, hide = true)]
    decode_only: bool,
    /// Threads: 1 reads, analyzes and writes on one thread; 2 (default)
    /// reads the file on a thread of its own and writes JSON and NDJSON on
    /// another. The output is identical.
    #[arg(long, hide = true, default_value_t = 2)]
    threads: usize,
    /// The connections and transactions tables are laid out whole by
    /// comfy-table up to this many rows, longer ones a chunk at a time
    /// (tests set it low).
    #[arg(long, hide = true, default_value_t = crate::report::table::EXACT_ROWS)]
    exact_table_rows: usize,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for people (at most 100 columns).
    Table,
    /// One JSON document (docs/json.md).
    Json,
    /// One JSON object per line, written as connections finish.
    Ndjson,
    /// HAR 1.2 for browser tools.
    Har,
    /// A self-contained HTML page with a waterfall.
    Html,
}

/// What to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Analyze,
    Connections,
    Transactions,
}

/// A connection filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    Host(String),
    Port(u16),
    Connection(u32),
}

impl Filter {
    fn parse(s: &str) -> Result<Filter, Error> {
        let bad = || {
            Error::Usage(format!(
                "--filter {s}: expected host=NAME, port=N or conn=ID"
            ))
        };
        let (k, v) = s.split_once('=').ok_or_else(bad)?;
        match k {
            "host" | "ip" if !v.is_empty() => Ok(Filter::Host(v.to_string())),
            "port" => v.parse().map(Filter::Port).map_err(|_| bad()),
            "conn" | "connection" | "id" => v.parse().map(Filter::Connection).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub view: View,
    pub captures: Vec<String>,
    pub format: Format,
    pub output: Option<String>,
    pub filters: Vec<Filter>,
    /// The filters as given, validated by [`Config::validate`].
    pub raw_filters: Vec<String>,
    pub top: usize,
    /// TIME_WAIT duration in nanoseconds.
    pub time_wait_ns: i64,
    pub no_color: bool,
    pub quiet: bool,
    pub decode_only: bool,
    pub threads: usize,
    /// See [`crate::report::table::EXACT_ROWS`].
    pub exact_table_rows: usize,
}

/// What the command line asks for.
pub enum Invocation {
    Run(Config),
    /// A completion script to print.
    Completions(String),
}

const SUBCOMMANDS: &[&str] = &[
    "analyze",
    "connections",
    "transactions",
    "completions",
    "help",
];

/// Parses the command line; `wireblame FILE` means `wireblame analyze FILE`.
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Invocation, clap::Error> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if let Some(first) = args.get(1).and_then(|a| a.to_str()) {
        // Global flags go to clap; any other flag or a path means `analyze`.
        let global = matches!(first, "-h" | "--help" | "-V" | "--version");
        if !global && !SUBCOMMANDS.contains(&first) {
            args.insert(1, OsString::from("analyze"));
        }
    }
    let parsed = Args::try_parse_from(args)?;
    let (view, c) = match parsed.command {
        Command::Analyze(c) => (View::Analyze, c),
        Command::Connections(c) => (View::Connections, c),
        Command::Transactions(c) => (View::Transactions, c),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Args::command(), "wireblame", &mut out);
            return Ok(Invocation::Completions(
                String::from_utf8_lossy(&out).into_owned(),
            ));
        }
    };
    Ok(Invocation::Run(
        Config {
            view,
            captures: c.captures,
            format: c.format,
            output: c.output,
            filters: Vec::new(),
            raw_filters: Vec::new(),
            top: c.top,
            time_wait_ns: (c.time_wait.clamp(0.0, 86_400.0) * 1e9) as i64,
            no_color: c.no_color,
            quiet: c.quiet,
            decode_only: c.decode_only,
            threads: c.threads.max(1),
            exact_table_rows: c.exact_table_rows,
        }
        .with_filters(&c.filter),
    ))
}

impl Config {
    fn with_filters(mut self, raw: &[String]) -> Config {
        // Invalid filters are reported by `validate` with the others.
        self.filters = raw.iter().filter_map(|f| Filter::parse(f).ok()).collect();
        self.raw_filters = raw.to_vec();
        self
    }

    /// Checks what clap cannot.
    pub fn validate(&self) -> Result<(), Error> {
        if self.captures.iter().filter(|c| *c == "-").count() > 1 {
            return Err(Error::Usage(
                "standard input (-) can be read only once".into(),
            ));
        }
        for f in &self.raw_filters {
            Filter::parse(f)?;
        }
        Ok(())
    }

    /// Color only when writing to a terminal, unless `--no-color` or `NO_COLOR`.
    pub fn color(&self) -> bool {
        use std::io::IsTerminal;
        !self.no_color
            && self.output.as_deref().is_none_or(|o| o == "-")
            && std::env::var_os("NO_COLOR").is_none()
            && std::io::stdout().is_terminal()
    }
}
