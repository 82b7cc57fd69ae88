//! The access log writer: one thread per destination. Requests append their finished line to a
//! shared batch buffer (a short lock around a copy; at most `buffer` lines waiting, beyond that
//! the line is dropped and counted) and wake the thread only when the batch was empty. The thread
//! swaps the batch for its spare buffer, writes it with one call, flushes, sleeps [`GATHER`] so
//! that the next lines arrive as a batch, and reopens its file before the next batch after
//! [`Writer::reopen`]. The two buffers go back and forth between the threads and are reused:
//! no allocation per line, and nothing is freed on another thread than it was allocated on.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use gatehouse_config::model::LogDestination;
use gatehouse_metrics::{Collector, Counter, Encoder};

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

/// Lines waiting for the writer thread: newline-terminated text and how many lines it holds.
#[derive(Default)]
struct Batch {
    text: Vec<u8>,
    lines: usize,
}

/// What the requests and the writer thread share.
#[derive(Default)]
struct Shared {
    pending: Mutex<Batch>,
    reopen: AtomicBool,
    /// Set when the last [`Writer`] is dropped: the thread writes what is left and ends.
    closed: AtomicBool,
}

/// The sending side; the thread ends once it is dropped (it is shared through an `Arc`).
pub(crate) struct Writer {
    shared: Arc<Shared>,
    /// The writer thread, to wake it (`None` if it could not be started).
    thread: Option<std::thread::Thread>,
    capacity: usize,
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
        let shared = Arc::new(Shared::default());
        let counters = Arc::new(LogCounters::default());
        let collector: Arc<dyn Collector> = counters.clone();
        registry.register(&collector);
        let thread = Thread {
            shared: shared.clone(),
            destination: destination.clone(),
            counters: counters.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name("gatehouse-access-log".to_owned())
            .spawn(move || thread.run());
        let thread = match spawned {
            Ok(handle) => Some(handle.thread().clone()),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the access log writer");
                None
            }
        };
        Writer {
            shared,
            thread,
            capacity: buffer,
            counters,
            key: (destination.clone(), buffer),
            _collector: collector,
        }
    }

    /// Queues one line (without newline); drops and counts it when `buffer` lines are waiting.
    pub(crate) fn write(&self, line: &[u8]) {
        let was_empty = {
            let Ok(mut batch) = self.shared.pending.lock() else {
                self.counters.dropped.inc();
                return;
            };
            if batch.lines >= self.capacity {
                drop(batch);
                self.counters.dropped.inc();
                return;
            }
            batch.text.extend_from_slice(line);
            batch.text.push(b'\n');
            batch.lines += 1;
            batch.lines == 1
        };
        if was_empty {
            self.wake();
        }
    }

    /// Reopens the file (after logrotate moved it) before the next batch.
    pub(crate) fn reopen(&self) {
        self.shared.reopen.store(true, Ordering::Release);
        self.wake();
    }

    fn wake(&self) {
        if let Some(t) = &self.thread {
            t.unpark();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.wake();
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

    fn write_batch(&mut self, lines: &[u8]) -> std::io::Result<()> {
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
        w.write_all(lines)
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
    shared: Arc<Shared>,
    destination: LogDestination,
    counters: Arc<LogCounters>,
}

impl Thread {
    fn run(self) {
        let mut sink = Sink::open(&self.destination);
        let mut spare = Vec::new();
        loop {
            let lines = match self.shared.pending.lock() {
                Ok(mut batch) => {
                    std::mem::swap(&mut batch.text, &mut spare);
                    std::mem::take(&mut batch.lines)
                }
                Err(_) => return,
            };
            if self.shared.reopen.swap(false, Ordering::AcqRel) {
                sink.reopen();
            }
            if lines == 0 {
                if self.shared.closed.load(Ordering::Acquire) {
                    break;
                }
                // Woken by the first line of the next batch, a reopen or the end.
                std::thread::park();
                continue;
            }
            match sink.write_batch(&spare) {
                Ok(()) => self.counters.written.add(lines as u64),
                Err(_) => self.counters.failed.add(lines as u64),
            }
            spare.clear();
            sink.flush();
            // Let lines gather before taking the next batch: under load the thread then wakes
            // about `GATHER` apart and writes a batch, instead of being woken (and the request
            // thread paying for the wake-up) once per line.
            std::thread::sleep(GATHER);
        }
        sink.flush();
    }
}
