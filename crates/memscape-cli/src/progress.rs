//! Progress bars: the library's tasks ([`memscape::progress`]) drawn as indicatif bars on
//! stderr, one per running task, only when stderr is a terminal.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use memscape::progress::{Event, set_hook};

/// Draws every task's progress from now on, when stderr is a terminal.
pub fn install() {
    if !std::io::stderr().is_terminal() {
        return;
    }
    let multi = MultiProgress::new();
    let bars: Mutex<HashMap<u64, ProgressBar>> = Mutex::new(HashMap::new());
    let style =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg} (eta {eta})")
            .expect("a valid template")
            .progress_chars("=> ");
    set_hook(Some(Arc::new(move |event: &Event| {
        let mut bars = bars.lock().unwrap_or_else(|e| e.into_inner());
        match *event {
            Event::Start { id, name, total } => {
                let bar = multi.add(ProgressBar::new(total));
                bar.set_style(style.clone());
                bar.set_message(name.to_string());
                bars.insert(id, bar);
            }
            Event::Advance { id, done } => {
                if let Some(bar) = bars.get(&id) {
                    bar.set_position(done);
                }
            }
            Event::Finish { id } => {
                if let Some(bar) = bars.remove(&id) {
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
            }
        }
    })));
}
