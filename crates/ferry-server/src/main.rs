//! The `ferry-server` command.

use anyhow::Context;
use clap::{Parser, Subcommand};
use ferry_server::Settings;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Ferry's local stack: serves the web client and its backend on one machine.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the web client and the local stack (the default).
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, env = "FERRY_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Directory for all state (databases, objects, keys). Created if missing.
    #[arg(long, env = "FERRY_DATA_DIR", default_value = ".ferry")]
    data_dir: PathBuf,
    /// The built web client (Trunk's output).
    #[arg(long, env = "FERRY_DIST", default_value = "dist")]
    dist: PathBuf,
    /// The URL browsers use to reach this server, when it differs from the
    /// listening address (behind a proxy, or listening on 0.0.0.0).
    #[arg(long, env = "FERRY_PUBLIC_URL")]
    public_url: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve(args)) => serve(args).await,
        None => serve(cli.serve).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data directory {}", args.data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    let bound = listener.local_addr()?;
    let public_url = args
        .public_url
        .unwrap_or_else(|| format!("http://{bound}"))
        .trim_end_matches('/')
        .to_owned();
    let settings = Settings {
        public_url: public_url.clone(),
        data_dir: args.data_dir,
        dist_dir: args.dist,
    };
    tracing::info!(data_dir = %settings.data_dir.display(), dist = %settings.dist_dir.display(), "starting");
    // Tests and `cargo xtask run` read this line to learn the port.
    println!("ferry-server listening on {public_url}/");
    axum::serve(listener, ferry_server::app(settings))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}
