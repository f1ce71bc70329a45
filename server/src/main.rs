//! carnet-server: the Carnet sync server and its admin commands.

use carnet_server::{admin, auth, demo, http, mailer, session, tenant};

use std::io::{BufRead, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use admin::AdminCmd;
use tenant::Tenant;

#[derive(Parser)]
#[command(name = "carnet-server", version, about = "Carnet sync server")]
struct Cli {
    /// The data directory (an embedded sled store).
    #[arg(
        long,
        global = true,
        env = "CARNET_DATA",
        default_value = "carnet-server-data"
    )]
    data: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create the tenant and its first admin.
    Init {
        #[arg(long)]
        company: String,
        #[arg(long)]
        admin_email: String,
        /// Read the admin password from standard input.
        #[arg(long, required = true)]
        admin_password_stdin: bool,
    },
    #[command(subcommand)]
    User(UserCmd),
    #[command(subcommand)]
    Territory(TerritoryCmd),
    /// The marketing library: documents pushed to reps.
    #[command(subcommand)]
    Library(LibraryCmd),
    /// Hand data over to other software.
    #[command(subcommand)]
    Export(ExportCmd),
    /// Bring an existing file in.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Customer files of the whole tenant that look like one company.
    Duplicates,
    /// Merge two customer files that are one company: every record of
    /// LOSER moves into WINNER, on every device; LOSER keeps its history.
    Merge { winner: String, loser: String },
    /// Erase a person (CONTACT, an id from `carnet contact list` or the web
    /// app) under the GDPR: their record, their name, email and phone
    /// wherever the customer file mentions them, and the file's history;
    /// the store is compacted so nothing stays on disk, and every device
    /// replaces its copy at its next sync. Backups taken before keep them.
    Erase { contact: String },
    /// Rewrite the store's files so that no overwritten value stays on disk
    /// (`erase` does it; this retries it if that failed).
    Compact,
    /// Write the whole tenant (every document with its history, users,
    /// devices, counters) to FILE as JSON Lines; the server may be running.
    /// DATA/blobs (the library's files) is copied apart.
    Backup {
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Restore a backup into DATA, which must not hold a tenant yet.
    Restore { file: PathBuf },
    /// The mail server the outbox is sent through.
    #[command(subcommand)]
    Mail(MailCmd),
    /// Serve sync, admin and metrics.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Documents kept in memory before idle ones are dropped.
        #[arg(long, default_value_t = 2048)]
        doc_cache: usize,
        /// Also serve /metrics without a token on this address (one only
        /// the scraper reaches). On the main address /metrics needs the
        /// token in DATA/metrics-token.
        #[arg(long)]
        metrics_listen: Option<SocketAddr>,
    },
    /// Create (if needed) a demo tenant with reps, territories and
    /// accounts, then serve it.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Load the demo data and exit.
        #[arg(long)]
        no_serve: bool,
        /// As for `serve`.
        #[arg(long)]
        metrics_listen: Option<SocketAddr>,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        manager: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Revoke a lost device (or all of a user's devices).
    RevokeDevice {
        #[arg(long)]
        email: String,
        #[arg(long)]
        device: Option<Uuid>,
    },
    /// A user's devices.
    Devices {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum TerritoryCmd {
    /// A territory ("secteur") by postcode or department prefixes.
    Add {
        name: String,
        #[arg(long, value_delimiter = ',')]
        postcodes: Vec<String>,
        #[arg(long = "rep")]
        reps: Vec<String>,
    },
}

#[derive(Subcommand)]
enum LibraryCmd {
    /// Add a document (brochure, price list, presentation), or a new
    /// version of the one with the same title. For everyone unless
    /// territories or teams are given.
    Add {
        file: PathBuf,
        #[arg(long)]
        title: String,
        /// A territory it is for (repeat for several).
        #[arg(long = "territory")]
        territories: Vec<String>,
        /// A manager whose team it is for (repeat for several).
        #[arg(long = "team")]
        teams: Vec<String>,
        /// Largest file accepted, in MB.
        #[arg(long, default_value_t = 500)]
        max_mb: u64,
    },
    /// The library's documents.
    List,
    /// Withdraw a document (by title or id): it leaves every device at
    /// its next download.
    Remove { what: String },
}

#[derive(Subcommand)]
enum ExportCmd {
    /// Orders of a period for accounting, with what an e-invoice needs
    /// (SIREN, addresses, operation category, VAT per rate).
    Orders {
        /// 2026-11, 2026-T4 (or 2026-Q4), 2026.
        #[arg(long)]
        period: String,
        /// csv (one row per order and VAT rate, semicolons) or json.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Write here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImportCmd {
    /// Accounts and contacts from a CSV (as `carnet import accounts`),
    /// checked for duplicates against every file of the tenant.
    Accounts(carnet_core::import::ImportArgs),
}

#[derive(Subcommand)]
enum MailCmd {
    /// Set the mail server (kept in DATA/mail.json, readable by the
    /// server's user only; a running server takes it within 5 seconds).
    Set {
        #[arg(long)]
        host: String,
        #[arg(long, default_value_t = 587)]
        port: u16,
        /// starttls (port 587), tls (port 465) or none (a local relay).
        #[arg(long, default_value = "starttls")]
        security: mailer::Security,
        /// The sender, e.g. "Démo Carnet <devis@demo.example>".
        #[arg(long)]
        from: String,
        #[arg(long)]
        username: Option<String>,
        /// Read the mail server's password from standard input.
        #[arg(long, requires = "username")]
        password_stdin: bool,
        /// Attempts before a message is marked failed for good.
        #[arg(long, default_value_t = 5)]
        max_attempts: i64,
        /// Wait after the first failed attempt (doubles after each).
        #[arg(long, default_value_t = 60)]
        retry_secs: u64,
        /// Messages sent at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// A certificate authority (PEM file) to trust besides the usual
        /// roots, for a relay whose certificate a private CA signed.
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
    /// Print the mail settings (without the password).
    Show,
}

fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let p = line.trim_end_matches(['\n', '\r']).to_string();
    if p.is_empty() {
        bail!("no password on standard input");
    }
    Ok(p)
}

/// Where a running server announces itself to local admin commands.
#[derive(serde::Serialize, serde::Deserialize)]
struct Running {
    addr: SocketAddr,
    admin_token: String,
}

fn running_file(data: &Path) -> PathBuf {
    data.join("server.json")
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CARNET_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carnet-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Init {
            company,
            admin_email,
            admin_password_stdin: _,
        } => {
            let password = read_password()?;
            let t = Tenant::create(&cli.data, &company, &admin_email, None, &password).await?;
            println!("{}", t.info.id);
            Ok(())
        }
        Cmd::User(UserCmd::Add {
            email,
            role,
            manager,
            name,
            password_stdin: _,
        }) => {
            let password = read_password()?;
            admin(
                &cli.data,
                AdminCmd::AddUser {
                    email,
                    role,
                    manager,
                    name,
                    password,
                },
            )
            .await
        }
        Cmd::User(UserCmd::RevokeDevice { email, device }) => {
            admin(&cli.data, AdminCmd::RevokeDevice { email, device }).await
        }
        Cmd::User(UserCmd::Devices { email }) => {
            admin(&cli.data, AdminCmd::Devices { email }).await
        }
        Cmd::Territory(TerritoryCmd::Add {
            name,
            postcodes,
            reps,
        }) => {
            admin(
                &cli.data,
                AdminCmd::AddTerritory {
                    name,
                    postcodes,
                    reps,
                },
            )
            .await
        }
        Cmd::Library(LibraryCmd::Add {
            file,
            title,
            territories,
            teams,
            max_mb,
        }) => {
            let path =
                std::fs::canonicalize(&file).with_context(|| format!("{}", file.display()))?;
            let item = carnet_server::library::NewItem {
                path,
                title,
                territories,
                teams,
                mime: None,
                max_bytes: Some(max_mb.saturating_mul(1024 * 1024)),
            };
            admin(&cli.data, AdminCmd::LibraryAdd(item)).await
        }
        Cmd::Library(LibraryCmd::List) => admin(&cli.data, AdminCmd::LibraryList).await,
        Cmd::Library(LibraryCmd::Remove { what }) => {
            admin(&cli.data, AdminCmd::LibraryRemove { what }).await
        }
        Cmd::Export(ExportCmd::Orders {
            period,
            format,
            output,
        }) => {
            let v = admin_value(&cli.data, AdminCmd::ExportOrders { period, format }).await?;
            let content = v.get("content").and_then(|c| c.as_str()).unwrap_or("");
            match output {
                Some(path) => std::fs::write(&path, content)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(content.as_bytes())?;
                }
            }
            eprintln!(
                "{} order(s)",
                v.get("orders").and_then(|n| n.as_u64()).unwrap_or(0)
            );
            Ok(())
        }
        Cmd::Import(ImportCmd::Accounts(carnet_core::import::ImportArgs {
            file,
            dry_run,
            mapping,
            json,
            verified_on,
        })) => {
            let saved = cli.data.join("import-mapping.json");
            let mut overrides = match std::fs::read(&saved) {
                Ok(b) => serde_json::from_slice(&b).unwrap_or_default(),
                Err(_) => carnet_core::import::Overrides::new(),
            };
            if let Some(m) = &mapping {
                overrides.extend(carnet_core::import::read_mapping(m)?);
            }
            let path = std::fs::canonicalize(&file)
                .with_context(|| format!("opening {}", file.display()))?;
            let v = admin_value(
                &cli.data,
                AdminCmd::ImportAccounts {
                    path,
                    mapping: overrides.clone(),
                    dry_run,
                    verified_on,
                },
            )
            .await?;
            if mapping.is_some() && !dry_run {
                admin::write_private(&saved, &serde_json::to_vec_pretty(&overrides)?)?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let n = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
                println!(
                    "créés : {} · mis à jour : {} · doublons : {} · rejetés : {} · lignes vides : {}",
                    n("created"),
                    n("updated"),
                    n("duplicates"),
                    n("rejected"),
                    n("blank")
                );
                for r in v
                    .get("rows")
                    .and_then(|r| r.as_array())
                    .into_iter()
                    .flatten()
                {
                    println!(
                        "ligne {} : {}",
                        r.get("line").and_then(|l| l.as_u64()).unwrap_or(0),
                        r.get("reason").and_then(|l| l.as_str()).unwrap_or("")
                    );
                }
            }
            Ok(())
        }
        Cmd::Duplicates => admin(&cli.data, AdminCmd::Duplicates).await,
        Cmd::Merge { winner, loser } => admin(&cli.data, AdminCmd::Merge { winner, loser }).await,
        Cmd::Erase { contact } => admin(&cli.data, AdminCmd::Erase { contact }).await,
        Cmd::Compact => admin(&cli.data, AdminCmd::Compact).await,
        Cmd::Backup { output } => {
            let path = match output.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(dir) => {
                    std::fs::canonicalize(dir)?.join(output.file_name().unwrap_or_default())
                }
                None => std::env::current_dir()?.join(&output),
            };
            admin(&cli.data, AdminCmd::Backup { path }).await
        }
        Cmd::Restore { file } => {
            let counts = restore(&cli.data, &file)?;
            println!("{}", serde_json::to_string_pretty(&counts)?);
            Ok(())
        }
        Cmd::Mail(MailCmd::Set {
            host,
            port,
            security,
            from,
            username,
            password_stdin,
            max_attempts,
            retry_secs,
            concurrency,
            ca_file,
        }) => {
            let mut cfg = mailer::MailConfig::new(&host, port, security, &from);
            cfg.max_attempts = max_attempts;
            cfg.retry_secs = retry_secs;
            cfg.concurrency = concurrency;
            if let Some(path) = ca_file {
                let mut pem = String::new();
                std::fs::File::open(&path)
                    .with_context(|| format!("{}", path.display()))?
                    .take(64 * 1024)
                    .read_to_string(&mut pem)
                    .with_context(|| format!("{}", path.display()))?;
                cfg.ca_pem = Some(pem);
            }
            if password_stdin {
                cfg.username = username;
                cfg.password = Some(read_password()?);
            } else if username.is_some() {
                bail!("--username needs --password-stdin");
            }
            std::fs::create_dir_all(&cli.data)?;
            cfg.save(&cli.data)?;
            println!("{}", serde_json::to_string_pretty(&cfg.redacted())?);
            eprintln!("a running server takes it within 5 seconds");
            Ok(())
        }
        Cmd::Mail(MailCmd::Show) => match mailer::MailConfig::load(&cli.data)? {
            Some(cfg) => {
                println!("{}", serde_json::to_string_pretty(&cfg.redacted())?);
                Ok(())
            }
            None => bail!("no mail server set (carnet-server mail set --host ... --from ...)"),
        },
        Cmd::Serve {
            listen,
            doc_cache,
            metrics_listen,
        } => {
            let t = Tenant::open(&cli.data, doc_cache)?;
            serve(&cli.data, t, listen, metrics_listen).await
        }
        Cmd::Demo {
            listen,
            no_serve,
            metrics_listen,
        } => {
            let t = match Tenant::open(&cli.data, 2048) {
                Ok(t) => t,
                Err(tenant::TenantError::NotInitialised) => {
                    let company = "Démo Carnet SARL";
                    Tenant::create(
                        &cli.data,
                        company,
                        demo::ADMIN,
                        Some("Admin Démo"),
                        demo::PASSWORD,
                    )
                    .await?
                }
                Err(e) => return Err(e.into()),
            };
            if demo::load(&t).await? {
                eprintln!(
                    "demo tenant ready: users {}, {} and {} (reps), {} (manager), {} (admin); password {}",
                    demo::REPS[0].0,
                    demo::REPS[1].0,
                    demo::REPS[2].0,
                    demo::MANAGER,
                    demo::ADMIN,
                    demo::PASSWORD
                );
            }
            if no_serve {
                return Ok(());
            }
            serve(&cli.data, t, listen, metrics_listen).await
        }
    }
}

/// Restores into a sibling directory first, renamed to `data` once the
/// whole backup is in: a backup cut short leaves nothing half-restored.
fn restore(data: &Path, file: &Path) -> Result<carnet_core::backup::Counts> {
    if carnet_core::store::SledStore::exists(data) {
        bail!(
            "{} already holds a store: restore into a new directory",
            data.display()
        );
    }
    let name = data
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{}: not a directory name", data.display()))?;
    let staging = data.with_file_name(format!(".{}.restoring", name.to_string_lossy()));
    let _ = std::fs::remove_dir_all(&staging);
    let input = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
    );
    let store = carnet_core::store::SledStore::open(&staging)?;
    match carnet_core::backup::restore(&store, input) {
        Ok(counts) => {
            drop(store);
            if data.exists() {
                // An empty directory (made by hand, say) is replaced.
                std::fs::remove_dir(data)
                    .with_context(|| format!("{} is not empty", data.display()))?;
            }
            std::fs::rename(&staging, data)?;
            Ok(counts)
        }
        Err(e) => {
            drop(store);
            let _ = std::fs::remove_dir_all(&staging);
            Err(e.into())
        }
    }
}

async fn serve(
    data: &Path,
    tenant: Arc<Tenant>,
    listen: SocketAddr,
    metrics_listen: Option<SocketAddr>,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    if let Some(m) = metrics_listen {
        let l = tokio::net::TcpListener::bind(m)
            .await
            .with_context(|| format!("listening on {m}"))?;
        println!("metrics on http://{}/metrics", l.local_addr()?);
        tokio::spawn(http::serve(
            l,
            http::metrics_router(tenant.clone()),
            std::future::pending(),
        ));
    }
    tenant::merge::spawn(tenant.clone());
    if mailer::MailConfig::load(data)?.is_none() {
        eprintln!(
            "no mail server set: messages wait in the outbox until `carnet-server mail set --host ... --from ...` (no restart needed)"
        );
    }
    mailer::spawn(tenant.clone(), data)?;
    let metrics_token = metrics_token(data)?;
    let admin_token = auth::new_token();
    write_running(
        data,
        &Running {
            addr,
            admin_token: admin_token.clone(),
        },
    )?;
    let app = http::router(http::AppState {
        tenant,
        limits: session::Limits::default(),
        admin_token: Arc::new(admin_token),
        metrics_token: Arc::new(metrics_token),
    });
    // Tests and scripts wait for this line.
    println!("listening on http://{addr}");
    println!("web app: open http://{addr}/ in a browser");
    tracing::info!(%addr, "serving");
    let result = http::serve(listener, app, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    let _ = std::fs::remove_file(running_file(data));
    result.context("server")
}

/// The token `/metrics` asks for, made on first use and kept in
/// DATA/metrics-token (readable by the server's user only).
fn metrics_token(data: &Path) -> Result<String> {
    let path = data.join("metrics-token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_string());
        }
    }
    let token = auth::new_token();
    admin::write_private(&path, token.as_bytes())?;
    Ok(token)
}

fn write_running(data: &Path, r: &Running) -> Result<()> {
    Ok(admin::write_private(
        &running_file(data),
        &serde_json::to_vec(r)?,
    )?)
}

/// Runs an admin command: through the running server if one holds the
/// data directory, else directly on it.
async fn admin(data: &Path, cmd: AdminCmd) -> Result<()> {
    let v = admin_value(data, cmd).await?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// What an admin command answers, or its error.
async fn admin_value(data: &Path, cmd: AdminCmd) -> Result<serde_json::Value> {
    let reply = match admin_remote(data, &cmd).await? {
        Some(reply) => reply,
        None => {
            let t = Tenant::open(data, 64)?;
            serde_json::json!({ "ok": t.admin(cmd).await? })
        }
    };
    if let Some(e) = reply.get("error") {
        bail!("{}", e.as_str().unwrap_or("error"));
    }
    Ok(reply.get("ok").cloned().unwrap_or(reply))
}

async fn admin_remote(data: &Path, cmd: &AdminCmd) -> Result<Option<serde_json::Value>> {
    let Ok(bytes) = std::fs::read(running_file(data)) else {
        return Ok(None);
    };
    let Ok(running) = serde_json::from_slice::<Running>(&bytes) else {
        return Ok(None);
    };
    let url = format!("ws://{}/admin", running.addr);
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&url).await else {
        // A stale file from a server that died: use the directory directly.
        return Ok(None);
    };
    ws.send(Message::text(running.admin_token)).await?;
    ws.send(Message::text(serde_json::to_string(cmd)?)).await?;
    while let Some(msg) = ws.next().await {
        if let Message::Text(t) = msg? {
            return Ok(Some(serde_json::from_str(&t)?));
        }
    }
    bail!("the running server closed the admin connection")
}
