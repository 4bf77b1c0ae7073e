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
            eprintln!("memscape: error: {e:#}");
            std::process::exit(2);
        }
    }
}
