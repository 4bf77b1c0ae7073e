//! Interrupting long work (Ctrl-C from Python): an interrupted task unwinds with `Interrupted`
//! at its next step, and work runs again once the flag is cleared. In a process of its own,
//! because the flag is global: set beside other tests, it would stop their work too.

use memscape::progress::{Interrupted, Task, clear_interrupt, interrupt};

#[test]
fn interrupted_work_unwinds_and_runs_again_once_cleared() {
    let unwound = std::thread::spawn(|| {
        std::panic::catch_unwind(|| {
            let t = Task::start("interrupted", 10);
            t.advance(1);
            interrupt();
            t.advance(1);
            unreachable!("the second step unwinds");
        })
    })
    .join()
    .unwrap();
    clear_interrupt();
    let payload = unwound.expect_err("unwound");
    assert_eq!(payload.downcast_ref::<Interrupted>(), Some(&Interrupted));
    Task::start("after", 1).advance(1);
}
