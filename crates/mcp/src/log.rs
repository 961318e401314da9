//! Writing the call log without delaying or failing a call: records go into a bounded
//! buffer that a background task drains in batches. When the buffer is full the record
//! is dropped and counted, and the loss is logged: never silent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hydracore_mcp_log::{CallLogService, McpCall};
use tokio::sync::mpsc;

/// How many records may wait to be written.
pub const BUFFER: usize = 4096;
/// The most records written in one batch.
const BATCH: usize = 256;

/// The sending side: cheap to clone, never blocks.
#[derive(Clone)]
pub struct CallLogWriter {
    tx: mpsc::Sender<McpCall>,
    dropped: Arc<AtomicU64>,
}

impl CallLogWriter {
    /// A writer and the task that drains it into `log`; spawn the task on the runtime.
    pub fn new(log: CallLogService) -> (Self, impl Future<Output = ()>) {
        let (tx, mut rx) = mpsc::channel::<McpCall>(BUFFER);
        let task = async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                if let Err(e) = log.append(&batch).await {
                    tracing::error!(error = %e, lost = batch.len(), "could not write MCP call log records");
                }
                batch.clear();
            }
        };
        (
            Self {
                tx,
                dropped: Arc::default(),
            },
            task,
        )
    }

    /// Queues a record; when the buffer is full the record is dropped and counted.
    pub fn record(&self, call: McpCall) {
        if self.tx.try_send(call).is_err() {
            let lost = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(
                lost_total = lost,
                "MCP call log buffer full: a record was dropped"
            );
        }
    }

    /// Records dropped since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records waiting to be written.
    pub fn backlog(&self) -> usize {
        BUFFER - self.tx.capacity()
    }
}
