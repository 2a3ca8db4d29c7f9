//! `cloudconform emulate`: serve the emulator until Ctrl-C (or SIGTERM).
use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use cloudconform::deviate;
use cloudconform::emulator::world::REDACTED;
use cloudconform::emulator::{AccountRole, Emulator, EmulatorConfig, TlsFiles, World};
use cloudconform::spec::SpecSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(ClapArgs)]
pub struct Args {
    /// Address to listen on, `HOST:PORT` (`localhost:18765`, `0.0.0.0:18765`; port 0 picks a
    /// free one).
    #[arg(long, env = "CLOUDCONFORM_ADDR", default_value = "127.0.0.1:18765", value_parser = parse_addr)]
    pub addr: SocketAddr,
    /// World file: loaded on start if it exists, saved after every change and on shutdown.
    #[arg(long, env = "CLOUDCONFORM_STATE")]
    pub state: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (tccli without an http:// endpoint).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Spec directory (default: $CLOUDCONFORM_SPECS, ./specs, or the crate's specs/).
    #[arg(long)]
    pub specs: Option<PathBuf>,
    /// Do not enforce the documented rate limits.
    #[arg(long)]
    pub no_rate_limits: bool,
    /// Fixed "now" (Unix seconds) for signature skew checks, e.g. to replay captures.
    #[arg(long)]
    pub now: Option<i64>,
    /// Accept any signature by a known access key (the key, timestamp and nonce are still checked).
    #[arg(long)]
    pub no_verify_signatures: bool,
    /// Print the world the emulator would start with (the --state file if it exists, else the
    /// default world) as JSON on stdout and exit. Secrets other than the example ones are redacted.
    #[arg(long)]
    pub print_world: bool,
    /// Serve these deviations from the specs (comma-separated ids from --list-deviations), to
    /// see how a client copes with a misbehaving service.
    #[arg(long, value_delimiter = ',')]
    pub deviate: Vec<String>,
    /// List every deviation the specs give (id, rule it breaks, description) on stdout and exit.
    #[arg(long)]
    pub list_deviations: bool,
}

/// `HOST:PORT` with a host name or an address; a name resolving to both prefers IPv4 (what
/// SDK examples use for `localhost`).
fn parse_addr(value: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<SocketAddr> = value
        .to_socket_addrs()
        .map_err(|e| format!("`{value}` is not HOST:PORT ({e}); e.g. 127.0.0.1:18765"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("`{value}` resolves to no address; e.g. 127.0.0.1:18765"))
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.print_world {
        return print_world(args.state.as_ref());
    }
    if let Some(state) = &args.state {
        let parent = state
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if !parent.is_dir() {
            anyhow::bail!(
                "--state {}: the directory {} does not exist; create it or choose another file",
                state.display(),
                parent.display()
            );
        }
    }
    let dir = args.specs.clone().unwrap_or_else(SpecSet::default_dir);
    let specs =
        SpecSet::load(&dir).with_context(|| format!("loading specs from {}", dir.display()))?;
    if args.list_deviations {
        let mut out = String::new();
        for d in deviate::catalogue(&specs) {
            let _ = writeln!(out, "{}\t{}\t{}", d.id, d.rule, d.description);
        }
        print!("{out}");
        return Ok(ExitCode::from(super::exit::OK));
    }
    let deviations = deviate::select(&specs, &args.deviate)?;
    for d in &deviations {
        eprintln!("deviating: {} ({})", d.id, d.description);
    }
    let mut config = EmulatorConfig {
        addr: args.addr,
        specs: Some(Arc::new(specs)),
        state_file: args.state.clone(),
        rate_limits: !args.no_rate_limits,
        now: args.now,
        deviations,
        ..EmulatorConfig::default()
    };
    config.auth.verify_signatures = !args.no_verify_signatures;
    if let (Some(cert), Some(key)) = (args.tls_cert.clone(), args.tls_key.clone()) {
        config.tls = Some(TlsFiles { cert, key });
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let addr = config.addr;
        let handle = Emulator::start(config).await.with_context(|| {
            format!("starting the emulator on {addr} (another --addr, or port 0 for a free one)")
        })?;
        out!(
            "{}",
            banner(&handle.url(), &handle.world(), args.state.as_ref())
        );
        wait_for_stop().await;
        outln!("stopping");
        handle.shutdown().await?;
        Ok(ExitCode::from(super::exit::OK))
    })
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// How many objects of each kind the banner lists per service before summarising (the named
/// fixtures come first in the default world; the generated bulk follows).
const BANNER_ITEMS: usize = 6;

fn banner(url: &str, world: &World, state: Option<&PathBuf>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "cloudconform emulator listening on {url}");
    let _ = writeln!(
        out,
        "  control API: {url}/_cloudconform/health (reset, world, clock, config)"
    );
    if let Some(path) = state {
        let _ = writeln!(out, "  state file: {}", path.display());
    }
    let _ = writeln!(out, "credentials:");
    for a in &world.accounts {
        let role = match (a.role, &a.token) {
            (AccountRole::Root, None) => "root".to_string(),
            (AccountRole::DeniedSubuser, _) => "denied sub-user".to_string(),
            // The example token is documented like the example secrets; a world file's own
            // is not printed.
            (AccountRole::Root, Some(t)) if World::is_example_account(a) => {
                format!("root, temporary (token {t})")
            }
            (AccountRole::Root, Some(_)) => "root, temporary".to_string(),
        };
        // Only the documented example secrets are printed; a world file's own are not.
        let secret = if World::is_example_account(a) {
            a.secret.as_str()
        } else {
            REDACTED
        };
        let _ = writeln!(
            out,
            "  {:<8} {:<18} {:<16} {role}",
            a.provider, a.access_key_id, secret
        );
    }
    for (service, svc) in &world.services {
        let _ = writeln!(
            out,
            "{service}: {} instance(s), {} image(s), {} key pair(s)",
            svc.instances.len(),
            svc.images.len(),
            svc.key_pairs.len()
        );
        for i in svc.instances.iter().take(BANNER_ITEMS) {
            let keys = if i.keys.is_empty() {
                "-".to_string()
            } else {
                i.keys.join(",")
            };
            let _ = writeln!(
                out,
                "  instance {:<28} {:<8} {:<8} {:<13} keys {keys}",
                i.id, i.os, i.state, i.region
            );
        }
        more(&mut out, "instance", svc.instances.len());
        for img in svc.images.iter().take(BANNER_ITEMS) {
            let _ = writeln!(out, "  image    {:<28} keys {}", img.id, img.keys.join(","));
        }
        more(&mut out, "image", svc.images.len());
        for k in svc.key_pairs.iter().take(BANNER_ITEMS) {
            let _ = writeln!(out, "  key pair {:<28} {:<20} {}", k.id, k.name, k.region);
        }
        more(&mut out, "key pair", svc.key_pairs.len());
    }
    out
}

fn more(out: &mut String, kind: &str, total: usize) {
    if total > BANNER_ITEMS {
        let _ = writeln!(
            out,
            "  ... and {} more {kind}(s) (cloudconform emulate --print-world lists them all)",
            total - BANNER_ITEMS
        );
    }
}

/// The world the emulator would start with: the state file if it exists, else the default.
/// Secrets other than the documented example ones are redacted.
fn print_world(state: Option<&PathBuf>) -> Result<ExitCode> {
    let world = match state.filter(|p| p.exists()) {
        Some(path) => World::load(path).with_context(|| {
            format!(
                "reading the state file {}; fix or remove it to start from the default world",
                path.display()
            )
        })?,
        None => World::default(),
    };
    let mut shown = world.clone();
    for a in &mut shown.accounts {
        if !World::is_example_account(a) {
            a.secret = REDACTED.into();
            if a.token.is_some() {
                a.token = Some(REDACTED.into());
            }
        }
    }
    // A reader that stops early (`| head`) is not an error.
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{}", shown.to_json_pretty()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("writing the world to stdout")
        }
        _ => Ok(ExitCode::from(super::exit::OK)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudconform::emulator::Account;
    use cloudconform::spec::Provider;

    #[test]
    fn banner_prints_only_example_secrets() {
        let mut world = World::default();
        world.accounts.push(Account {
            provider: Provider::Alibaba,
            access_key_id: "LTAIMINE".into(),
            secret: "my-own-secret-value".into(),
            token: None,
            role: AccountRole::Root,
        });
        let text = banner("http://127.0.0.1:1", &world, None);
        assert!(text.contains("SECRETEXAMPLE"), "{text}");
        assert!(text.contains("LTAIMINE"), "{text}");
        assert!(!text.contains("my-own-secret-value"), "{text}");
        assert!(text.contains("... and"), "{text}");
    }
}
