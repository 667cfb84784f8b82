use std::io::Write;
use std::process::ExitCode;

use wireblame::cli::{self, Invocation};

fn main() -> ExitCode {
    let config = match cli::parse(std::env::args_os()) {
        Ok(Invocation::Run(c)) => c,
        Ok(Invocation::Completions(script)) => {
            let _ = std::io::stdout().write_all(script.as_bytes());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match wireblame::run::run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wireblame: {e}");
            ExitCode::from(2)
        }
    }
}

/// mimalloc: the analysis allocates many small, short-lived buffers (HTTP
/// heads, findings, JSON strings); glibc malloc took a quarter of the run time.
/// Version 2 (Cargo feature `v2`): its 10 ms purge delay gives freed pages
/// back where version 3's one second held up to 30 MiB more on big.pcap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
