//! Command line: clap's derive structs (the "low" layer) and the validated
//! [`Config`] the rest of the program uses. Nothing else imports clap.

use std::ffi::OsString;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::Error;

#[derive(Parser, Debug)]
#[command(
    name = "wireblame",
    version,
    about = "Why was each HTTP transaction in this capture slow? Reads pcap/pcapng.",
    after_help = "`wireblame CAPTURE` is short for `wireblame analyze CAPTURE`."
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Analyze captures: capture quality, connections, transactions.
    Analyze(Common),
    /// One row per TCP connection.
    Connections(Common),
    /// One row per HTTP request/response pair.
    Transactions(Common),
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
    /// How many of the slowest transactions `analyze` lists.
    #[arg(long, default_value_t = 10, value_name = "N")]
    top: usize,
    /// Never color the terminal output (color is used only on a terminal).
    #[arg(long)]
    no_color: bool,
    /// Decode frames only, without connection tracking (benchmark floor).
    #[arg(long, hide = true)]
    decode_only: bool,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// What to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Analyze,
    Connections,
    Transactions,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub view: View,
    pub captures: Vec<String>,
    pub format: Format,
    pub output: Option<String>,
    pub top: usize,
    pub no_color: bool,
    pub decode_only: bool,
}

const SUBCOMMANDS: &[&str] = &["analyze", "connections", "transactions", "help"];

/// Parses the command line; `wireblame FILE` means `wireblame analyze FILE`.
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Config, clap::Error> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if let Some(first) = args.get(1).and_then(|a| a.to_str()) {
        let is_flag = first.starts_with('-') && first != "-";
        if !is_flag && !SUBCOMMANDS.contains(&first) {
            args.insert(1, OsString::from("analyze"));
        }
    }
    let parsed = Args::try_parse_from(args)?;
    let (view, c) = match parsed.command {
        Command::Analyze(c) => (View::Analyze, c),
        Command::Connections(c) => (View::Connections, c),
        Command::Transactions(c) => (View::Transactions, c),
    };
    Ok(Config {
        view,
        captures: c.captures,
        format: c.format,
        output: c.output,
        top: c.top,
        no_color: c.no_color,
        decode_only: c.decode_only,
    })
}

impl Config {
    /// Color only when writing to a terminal, unless `--no-color` or `NO_COLOR`.
    pub fn color(&self) -> bool {
        use std::io::IsTerminal;
        !self.no_color
            && self.output.as_deref().is_none_or(|o| o == "-")
            && std::env::var_os("NO_COLOR").is_none()
            && std::io::stdout().is_terminal()
    }

    /// Checks what clap cannot: at most one standard input.
    pub fn validate(&self) -> Result<(), Error> {
        if self.captures.iter().filter(|c| *c == "-").count() > 1 {
            return Err(Error::Usage(
                "standard input (-) can be read only once".into(),
            ));
        }
        Ok(())
    }
}
