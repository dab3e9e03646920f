//! A load and soak run against one `ferry-server` process, for `cargo
//! xtask bench --load`: by default 5 minutes of 200 signed-in WebSocket
//! clients, 20 uploaders and 20 command senders (`tests/load/generator.rs`
//! says what each does). Prints `FERRY_BENCH name=value` lines: request
//! rate, command → event and upload → `FileCreated` latencies beside a
//! WebSocket ping round trip of the same run, the server's RSS after the
//! warm-up and at the end, and the errors found (the goal is none).
//!
//! `cargo bench -p ferry-server --bench load -- --seconds N --sockets N
//! --uploaders N --senders N` runs it smaller; `--warm-up N` sets the
//! seconds of load before anything is measured (15).

#![allow(clippy::unwrap_used)] // A benchmark fails loudly on anything unexpected.

#[path = "../tests/load/generator.rs"]
mod generator;

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut load = generator::Load::full(PathBuf::from(env!("CARGO_BIN_EXE_ferry-server")));
    let mut args = std::env::args().skip(1);
    let mut warm_up_given = false;
    while let Some(arg) = args.next() {
        let mut number = |what: &str| -> anyhow::Result<u64> {
            let value = args.next().unwrap_or_default();
            value
                .parse()
                .map_err(|_| anyhow::anyhow!("{what} takes a number, not {value:?}"))
        };
        match arg.as_str() {
            "--seconds" => load.seconds = number("--seconds")?,
            "--sockets" => load.sockets = number("--sockets")? as usize,
            "--uploaders" => load.uploaders = number("--uploaders")? as usize,
            "--senders" => load.senders = number("--senders")? as usize,
            "--warm-up" => {
                load.warm_up = std::time::Duration::from_secs(number("--warm-up")?);
                warm_up_given = true;
            }
            // `cargo bench` passes `--bench`.
            _ => {}
        }
    }
    // A short run gets a proportionally short warm-up, unless one is given.
    if !warm_up_given {
        load.warm_up = load.warm_up.min(
            std::time::Duration::from_secs(load.seconds / 10)
                .max(std::time::Duration::from_secs(2)),
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(generator::run(load.clone()))?;
    for (name, value) in outcome.figures(&load) {
        println!("FERRY_BENCH {name}={value:.3}");
    }
    for error in &outcome.error_examples {
        println!("FERRY_ERROR {error}");
    }
    if outcome.errors > 0 {
        eprintln!("the server's log ends:\n{}", outcome.server_log);
    }
    Ok(())
}
