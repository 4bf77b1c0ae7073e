//! `memscape`: the command line. Flags are parsed and checked in [`flags`], turned into one
//! library call in [`commands`]. Exit 0 on success, 1 when the work finished with recorded
//! failures, 2 on bad usage or input (one line naming the flag or file, the rule and the value).

mod commands;
mod flags;
mod progress;

use clap::Parser;

fn main() {
    let cli = flags::Cli::parse();
    progress::install();
    let command: Vec<String> = std::env::args().collect();
    match commands::run(cli, command) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("memscape: error: {}", one_line(&e));
            std::process::exit(2);
        }
    }
}

/// The error and its causes on one line, leaving out a cause its message already states (an
/// I/O error's text is part of the message that wraps it).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line = format!("{line}: {cause}");
        }
    }
    line
}
