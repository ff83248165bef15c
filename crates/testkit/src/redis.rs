//! A throwaway `redis-server` per call, on a free loopback port, without persistence. Killed on
//! drop (and with the test process, through PR_SET_PDEATHSIG). `REDIS_SERVER` names the binary
//! when it is not on PATH.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    pub async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        let mut child = crate::pg::spawn_tied_to_process(cmd, libc::SIGKILL)
            .map_err(|e| anyhow::anyhow!("starting {bin} (apt-get install redis-server): {e:#}"))?;
        let log = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("redis-server has no stdout"))?;
        let mut server = Self { child, port };
        if let Err(e) = wait_ready(log).await {
            server.kill();
            return Err(e);
        }
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server now (a test of Redis going away).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until the server logs that it accepts connections (then drains its log, so it never
/// blocks on a full pipe).
async fn wait_ready(log: std::process::ChildStdout) -> anyhow::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(log).lines().map_while(Result::ok) {
            if line.contains("Ready to accept connections")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
        }
    });
    match tokio::time::timeout(Duration::from_secs(10), rx).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => anyhow::bail!("redis-server exited before it was ready"),
        Err(_) => anyhow::bail!("redis-server was not ready within 10 s"),
    }
}
