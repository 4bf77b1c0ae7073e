//! One file per command; each turns flags into a library config and makes one library call.

mod classify;
mod map;
mod sample;

use crate::flags::{Cli, Command};

/// Runs a command; returns the exit code (0, or 1 for finished-with-failures).
pub fn run(cli: Cli, command: Vec<String>) -> anyhow::Result<i32> {
    match cli.command {
        Command::Map(args) => map::run(args, command),
        Command::Classify(args) => classify::run(args, command),
        Command::Sample(args) => sample::run(args, command),
    }
}

/// Prints `value` as one JSON document on stdout.
pub fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string(value).expect("serialisable"));
}
