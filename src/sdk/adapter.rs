//! Driving an adapter process: start it (`sh -c CMD`), write JSON lines to its stdin, read JSON
//! lines from its stdout with a deadline, keep the tail of its stderr for fault reports, and
//! kill it when it misbehaves. Whatever goes wrong here is the adapter's fault, never the SDK's.
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The longest line an adapter may send; longer is garbage.
const MAX_LINE: usize = 4 * 1024 * 1024;
/// Lines of stderr kept for fault reports.
const STDERR_TAIL: usize = 12;

/// How an adapter failed the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Could not be started at all.
    Spawn(String),
    /// Closed its stdout or exited: the exit status and the tail of its stderr.
    Exited { status: String, stderr: String },
    /// Sent nothing within the deadline.
    Hung { seconds: u64 },
    /// Sent a line that is not a valid message: the bytes (shortened) and why.
    Garbage { bytes: String, problem: String },
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Spawn(e) => write!(f, "adapter could not be started: {e}"),
            Fault::Exited { status, stderr } if stderr.is_empty() => {
                write!(f, "adapter exited ({status})")
            }
            Fault::Exited { status, stderr } => {
                write!(f, "adapter exited ({status}); stderr ends: {stderr}")
            }
            Fault::Hung { seconds } => {
                write!(f, "adapter sent nothing for {seconds} s (hung; killed)")
            }
            Fault::Garbage { bytes, problem } => {
                write!(f, "adapter sent garbage: {problem}; bytes: {bytes}")
            }
        }
    }
}

enum Line {
    Text(Vec<u8>),
    TooLong(Vec<u8>),
    Eof,
}

/// A running adapter.
pub struct Adapter {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Text to blank out of everything reported (the secret).
    secret: String,
}

impl Adapter {
    /// Start `command` with a shell, in `dir`.
    pub fn spawn(command: &str, dir: &std::path::Path, secret: &str) -> Result<Adapter, Fault> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(command);
        // Its own process group, so a kill also reaches what a wrapper script started.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Fault::Spawn(format!("sh -c {command:?}: {e}")))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Fault::Spawn("no stdout".into()))?;
        let stderr_pipe = child
            .stderr
            .take()
            .ok_or_else(|| Fault::Spawn("no stderr".into()))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut buf = Vec::new();
                let read = (&mut reader)
                    .take(MAX_LINE as u64 + 1)
                    .read_until(b'\n', &mut buf);
                let line = match read {
                    Ok(0) | Err(_) => Line::Eof,
                    Ok(_) if buf.len() > MAX_LINE => Line::TooLong(buf),
                    Ok(_) => Line::Text(buf),
                };
                let eof = matches!(line, Line::Eof | Line::TooLong(_));
                if tx.send(line).is_err() || eof {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr.clone();
        let verbose = std::env::var_os("CLOUDCONFORM_ADAPTER_STDERR").is_some();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines() {
                let Ok(line) = line else { break };
                if verbose {
                    eprintln!("adapter: {line}");
                }
                let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                if t.len() == STDERR_TAIL {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
        Ok(Adapter {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            secret: secret.to_string(),
        })
    }

    /// Write one message as a line.
    pub fn send(&mut self, message: &serde_json::Value) -> Result<(), Fault> {
        let mut line = message.to_string();
        line.push('\n');
        let written = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(line.as_bytes()).and_then(|_| stdin.flush()),
            None => Err(std::io::Error::other("stdin closed")),
        };
        match written {
            Ok(()) => Ok(()),
            Err(_) => Err(self.exited()),
        }
    }

    /// The next line, as text, within `timeout`. A hang kills the adapter.
    pub fn receive(&mut self, timeout: Duration) -> Result<String, Fault> {
        match self.lines.recv_timeout(timeout) {
            Ok(Line::Text(bytes)) => match String::from_utf8(bytes) {
                Ok(text) => Ok(text.trim_end_matches(['\n', '\r']).to_string()),
                Err(e) => {
                    let bytes = e.into_bytes();
                    Err(self.garbage(&bytes, "not UTF-8"))
                }
            },
            Ok(Line::TooLong(bytes)) => {
                let problem = format!("a line longer than {MAX_LINE} bytes");
                Err(self.garbage(&bytes, &problem))
            }
            Ok(Line::Eof) | Err(RecvTimeoutError::Disconnected) => Err(self.exited()),
            Err(RecvTimeoutError::Timeout) => {
                self.kill();
                Err(Fault::Hung {
                    seconds: timeout.as_secs(),
                })
            }
        }
    }

    /// Report `bytes` as garbage (shortened, secret blanked).
    pub fn garbage(&self, bytes: &[u8], problem: &str) -> Fault {
        let mut shown: String = String::from_utf8_lossy(bytes).chars().take(200).collect();
        if bytes.len() > 200 {
            shown.push('…');
        }
        Fault::Garbage {
            bytes: self.redact(&format!("{shown:?}")),
            problem: self.redact(problem),
        }
    }

    /// The exit status (waiting briefly for it) and the stderr tail.
    fn exited(&mut self) -> Fault {
        let mut status = None;
        for _ in 0..50 {
            if let Ok(Some(s)) = self.child.try_wait() {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = match status {
            Some(s) => s.to_string(),
            None => {
                self.kill();
                "closed its stdout but kept running; killed".to_string()
            }
        };
        // Let the stderr reader catch up with the last lines.
        std::thread::sleep(Duration::from_millis(50));
        let tail = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        let stderr = tail.iter().cloned().collect::<Vec<_>>().join(" | ");
        Fault::Exited {
            status,
            stderr: self.redact(&stderr),
        }
    }

    fn redact(&self, text: &str) -> String {
        if self.secret.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.secret, "***")
        }
    }

    /// Say bye and give the adapter a moment to exit on its own, then kill it.
    pub fn finish(mut self) {
        let _ = self.send(&super::protocol::bye());
        self.stdin = None;
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }

    fn kill(&mut self) {
        // The child leads its own process group (see `spawn`), so this reaches exactly the
        // adapter and what it started.
        #[cfg(unix)]
        if let Some(pid) = i32::try_from(self.child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}
