//! Wake-ups between the stages of the pipeline. A stage that committed work rings the
//! next, which would otherwise find it only at its next poll; the polls stay, slower, for
//! what other processes (the CLI, other instances) write to the same database.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// A bell any number of stages listen to; rings are never lost, only merged.
#[derive(Clone, Debug)]
pub struct Wake(Arc<watch::Sender<u64>>);

impl Default for Wake {
    fn default() -> Self {
        Wake(Arc::new(watch::channel(0).0))
    }
}

impl Wake {
    /// Tells every listener that there is work.
    pub fn ring(&self) {
        self.0.send_modify(|rings| *rings = rings.wrapping_add(1));
    }

    /// A listener that hears the rings from now on.
    pub fn listen(&self) -> Listener {
        Listener(self.0.subscribe())
    }
}

/// One stage's ear.
#[derive(Debug)]
pub struct Listener(watch::Receiver<u64>);

impl Listener {
    /// Returns when rung since the last return, or after `poll` at the latest.
    pub async fn wait(&mut self, poll: Duration) {
        let _ = tokio::time::timeout(poll, self.0.changed()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_ring_before_the_wait_is_not_lost_and_silence_waits_for_the_poll() {
        let wake = Wake::default();
        let mut ear = wake.listen();
        wake.ring();
        wake.ring();
        let started = tokio::time::Instant::now();
        ear.wait(Duration::from_secs(5)).await;
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "the rings before the wait count, merged"
        );
        ear.wait(Duration::from_secs(5)).await;
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(5),
            "nothing rang since: the poll"
        );
    }
}
