//! The one ordered parallel map of the host: rollouts of a step, requests to an
//! LLM server. Work is handed out item by item to at most `threads` scoped
//! threads; results come back in input order, whatever order they finish in,
//! which is what keeps a run a function of its seed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// `f(i, &items[i])` for every item on up to `threads` threads; results in
/// input order. The caller's tracing span is the parent of the work.
pub fn map_ordered<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    // Worker threads do not inherit the caller's span: enter it in each.
    let parent = tracing::Span::current();
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                let _entered = parent.enter();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(i, item);
                    results.lock().expect("no worker panics while holding the lock")[i] = Some(r);
                }
            });
        }
    });
    results.into_inner().expect("workers finished").into_iter().map(|r| r.expect("every item ran")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_input_order_whatever_finishes_first() {
        let items: Vec<u64> = (0..40).collect();
        // Early items sleep longest, so they finish last.
        let out = map_ordered(&items, 4, |i, &x| {
            std::thread::sleep(std::time::Duration::from_millis(40 - x));
            (i, x * x)
        });
        assert_eq!(out, items.iter().map(|&x| (x as usize, x * x)).collect::<Vec<_>>());
        assert!(map_ordered(&[] as &[u8], 4, |_, _| 0).is_empty());
    }
}
