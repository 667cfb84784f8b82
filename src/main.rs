use std::process::ExitCode;

fn main() -> ExitCode {
    let config = match wireblame::cli::parse(std::env::args_os()) {
        Ok(c) => c,
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
