//! Progress of long work, for progress bars: the library opens a [`Task`] with a name and a
//! total, advances it, and drops it when done; each step is sent to the hook the caller set
//! with [`set_hook`] (the command line draws indicatif bars on a terminal, a Python caller
//! could feed tqdm). With no hook nothing is sent. The tasks in progress can also be read at
//! any time ([`snapshot`]; a sweep writes them into its store). Progress never changes a
//! result.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// What a hook is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// Task `id` starts: `total` units of `name` (0: unknown).
    Start { id: u64, name: &'a str, total: u64 },
    /// Task `id` has done `done` units.
    Advance { id: u64, done: u64 },
    /// Task `id` ended (finished or abandoned).
    Finish { id: u64 },
}

type Hook = Arc<dyn Fn(&Event) + Send + Sync>;

static HOOK: RwLock<Option<Hook>> = RwLock::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(0);
/// The tasks in progress: id → (name, done, total).
static RUNNING: Mutex<BTreeMap<u64, (String, u64, u64)>> = Mutex::new(BTreeMap::new());

/// Sends every task's progress to `hook` from now on (`None`: to nobody).
pub fn set_hook(hook: Option<Hook>) {
    *HOOK.write().unwrap_or_else(|e| e.into_inner()) = hook;
}

fn send(event: &Event) {
    {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        match *event {
            Event::Start { id, name, total } => {
                running.insert(id, (name.to_string(), 0, total));
            }
            Event::Advance { id, done } => {
                if let Some(t) = running.get_mut(&id) {
                    t.1 = done;
                }
            }
            Event::Finish { id } => {
                running.remove(&id);
            }
        }
    }
    if let Some(hook) = HOOK.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        hook(event);
    }
}

/// The tasks in progress, oldest first, as "name done/total" joined by "; ".
pub fn snapshot() -> String {
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .map(|(name, done, total)| format!("{name} {done}/{total}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A unit of long work in progress; it reports its end when dropped.
#[derive(Debug)]
pub struct Task {
    id: u64,
    done: AtomicU64,
}

impl Task {
    /// Starts a task of `total` units.
    pub fn start(name: &str, total: u64) -> Task {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        send(&Event::Start { id, name, total });
        Task {
            id,
            done: AtomicU64::new(0),
        }
    }

    /// `n` more units done (from any thread).
    pub fn advance(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        send(&Event::Advance { id: self.id, done });
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        send(&Event::Finish { id: self.id });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_task_reports_start_advances_and_finish_to_the_hook() {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        set_hook(Some(Arc::new(move |e: &Event| {
            log.lock().unwrap().push(match e {
                Event::Start { name, total, .. } => format!("start {name} {total}"),
                Event::Advance { done, .. } => format!("done {done}"),
                Event::Finish { .. } => "finish".into(),
            })
        })));
        {
            let t = Task::start("unit test", 3);
            t.advance(1);
            assert!(snapshot().contains("unit test 1/3"), "{}", snapshot());
            t.advance(2);
        }
        set_hook(None);
        assert!(
            !snapshot().contains("unit test"),
            "a finished task leaves the snapshot"
        );
        let seen = seen.lock().unwrap();
        // other tests of this binary may run tasks at the same time: look at ours only
        let start = seen.iter().position(|s| s == "start unit test 3").unwrap();
        let ours: Vec<&String> = seen[start..].iter().take(4).collect();
        assert_eq!(ours, ["start unit test 3", "done 1", "done 3", "finish"]);
    }
}
