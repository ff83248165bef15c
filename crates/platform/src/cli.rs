//! The command line every binary of the project shares: `--help`, `--version`, and the
//! subcommands a service answers (`serve`, `migrate`, `healthcheck`). Arguments are read before
//! settings, so `--help` works whatever the environment holds.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::Context;
use clap::{FromArgMatches, Subcommand};

/// What a database-backed service does when started.
#[derive(Subcommand, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceCommand {
    /// Apply migrations (under an advisory lock) and serve until SIGTERM or SIGINT (the default).
    Serve,
    /// Apply migrations and exit.
    Migrate,
    /// Exit 0 when this service, as configured, answers 200 on /ready (container healthchecks).
    Healthcheck,
}

/// Parses `args` (without the program name) as `name [COMMAND]`; `--help`, `--version` and
/// errors print and exit here, as command-line tools do. `None`: no subcommand given.
pub fn parse<C: Subcommand + FromArgMatches>(
    name: &'static str,
    version: &'static str,
    about: &'static str,
    args: impl IntoIterator<Item = OsString>,
) -> Option<C> {
    // The enum's own doc would become the about text: the service's is set after it.
    let command = C::augment_subcommands(clap::Command::new(name))
        .version(version)
        .about(about)
        .subcommand_required(false);
    let matches = command
        .try_get_matches_from(std::iter::once(OsString::from(name)).chain(args))
        .unwrap_or_else(|e| e.exit());
    matches.subcommand_name()?;
    Some(C::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()))
}

/// `GET path` on `host:port` (a wildcard host means this machine), answered 200 within two
/// seconds: the probe of `healthcheck`, with no HTTP client, curl or shell in the image.
pub fn probe(host: &str, port: u16, path: &str) -> anyhow::Result<()> {
    let host = match host {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" | "[::]" => "::1",
        h => h,
    };
    let timeout = Duration::from_secs(2);
    let addr = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    stream
        .read_exact(&mut head)
        .with_context(|| format!("reading the answer of {addr}{path}"))?;
    anyhow::ensure!(
        head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"),
        "{addr}{path} answered {}",
        String::from_utf8_lossy(&head)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_subcommand_is_none_and_subcommands_parse() {
        let parsed = |args: &[&str]| {
            parse::<ServiceCommand>("svc", "1.0", "a service", args.iter().map(OsString::from))
        };
        assert_eq!(parsed(&[]), None);
        assert_eq!(parsed(&["serve"]), Some(ServiceCommand::Serve));
        assert_eq!(parsed(&["migrate"]), Some(ServiceCommand::Migrate));
        assert_eq!(parsed(&["healthcheck"]), Some(ServiceCommand::Healthcheck));
    }

    #[test]
    fn probe_refuses_a_closed_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        assert!(probe("0.0.0.0", port, "/ready").is_err());
    }
}
