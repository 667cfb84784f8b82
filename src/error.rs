//! Fatal errors: the only conditions that stop an analysis.
//!
//! Everything else about the input (damaged frames, odd TCP, bad HTTP) is an
//! [`crate::anomaly::Anomaly`]. Each variant names the file, so that the CLI
//! prints one line that says which file and why, then exits with code 2.

use std::fmt;
use std::io;

#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read.
    Io { path: String, source: io::Error },
    /// The file is not a pcap or pcapng capture; `what` says what it looks like.
    NotACapture { path: String, what: String },
    /// The capture's header is damaged so that nothing can be read.
    BadHeader { path: String, detail: String },
    /// Writing the report failed.
    Output { path: String, source: io::Error },
    /// A command-line value that cannot be used.
    Usage(String),
}

impl Error {
    /// True when the error is a closed pipe on output (`wireblame … | head`),
    /// which ends the program quietly with exit 0.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Output { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{path}: {}", describe_io(source)),
            Error::NotACapture { path, what } => {
                write!(f, "{path}: not a pcap or pcapng capture ({what})")
            }
            Error::BadHeader { path, detail } => write!(f, "{path}: unreadable capture: {detail}"),
            Error::Output { path, source } => {
                write!(f, "{path}: cannot write output: {}", describe_io(source))
            }
            Error::Usage(msg) => write!(f, "{msg}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::Output { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// io::Error's Display adds "(os error 2)"; users want the plain reason.
fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::IsADirectory => "is a directory".to_string(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}
