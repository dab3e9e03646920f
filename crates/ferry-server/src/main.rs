//! The `ferry-server` command: serve the local stack, or manage its users,
//! its dead letters and its object endpoint's credentials, check its data
//! directory, back it up and restore it.

use anyhow::Context;
use clap::{Parser, Subcommand};
use ferry_identity::MfaConfiguration;
use ferry_server::clock::SystemClock;
use ferry_server::maintenance::ServerLock;
use ferry_server::{AppState, Settings};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Ferry's local stack: serves the web client and its backend on one machine.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Directory for all state (databases, objects, keys). Created if missing.
    #[arg(long, global = true, env = "FERRY_DATA_DIR", default_value = ".ferry")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the web client and the local stack (the default).
    Serve(Box<ServeArgs>),
    /// Manage the users of the local user pool.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect and replay the bus's dead letters (deliveries that failed
    /// every retry). Works while the server runs.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Print the object endpoint's access key pair, for the aws CLI, boto3
    /// or an SDK (endpoint: the server's URL, path-style, bucket `ferry`).
    S3Credentials,
    /// Check the data directory's integrity: every file's object, its size
    /// and SHA-256; objects without a file; stale uploads; usage; accepted
    /// commands missing from the bus; stuck deliveries. Works while the
    /// server runs; exits non-zero on a problem.
    Check(CheckArgs),
    /// Back up the data directory into DIR (new or empty) while the server
    /// runs: a consistent copy of the databases, then the objects they name
    /// (hard-linked on the same filesystem), keys and outbox.
    Backup {
        /// Where the backup goes; must not exist or be empty.
        dir: PathBuf,
    },
    /// Restore a backup made by `backup` into --data-dir, which must not
    /// exist or be empty.
    Restore {
        /// The backup.
        dir: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// Repair what can be repaired without losing bytes: orphan objects
    /// become files in their owner's `lost+found`, usage is recomputed,
    /// unsent commands are put on the bus, stuck deliveries go to the dead
    /// letters, stale uploads to the sweep.
    #[arg(long)]
    repair: bool,
    /// How many MiB of objects to read per second at most (0: no limit),
    /// to leave the disk to a running server.
    #[arg(long, default_value_t = 64)]
    read_mib_per_second: u64,
    /// How long an upload may sit idle, in seconds (the server's sweep
    /// aborts it then).
    #[arg(long, default_value_t = 24 * 60 * 60)]
    upload_idle_seconds: u64,
    /// Attempts a delivery gets before the dead letters (the server's).
    #[arg(long, default_value_t = ferry_bus::RetryPolicy::default().max_attempts)]
    max_attempts: u32,
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// List dead letters: id, rule, attempts, last error, event.
    List,
    /// Queue dead letters for delivery again.
    Replay {
        /// The dead letter to replay.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        id: Option<i64>,
        /// Replay every dead letter.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, env = "FERRY_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The built web client (`dist/` of `cargo xtask build-web`).
    #[arg(long, env = "FERRY_DIST", default_value = "dist")]
    dist: PathBuf,
    /// The URL browsers use to reach this server, when it differs from the
    /// listening address (behind a proxy, or listening on 0.0.0.0).
    #[arg(long, env = "FERRY_PUBLIC_URL")]
    public_url: Option<String>,
    /// Lifetime of id and access tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    access_token_seconds: i64,
    /// Lifetime of refresh tokens, in seconds.
    #[arg(long, default_value_t = 30 * 24 * 3600)]
    refresh_token_seconds: i64,
    /// Multi-factor sign-in with an authenticator app: off, optional (users
    /// who set it up are asked for a code) or required (everyone sets it up).
    #[arg(long, value_enum, default_value_t = Mfa::Optional)]
    mfa: Mfa,
    /// Let people create their own accounts (Cognito's SignUp); confirmation
    /// codes go to the outbox in the data directory.
    #[arg(long)]
    allow_sign_up: bool,
    /// Another URL the hosted UI may redirect to after sign-in or sign-out
    /// (the app's own `/` and `/auth/callback` are always allowed). Repeatable.
    #[arg(long = "callback-url")]
    callback_urls: Vec<String>,
    /// The most bytes each user may store (no quota when absent).
    #[arg(long, env = "FERRY_QUOTA_BYTES")]
    quota_bytes: Option<u64>,
    /// The largest file accepted, in bytes (S3's 5 TiB by default).
    #[arg(long)]
    max_file_bytes: Option<u64>,
    /// Files at least this large are uploaded in parts.
    #[arg(long)]
    multipart_threshold_bytes: Option<u64>,
    /// The size of those parts (16 MiB by default, at least 5 MiB; larger
    /// when a file would need more than 10,000).
    #[arg(long)]
    part_size_bytes: Option<u64>,
    /// Parts of one file the web client sends at once.
    #[arg(long)]
    parts_in_flight: Option<u32>,
    /// Files the web client uploads at once.
    #[arg(long)]
    files_in_flight: Option<u32>,
    /// The web client sends parts and small files without a SHA-256 for the
    /// store to check; faster on slow machines. (The store still computes a
    /// multipart file's SHA-256 for the index as it joins the parts.)
    #[arg(long)]
    no_upload_checksums: bool,
    /// How long a presigned upload URL works, in seconds (an hour by
    /// default; clients presign again when one expires).
    #[arg(long)]
    upload_link_seconds: Option<u64>,
    /// Days a deleted file or folder stays in the trash before it is
    /// deleted forever.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3650))]
    trash_days: u64,
    /// The most older versions kept of a file replaced by an upload.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=1000))]
    keep_versions: u32,
    /// Days an older version is kept after it stopped being current.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u64).range(1..=3650))]
    version_days: u64,
    /// The object endpoint's access key id (with --s3-secret-access-key);
    /// by default a pair is generated and kept in the data directory.
    #[arg(
        long,
        env = "FERRY_S3_ACCESS_KEY_ID",
        requires = "s3_secret_access_key"
    )]
    s3_access_key_id: Option<String>,
    /// The object endpoint's secret access key.
    #[arg(
        long,
        env = "FERRY_S3_SECRET_ACCESS_KEY",
        requires = "s3_access_key_id"
    )]
    s3_secret_access_key: Option<String>,
    /// Another web origin allowed to upload and download from a browser
    /// (a portal embedding Ferry). Repeatable.
    #[arg(long = "allow-origin")]
    allow_origins: Vec<String>,
    /// A page allowed to show the app in a frame: an origin
    /// (`https://portal.example`), `'self'` or `'none'`; the app's
    /// Content-Security-Policy `frame-ancestors` (`'self'` when absent).
    /// Repeatable.
    #[arg(long = "frame-ancestors", value_parser = csp_source)]
    frame_ancestors: Vec<String>,
    /// Refuse WebSocket upgrades, as a proxy that doesn't pass them would;
    /// browsers then follow their events by polling.
    #[arg(long)]
    no_websockets: bool,
    /// The web client signs people in through the hosted UI (single
    /// sign-on with PKCE) instead of its own form.
    #[arg(long)]
    hosted_ui: bool,
}

/// One source of a Content Security Policy directive: anything that would
/// end the directive or the header (`;`, `,`, spaces) is refused, so a flag
/// can't add a directive of its own.
fn csp_source(value: &str) -> Result<String, String> {
    if value.is_empty()
        || value
            .bytes()
            .any(|b| b == b';' || b == b',' || !b.is_ascii_graphic())
    {
        return Err(format!(
            "{value:?} is not one CSP source (an origin such as https://portal.example, 'self' or 'none')"
        ));
    }
    Ok(value.to_owned())
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Mfa {
    Off,
    Optional,
    Required,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user. Without --password a temporary one is generated and printed.
    Add {
        /// The name to sign in with.
        name: String,
        /// The password; must meet the policy (8+ characters with lower and
        /// upper case, a number and a symbol).
        #[arg(long)]
        password: Option<String>,
        /// The user's e-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Make the user choose a new password at first sign-in.
        #[arg(long)]
        temporary: bool,
    },
    /// List users with their status.
    List,
    /// Stop a user from signing in and end their sessions.
    Disable {
        /// The user.
        name: String,
    },
    /// Let a disabled user sign in again.
    Enable {
        /// The user.
        name: String,
    },
    /// Give a user a new temporary password (printed), ending their sessions;
    /// they choose their own at the next sign-in.
    ResetPassword {
        /// The user.
        name: String,
    },
}

/// glibc's `malloc` as the server starts, each setting unless the person
/// starting it chose its own: `(variable, value)`.
///
/// `MALLOC_MMAP_THRESHOLD_`: unless told a threshold, glibc raises the size
/// from which it maps a block of its own to that of the largest mapped
/// block freed so far (up to 32 MiB), and the size it keeps free before
/// trimming to twice that. A server that takes uploads frees buffers of
/// hundreds of KiB to a few MiB all the time, so after the first the rest
/// came from the arenas, each of which kept megabytes it no longer used.
/// A fixed threshold turns that off: blocks of 128 KiB (glibc's own
/// default) and more are mapped and go back to the system when freed.
///
/// `MALLOC_ARENA_MAX`: a thread that finds the arenas busy gets one of its
/// own, up to eight per core (16 on two), and each keeps the small blocks
/// freed in it for its own later use, so over a soak more arenas each kept
/// a little. Two, shared by every thread, reuse what was freed.
///
/// Measured with `cargo xtask bench --load` (issue 15; 5 minutes, RSS
/// after the warm-up and at the end, while the memory in use stays at
/// 13-14 MiB by heaptrack): the threshold alone 29.2 -> 33.8 MiB (1.157x);
/// with two arenas 27.2 -> 29.6 (1.088x) and 26.4 -> 29.3 (1.109x); with
/// one, 26.7 -> 32.0 (1.197x), in a run where the blocking pool grew from
/// 58 to 87 threads. The rest is those threads (see
/// [`MAX_BLOCKING_THREADS`]). Other allocators in glibc's place: mimalloc
/// 150 -> 266 MiB, jemalloc 47.0 -> 49.0 MiB (flatter, from a floor
/// nearly twice as high, and a C build more).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_SETTINGS: [(&str, &str); 2] = [
    ("MALLOC_MMAP_THRESHOLD_", "131072"),
    ("MALLOC_ARENA_MAX", "2"),
];

/// Applies [`MALLOC_SETTINGS`]. glibc reads them once, as the process
/// starts, from the environment (the workspace forbids the unsafe
/// `mallopt`), so the server starts itself again with them set: `exec`,
/// so the same process id, arguments and descriptors.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    use std::os::unix::process::CommandExt as _;
    let missing: Vec<(&str, &str)> = MALLOC_SETTINGS
        .into_iter()
        .filter(|(var, _)| std::env::var_os(var).is_none())
        .collect();
    if missing.is_empty() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    let error = std::process::Command::new(&exe)
        .arg0(arg0)
        .args(args)
        .envs(missing)
        .exec();
    // Only reached when the start failed: serve as we are.
    eprintln!(
        "ferry-server: could not start again with malloc's settings ({error}); \
         going on without them"
    );
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

/// The most threads Tokio's blocking pool runs at once (its default is
/// 512). The pool runs SQLite's calls and file IO; most of its threads wait
/// on a database's lock, and each thread keeps its stack and malloc's
/// per-thread cache while it lives (ten seconds idle). In the load test a
/// busy machine made the pool grow from 58 to 87 threads mid-run and RSS
/// 3 MiB with it; with 16 it holds 19 threads in all and RSS went 24.4 ->
/// 25.7 MiB (1.053x) and 24.7 -> 25.8 MiB (1.042x), at 112 and 132
/// requests/s (the same as without: the machine's other work makes the
/// difference). Work past the limit waits in the pool's queue.
const MAX_BLOCKING_THREADS: usize = 16;

fn main() -> anyhow::Result<()> {
    tune_malloc();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(ferry_server::log_filter(
            std::env::var("FERRY_LOG").ok().as_deref(),
        ))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve(args)) => serve(cli.data_dir, *args).await,
        Some(Command::User(command)) => user(cli.data_dir, command),
        Some(Command::Dlq(command)) => dlq(&cli.data_dir, command),
        Some(Command::S3Credentials) => {
            let credentials = ferry_server::S3Credentials::load_or_create(&cli.data_dir)?;
            println!("access key id: {}", credentials.access_key_id);
            println!("secret access key: {}", credentials.secret_access_key);
            println!("region: {}", ferry_server::LOCAL_REGION);
            println!("bucket: {} (path-style)", ferry_server::LOCAL_BUCKET);
            Ok(())
        }
        Some(Command::Check(args)) => check(&cli.data_dir, args).await,
        Some(Command::Backup { dir }) => {
            let summary = ferry_server::maintenance::backup::backup(&cli.data_dir, &dir)?;
            println!("{summary}");
            Ok(())
        }
        Some(Command::Restore { dir }) => {
            let summary = ferry_server::maintenance::backup::restore(&dir, &cli.data_dir)?;
            println!("{summary}");
            Ok(())
        }
        None => serve(cli.data_dir, cli.serve).await,
    }
}

async fn check(data_dir: &std::path::Path, args: CheckArgs) -> anyhow::Result<()> {
    let options = ferry_server::maintenance::check::CheckOptions {
        repair: args.repair,
        upload_idle: std::time::Duration::from_secs(args.upload_idle_seconds),
        max_attempts: args.max_attempts,
        bytes_per_second: Some(args.read_mib_per_second.saturating_mul(1024 * 1024)),
    };
    let report = ferry_server::maintenance::check::check(data_dir, &options).await?;
    report.print(&mut std::io::stdout().lock())?;
    if !report.healthy() {
        std::process::exit(1);
    }
    Ok(())
}

fn temporary_password() -> String {
    let mut seed = [0u8; 16];
    seed.copy_from_slice(&uuid::Uuid::new_v4().into_bytes());
    ferry_identity::password::generate(&seed)
}

fn user(data_dir: PathBuf, command: UserCommand) -> anyhow::Result<()> {
    // The public URL only matters for tokens, which these commands don't issue.
    let settings = Settings::new("http://127.0.0.1:8080", data_dir.clone(), PathBuf::new());
    std::fs::create_dir_all(&data_dir)?;
    // Only the user pool: a running server keeps the bus and the rest.
    let identity =
        &ferry_identity::Identity::open(settings.identity(), &data_dir, Arc::new(SystemClock))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    match command {
        UserCommand::Add {
            name,
            password,
            email,
            temporary,
        } => {
            let (password, generated) = match password {
                Some(p) => (p, false),
                None => (temporary_password(), true),
            };
            let user = identity.create_user(&name, &password, email, temporary || generated)?;
            println!(
                "added {} (sub {}, {})",
                user.username,
                user.sub,
                user.status.name()
            );
            if generated {
                println!("temporary password: {password}");
            }
        }
        UserCommand::List => {
            for user in identity.store().list()? {
                println!(
                    "{}\t{}\t{}\t{}",
                    user.username,
                    user.status.name(),
                    if user.enabled { "enabled" } else { "disabled" },
                    user.email.as_deref().unwrap_or("-")
                );
            }
        }
        UserCommand::Disable { name } => {
            if !identity.store().set_enabled(&name, false, now)? {
                anyhow::bail!("no user named {name:?}");
            }
            println!("disabled {name}");
        }
        UserCommand::Enable { name } => {
            if !identity.store().set_enabled(&name, true, now)? {
                anyhow::bail!("no user named {name:?}");
            }
            println!("enabled {name}");
        }
        UserCommand::ResetPassword { name } => {
            let password = temporary_password();
            if !identity.set_password(&name, &password, true)? {
                anyhow::bail!("no user named {name:?}");
            }
            println!("temporary password for {name}: {password}");
        }
    }
    Ok(())
}

fn dlq(data_dir: &std::path::Path, command: DlqCommand) -> anyhow::Result<()> {
    let path = data_dir.join("bus.sqlite3");
    anyhow::ensure!(
        path.exists(),
        "no bus in {} (has the server run with this --data-dir?)",
        data_dir.display()
    );
    match command {
        DlqCommand::List => {
            let letters = ferry_bus::dlq_list(&path)?;
            if letters.is_empty() {
                println!("no dead letters");
            }
            for letter in letters {
                println!(
                    "{}\t{}\t{} attempts\t{}\t{}\t{}",
                    letter.id,
                    letter.rule,
                    letter.attempts,
                    letter.failed_at,
                    letter.last_error,
                    letter.event
                );
            }
        }
        DlqCommand::Replay { id, all: _ } => {
            let replayed = ferry_bus::dlq_replay(&path, id)?;
            println!("replayed {replayed} dead letter(s)");
        }
    }
    Ok(())
}

async fn serve(data_dir: PathBuf, args: ServeArgs) -> anyhow::Result<()> {
    // One server per data directory: two would each run the bus's
    // dispatcher and the sweep over the same records. Held until exit (the
    // operating system lets go of it even after a crash). The admin
    // commands (`user`, `dlq`, …) take no lock: they work beside a server.
    let _lock = lock_data_dir(&data_dir)?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    let bound = listener.local_addr()?;
    let public_url = args.public_url.unwrap_or_else(|| format!("http://{bound}"));
    let mut settings = Settings::new(public_url, data_dir, args.dist);
    settings.lifetimes.access = args.access_token_seconds;
    settings.lifetimes.refresh = args.refresh_token_seconds;
    settings.mfa = match args.mfa {
        Mfa::Off => MfaConfiguration::Off,
        Mfa::Optional => MfaConfiguration::Optional,
        Mfa::Required => MfaConfiguration::Required,
    };
    settings.allow_sign_up = args.allow_sign_up;
    settings.extra_callback_urls = args.callback_urls;
    settings.files.quota_bytes = args.quota_bytes;
    if let Some(max) = args.max_file_bytes {
        settings.files.max_file_bytes = max;
    }
    if let Some(threshold) = args.multipart_threshold_bytes {
        settings.files.multipart_threshold = threshold;
    }
    if let Some(size) = args.part_size_bytes {
        settings.files.part_size = size;
    }
    if let Some(parts) = args.parts_in_flight {
        settings.client_upload.parts_in_flight = parts.clamp(1, 64);
    }
    if let Some(files) = args.files_in_flight {
        settings.client_upload.files_in_flight = files.clamp(1, 64);
    }
    settings.client_upload.checksums = !args.no_upload_checksums;
    settings.files.part_checksums = !args.no_upload_checksums;
    const DAY: u64 = 24 * 60 * 60;
    settings.files.retention = ferry_core::model::Retention {
        trash: std::time::Duration::from_secs(args.trash_days * DAY),
        keep_versions: args.keep_versions,
        version_age: std::time::Duration::from_secs(args.version_days * DAY),
    };
    if let Some(seconds) = args.upload_link_seconds {
        settings.files.upload_ttl = std::time::Duration::from_secs(seconds.max(1));
    }
    if let (Some(access_key_id), Some(secret_access_key)) =
        (args.s3_access_key_id, args.s3_secret_access_key)
    {
        settings.s3_credentials = Some(ferry_server::S3Credentials {
            access_key_id,
            secret_access_key,
        });
    }
    settings.extra_origins = args.allow_origins;
    if !args.frame_ancestors.is_empty() {
        settings.frame_ancestors = args.frame_ancestors;
    }
    settings.live.websockets = !args.no_websockets;
    if args.hosted_ui {
        settings.auth_mode = ferry_protocol::AuthMode::Hosted;
    }
    let public_url = settings.public_url.clone();
    tracing::info!(data_dir = %settings.data_dir.display(), dist = %settings.dist_dir.display(), "starting");
    let state = AppState::open(settings, Arc::new(SystemClock))?;
    // Tests and `cargo xtask run` read this line to learn the port.
    // Whoever started us may stop reading stdout after this line (tests do),
    // so it is the only one, and a closed pipe is not an error.
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "ferry-server listening on {public_url}/");
        let _ = stdout.flush();
    }
    tracing::info!(
        "object endpoint: {public_url} (path-style, bucket {}, region {}; `ferry-server s3-credentials` prints the keys)",
        ferry_server::LOCAL_BUCKET,
        ferry_server::LOCAL_REGION
    );
    let app = ferry_server::app(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")
}

/// The data directory's lock, or why a second server can't have it.
fn lock_data_dir(data_dir: &std::path::Path) -> anyhow::Result<ServerLock> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    ServerLock::try_acquire(data_dir)?.ok_or_else(|| {
        anyhow::anyhow!(
            "another ferry-server{} is serving {}; stop it first, or give this one its own --data-dir",
            ServerLock::holder(data_dir)
                .map(|pid| format!(" (pid {pid})"))
                .unwrap_or_default(),
            data_dir.display()
        )
    })
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

#[cfg(test)]
mod tests {
    use super::csp_source;

    #[test]
    fn frame_ancestors_take_one_source_each() {
        for source in [
            "'self'",
            "'none'",
            "https://portal.example",
            "https://*.example.com:8443",
        ] {
            assert_eq!(csp_source(source).as_deref(), Ok(source));
        }
        for bad in [
            "",
            "https://a.example https://b.example",
            "'self'; script-src *",
            "a,b",
            "x\ny",
        ] {
            assert!(csp_source(bad).is_err(), "{bad:?}");
        }
    }
}
