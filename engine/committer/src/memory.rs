//! An in-memory [`TableCommitter`] for unit tests of code that commits (the ingest pipeline):
//! it keeps the same exactly-once rule as the Iceberg implementation.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::commit::{CommitOutcome, CommitRequest, TableCommitter};
use crate::error::Result;

/// Records commits per table; `committed` lists them in order.
#[derive(Debug, Default)]
pub struct MemoryCommitter {
    commits: Mutex<HashMap<String, Vec<CommitRequest>>>,
}

impl MemoryCommitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The commits made to `table`, oldest first.
    pub fn committed(&self, table: &str) -> Vec<CommitRequest> {
        self.commits
            .lock()
            .expect("not poisoned")
            .get(table)
            .cloned()
            .unwrap_or_default()
    }
}

#[async_trait]
impl TableCommitter for MemoryCommitter {
    async fn commit(&self, table: &str, request: CommitRequest) -> Result<CommitOutcome> {
        let mut commits = self.commits.lock().expect("not poisoned");
        let list = commits.entry(table.to_string()).or_default();
        let committed = list
            .iter()
            .filter(|c| c.writer_id == request.writer_id)
            .map(|c| c.last_seq)
            .max();
        if let Some(committed) = committed
            && committed >= request.last_seq
        {
            return Ok(CommitOutcome::AlreadyCommitted {
                committed_seq: committed,
            });
        }
        list.push(request);
        Ok(CommitOutcome::Committed {
            snapshot_id: list.len() as i64,
            attempts: 1,
        })
    }

    async fn committed_seq(&self, table: &str, writer_id: &str) -> Result<Option<u64>> {
        Ok(self
            .commits
            .lock()
            .expect("not poisoned")
            .get(table)
            .and_then(|list| {
                list.iter()
                    .filter(|c| c.writer_id == writer_id)
                    .map(|c| c.last_seq)
                    .max()
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(first_seq: u64, last_seq: u64) -> CommitRequest {
        CommitRequest {
            writer_id: "w1".into(),
            first_seq,
            last_seq,
            files: vec![],
        }
    }

    #[tokio::test]
    async fn a_range_is_committed_once() {
        let committer = MemoryCommitter::new();
        assert_eq!(committer.committed_seq("logs", "w1").await.unwrap(), None);
        assert!(matches!(
            committer.commit("logs", request(0, 9)).await.unwrap(),
            CommitOutcome::Committed { .. }
        ));
        assert_eq!(
            committer.commit("logs", request(0, 9)).await.unwrap(),
            CommitOutcome::AlreadyCommitted { committed_seq: 9 }
        );
        committer.commit("logs", request(10, 12)).await.unwrap();
        assert_eq!(
            committer.committed_seq("logs", "w1").await.unwrap(),
            Some(12)
        );
        assert_eq!(committer.committed_seq("logs", "w2").await.unwrap(), None);
        assert_eq!(committer.committed("logs").len(), 2);
    }
}
