//! Progress of long work, for progress bars: the library opens a [`Task`] with a name and a
//! total, advances it, and drops it when done; each step is sent to the hook the caller set
//! with [`set_hook`] (the command line draws indicatif bars on a terminal, a Python caller
//! could feed tqdm). With no hook nothing is sent. The tasks in progress can also be read at
//! any time ([`snapshot`]; a sweep writes them into its store). Progress never changes a
//! result.
//!
//! Long work can also be interrupted: after [`interrupt`], the next progress step or denoiser
//! probe ([`check_interrupt`]) unwinds with the payload [`Interrupted`], which the caller that
//! interrupted catches (`std::panic::catch_unwind`, or a thread's join). The Python package
//! turns Ctrl-C into it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// Sends every task's progress to `hook` from now on (`None`: to nobody). A hook may call
/// this itself: it is called without the lock held.
pub fn set_hook(hook: Option<Hook>) {
    *HOOK.write().unwrap_or_else(|e| e.into_inner()) = hook;
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The payload long work unwinds with after [`interrupt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

/// Asks all long work in this process to stop at its next progress step or denoiser probe.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Whether [`interrupt`] was called (and not cleared since): for loops that must stop in
/// order rather than unwind.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Lets long work run again after [`interrupt`].
pub fn clear_interrupt() {
    INTERRUPTED.store(false, Ordering::SeqCst);
}

/// Unwinds with [`Interrupted`] when [`interrupt`] was called (without the panic hook's
/// message: `resume_unwind`). Called at every progress step and denoiser probe.
pub fn check_interrupt() {
    if INTERRUPTED.load(Ordering::Relaxed) {
        std::panic::resume_unwind(Box::new(Interrupted));
    }
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
    // the hook is called without the lock held, so that it may set another hook
    let hook = HOOK.read().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(hook) = hook {
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

    /// `n` more units done (from any thread); unwinds here when the work was interrupted.
    pub fn advance(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        send(&Event::Advance { id: self.id, done });
        check_interrupt();
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

    /// A hook that replaces itself does not deadlock. (Interrupting is tested in
    /// `tests/interrupt.rs`, a process of its own: the flag is global, and would stop any
    /// test running beside it.)
    #[test]
    fn a_hook_may_set_the_hook() {
        set_hook(Some(Arc::new(|_: &Event| set_hook(None))));
        drop(Task::start("replaces its hook", 1));
        assert!(HOOK.read().unwrap().is_none());
    }

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
