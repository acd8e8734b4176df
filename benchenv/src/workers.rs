//! `--workers N`: N server processes on one port (SO_REUSEPORT), so
//! `unique_pids` means what it means with uvicorn workers. The supervisor
//! replaces a worker that dies, as uvicorn's does, and stops them all on
//! shutdown; a worker dies with its supervisor (PR_SET_PDEATHSIG).

use std::future::Future;
use std::io;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The line a worker prints on stdout once it listens.
pub const READY_LINE: &str = "envload-benchenv-worker-ready";

/// The running worker processes.
#[derive(Debug)]
pub struct WorkerSet {
    exe: std::path::PathBuf,
    args: Vec<String>,
    children: Vec<Child>,
}

impl WorkerSet {
    /// Starts `n` workers (`exe args…`) and waits until each has printed
    /// [`READY_LINE`].
    pub async fn start(exe: &Path, args: Vec<String>, n: usize) -> io::Result<Self> {
        let mut set = WorkerSet {
            exe: exe.to_path_buf(),
            args,
            children: Vec::with_capacity(n),
        };
        for _ in 0..n {
            let child = set.spawn_one().await?;
            set.children.push(child);
        }
        Ok(set)
    }

    /// Process ids of the workers.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().filter_map(Child::id).collect()
    }

    async fn spawn_one(&self) -> io::Result<Child> {
        let mut cmd = Command::new(&self.exe);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe and touches only this process.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await? {
                if line.trim() == READY_LINE {
                    return Ok(true);
                }
            }
            Ok::<_, io::Error>(false)
        })
        .await;
        match ready {
            Ok(Ok(true)) => Ok(child),
            Ok(Ok(false)) => Err(io::Error::other(format!(
                "benchmark worker {} exited before it was ready (see its stderr above)",
                self.exe.display()
            ))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::other("benchmark worker not ready within 20 s")),
        }
    }

    /// Keeps the workers running until `shutdown`, replacing any that exit,
    /// then stops them all.
    pub async fn supervise(mut self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
            for i in 0..self.children.len() {
                if let Some(status) = self.children[i].try_wait()? {
                    eprintln!("envload serve: worker exited ({status}); starting a replacement");
                    self.children[i] = self.spawn_one().await?;
                }
            }
        }
        for child in &mut self.children {
            if let Some(pid) = child.id() {
                // SAFETY: signalling our own child by pid.
                unsafe { libc::kill(pid as i32, libc::SIGTERM) };
            }
        }
        for child in &mut self.children {
            if tokio::time::timeout(Duration::from_secs(5), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
        Ok(())
    }
}
