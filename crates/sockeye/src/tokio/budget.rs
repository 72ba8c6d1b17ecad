//! The memory budget of a [`Server`](crate::tokio::Server): what all its connections hold
//! together ([`ServerConfig::max_memory`](crate::ServerConfig::max_memory)).
//!
//! Each connection reports what it holds whenever that changes (one atomic add, and nothing at
//! all while it stays the same). A report that takes the total over the budget picks the
//! connections holding the most and tells them to close, until what they hold would bring the
//! total back to seven eighths of the budget; connections already told count as freed, so
//! reports that arrive before they have closed pick no one else.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use std::task::Waker;

use futures_util::task::AtomicWaker;

/// The budget shared by a server's connections.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    used: AtomicUsize,
    members: Mutex<HashMap<u64, Arc<Member>>>,
}

/// One connection's share: what its connection holds, plus what waits in its queue.
#[derive(Debug, Default)]
struct Member {
    held: AtomicUsize,
    connection: AtomicUsize,
    queued: AtomicUsize,
    evicted: AtomicBool,
    /// The connection's task, woken when it is evicted.
    waker: AtomicWaker,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: AtomicUsize::new(0),
            members: Mutex::new(HashMap::new()),
        })
    }

    /// Bytes held by all connections together.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Enrols connection `id`; it leaves when the share is dropped.
    pub(crate) fn join(self: &Arc<Self>, id: u64) -> Share {
        let member = Arc::new(Member::default());
        self.members
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, member.clone());
        Share {
            budget: self.clone(),
            member,
            id,
        }
    }

    /// Tells the connections holding the most to close, until the rest fit in 7/8 of the budget.
    /// Among equals the reporter goes first: it is running, so it can let go at once.
    fn evict(&self, reporter: &Arc<Member>) {
        let members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
        let mut candidates = Vec::with_capacity(members.len());
        let mut releasing = 0usize;
        for member in members.values() {
            let held = member.held.load(Ordering::Relaxed);
            if member.evicted.load(Ordering::Relaxed) {
                releasing += held;
            } else if held > 0 {
                candidates.push((held, Arc::ptr_eq(member, reporter), member));
            }
        }
        let used = self.used().saturating_sub(releasing);
        if used <= self.limit {
            return;
        }
        let mut to_free = used - self.limit / 8 * 7;
        candidates.sort_unstable_by_key(|&(held, reporter, _)| std::cmp::Reverse((held, reporter)));
        for (held, _, member) in candidates {
            if to_free == 0 {
                break;
            }
            member.evicted.store(true, Ordering::Release);
            member.waker.wake();
            to_free = to_free.saturating_sub(held);
        }
    }
}

/// A connection's place in the [`Budget`].
#[derive(Debug)]
pub(crate) struct Share {
    budget: Arc<Budget>,
    member: Arc<Member>,
    id: u64,
}

impl Share {
    /// The connection itself ([`Connection::memory_use`](sockeye_proto::Connection::memory_use))
    /// now holds `bytes`.
    pub(crate) fn report_connection(&self, bytes: usize) {
        let queued = self.member.queued.load(Ordering::Relaxed);
        self.member.connection.store(bytes, Ordering::Relaxed);
        self.report(bytes + queued);
    }

    /// The connection's queue now holds `bytes`.
    pub(crate) fn report_queued(&self, bytes: usize) {
        let connection = self.member.connection.load(Ordering::Relaxed);
        self.member.queued.store(bytes, Ordering::Relaxed);
        self.report(connection + bytes);
    }

    /// True once the budget has asked this connection to close.
    pub(crate) fn is_evicted(&self) -> bool {
        self.member.evicted.load(Ordering::Relaxed)
    }

    /// The budget's limit.
    pub(crate) fn limit(&self) -> usize {
        self.budget.limit
    }

    /// Bytes held, as last reported.
    pub(crate) fn held(&self) -> usize {
        self.member.held.load(Ordering::Relaxed)
    }

    /// Bytes held in the queue, as last reported.
    pub(crate) fn queued(&self) -> usize {
        self.member.queued.load(Ordering::Relaxed)
    }

    /// The connection now holds `held` bytes in all.
    fn report(&self, held: usize) {
        let before = self.member.held.swap(held, Ordering::Relaxed);
        if held > before {
            let used = self.budget.used.fetch_add(held - before, Ordering::Relaxed) + held - before;
            if used > self.budget.limit {
                self.budget.evict(&self.member);
            }
        } else if held < before {
            self.budget.used.fetch_sub(before - held, Ordering::Relaxed);
        }
    }

    /// Wakes `waker` when the budget picks this connection: its task then finds out as it
    /// reports ([`WebSocketStream::report_memory`](crate::tokio::WebSocketStream)). Call it
    /// once from the connection's task; nothing is polled per message.
    pub(crate) fn wake_on_eviction(&self, waker: &Waker) {
        self.member.waker.register(waker);
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.report(0);
        self.budget
            .members
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_holders_are_evicted_until_the_rest_fit() {
        let budget = Budget::new(800);
        let shares: Vec<Share> = (0..4).map(|id| budget.join(id)).collect();
        shares[0].report(100);
        shares[1].report(300);
        shares[2].report(50);
        assert_eq!(budget.used(), 450);
        // 450 + 500 = 950 > 800: free 950 - 700 = 250, the largest (3: 500) is enough.
        shares[3].report(500);
        let fired: Vec<bool> = shares.iter().map(Share::is_evicted).collect();
        assert_eq!(fired, [false, false, false, true]);
        // Another report before it has closed picks no one else.
        shares[0].report(150);
        assert!(!shares[1].is_evicted());
        // Closing gives its bytes back.
        drop(shares);
        assert_eq!(budget.used(), 0);
        assert!(budget
            .members
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty());
    }

    #[test]
    fn several_connections_go_when_one_is_not_enough() {
        let budget = Budget::new(1000);
        let shares: Vec<Share> = (0..5).map(|id| budget.join(id)).collect();
        for share in &shares {
            share.report(240);
        }
        // 1200 > 1000: free 1200 - 875 = 325, two of the 240-byte holders.
        let fired = shares.iter().filter(|share| share.is_evicted()).count();
        assert_eq!(fired, 2);
    }
}
