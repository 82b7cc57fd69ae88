//! The access log writer: one thread per destination, fed through a bounded channel. Requests
//! only `try_send` a finished line (full = dropped and counted); the thread writes what is
//! queued, flushes when the channel is empty, sleeps [`GATHER`] so that the next lines arrive as
//! a batch, and reopens its file before the next line after [`Writer::reopen`].

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gatehouse_config::model::LogDestination;
use gatehouse_metrics::{Collector, Counter, Encoder};
use tokio::sync::mpsc;

/// Counters of the writer, exposed on `/metrics`.
#[derive(Default)]
pub(crate) struct LogCounters {
    written: Counter,
    dropped: Counter,
    failed: Counter,
}

impl Collector for LogCounters {
    fn collect(&self, out: &mut Encoder) {
        let help = "Access log lines written";
        out.counter("gatehouse_access_log_lines", help, &[], self.written.get());
        let help = "Access log lines dropped because the writer's buffer was full";
        out.counter(
            "gatehouse_access_log_dropped",
            help,
            &[],
            self.dropped.get(),
        );
        let help = "Access log lines lost to write errors";
        out.counter("gatehouse_access_log_errors", help, &[], self.failed.get());
    }
}

/// The sending side; the thread ends once every clone is dropped.
pub(crate) struct Writer {
    tx: mpsc::Sender<Option<String>>,
    reopen: Arc<AtomicBool>,
    counters: Arc<LogCounters>,
    /// Destination and buffer size, for reuse across reloads.
    pub(crate) key: (LogDestination, usize),
    _collector: Arc<dyn Collector>,
}

impl Writer {
    /// Starts the writer thread.
    pub(crate) fn start(
        destination: &LogDestination,
        buffer: usize,
        registry: &gatehouse_metrics::Registry,
    ) -> Writer {
        let (tx, rx) = mpsc::channel(buffer);
        let reopen = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(LogCounters::default());
        let collector: Arc<dyn Collector> = counters.clone();
        registry.register(&collector);
        let thread = Thread {
            rx,
            destination: destination.clone(),
            reopen: reopen.clone(),
            counters: counters.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name("gatehouse-access-log".to_owned())
            .spawn(move || thread.run());
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the access log writer");
        }
        Writer {
            tx,
            reopen,
            counters,
            key: (destination.clone(), buffer),
            _collector: collector,
        }
    }

    /// Queues one line (without newline); drops and counts it when the buffer is full.
    pub(crate) fn write(&self, line: String) {
        if self.tx.try_send(Some(line)).is_err() {
            self.counters.dropped.inc();
        }
    }

    /// Reopens the file (after logrotate moved it) before the next line.
    pub(crate) fn reopen(&self) {
        self.reopen.store(true, Ordering::Release);
        let _ = self.tx.try_send(None);
    }
}

enum Sink {
    Stdout(std::io::Stdout),
    Stderr(std::io::Stderr),
    File(PathBuf, Option<BufWriter<File>>),
}

impl Sink {
    fn open(destination: &LogDestination) -> Sink {
        match destination {
            LogDestination::Stdout => Sink::Stdout(std::io::stdout()),
            LogDestination::Stderr => Sink::Stderr(std::io::stderr()),
            LogDestination::File(path) => {
                let file = open(path);
                Sink::File(path.clone(), file)
            }
        }
    }

    fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        let w: &mut dyn Write = match self {
            Sink::Stdout(s) => s,
            Sink::Stderr(s) => s,
            Sink::File(_, Some(f)) => f,
            Sink::File(path, None) => {
                return Err(std::io::Error::other(format!(
                    "{} is not open",
                    path.display()
                )));
            }
        };
        w.write_all(line.as_bytes())?;
        w.write_all(b"\n")
    }

    fn flush(&mut self) {
        let _ = match self {
            Sink::Stdout(s) => s.flush(),
            Sink::Stderr(s) => s.flush(),
            Sink::File(_, Some(f)) => f.flush(),
            Sink::File(_, None) => Ok(()),
        };
    }

    fn reopen(&mut self) {
        self.flush();
        if let Sink::File(path, file) = self {
            *file = open(path);
        }
    }
}

fn open(path: &PathBuf) -> Option<BufWriter<File>> {
    match OpenOptions::new().create(true).append(true).open(path) {
        Ok(f) => Some(BufWriter::with_capacity(64 * 1024, f)),
        Err(e) => {
            tracing::error!(file = %path.display(), error = %e, "cannot open the access log");
            None
        }
    }
}

/// How long the writer thread sleeps after writing a batch before it looks for the next lines
/// (the longest a line waits in the buffer, besides the write itself).
const GATHER: std::time::Duration = std::time::Duration::from_millis(20);

struct Thread {
    rx: mpsc::Receiver<Option<String>>,
    destination: LogDestination,
    reopen: Arc<AtomicBool>,
    counters: Arc<LogCounters>,
}

impl Thread {
    fn run(mut self) {
        let mut sink = Sink::open(&self.destination);
        while let Some(first) = self.rx.blocking_recv() {
            let mut next = Some(first);
            while let Some(message) = next {
                if self.reopen.swap(false, Ordering::AcqRel) {
                    sink.reopen();
                }
                if let Some(line) = message {
                    match sink.write_line(&line) {
                        Ok(()) => self.counters.written.inc(),
                        Err(_) => self.counters.failed.inc(),
                    }
                }
                next = self.rx.try_recv().ok();
            }
            sink.flush();
            // Let lines gather before waiting again: under load the thread then wakes about
            // `GATHER` apart and writes a batch, instead of being woken (and the request thread
            // paying for the wake-up) once per line.
            std::thread::sleep(GATHER);
        }
        sink.flush();
    }
}
