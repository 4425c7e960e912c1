//! Plans grouped by step: while `on(...)` works its hosts in parallel, each host's thread keeps
//! its actions and logs; when all are done they are printed step by step (a step is one call site
//! in the recipe, the n-th time a host reaches it), hosts in inventory order within a step. The
//! same plan then prints the same bytes however the threads ran.

use std::cell::RefCell;

use super::{Action, Level};

/// What a reporter was told while a host's thread captured it.
#[derive(Debug, Clone)]
pub enum Event {
    Action(Box<Action>),
    Log {
        host: String,
        level: Level,
        message: String,
        site: Option<String>,
    },
}

impl Event {
    fn site(&self) -> Option<&str> {
        match self {
            Event::Action(a) => a.site.as_deref(),
            Event::Log { site, .. } => site.as_deref(),
        }
    }
}

thread_local! {
    static CAPTURE: RefCell<Option<Vec<Event>>> = const { RefCell::new(None) };
}

/// Keeps `event` for later when this thread captures; gives it back otherwise.
pub(super) fn keep(event: Event) -> Option<Event> {
    CAPTURE.with(|c| match c.borrow_mut().as_mut() {
        Some(events) => {
            events.push(event);
            None
        }
        None => Some(event),
    })
}

/// Runs `f` with this thread's reports kept, and returns them with its value.
pub fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<Event>) {
    let outer = CAPTURE.with(|c| c.borrow_mut().replace(Vec::new()));
    let value = f();
    let events = CAPTURE.with(|c| std::mem::replace(&mut *c.borrow_mut(), outer));
    (value, events.unwrap_or_default())
}

/// A step: a call site and how many times this host had reached it before.
type Key = (String, usize);

/// Orders the hosts' events step by step. `per_host` is in inventory order. An event without a
/// site (a `print`, a note a primitive adds) belongs to the step before it on its host. A step
/// only some hosts reach comes after the steps the others took before the next shared step.
pub fn merge(per_host: Vec<Vec<Event>>) -> Vec<Event> {
    let hosts = per_host.len();
    // steps[i] = (key, events of each host at that step)
    let mut steps: Vec<(Key, Vec<Vec<Event>>)> = Vec::new();
    for (h, events) in per_host.into_iter().enumerate() {
        let mut cursor = 0; // this host's next step is at or after this index
        let mut pending: Vec<(Key, Vec<Event>)> = Vec::new();
        let place = |steps: &mut Vec<(Key, Vec<Vec<Event>>)>, at: usize, p: &mut Vec<_>| {
            let n = p.len();
            for (i, (key, evs)) in p.drain(..).enumerate() {
                let mut by_host = vec![Vec::new(); hosts];
                by_host[h] = evs;
                steps.insert(at + i, (key, by_host));
            }
            n
        };
        for (key, evs) in steps_of(events) {
            match steps[cursor..].iter().position(|(k, _)| *k == key) {
                Some(j) => {
                    let found = cursor + j + place(&mut steps, cursor + j, &mut pending);
                    steps[found].1[h] = evs;
                    cursor = found + 1;
                }
                None => pending.push((key, evs)),
            }
        }
        let end = steps.len();
        place(&mut steps, end, &mut pending);
    }
    steps
        .into_iter()
        .flat_map(|(_, by_host)| by_host.into_iter().flatten())
        .collect()
}

/// One host's events cut into its steps, in order.
fn steps_of(events: Vec<Event>) -> Vec<(Key, Vec<Event>)> {
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    let mut out: Vec<(Key, Vec<Event>)> = Vec::new();
    for e in events {
        match (e.site(), out.last_mut()) {
            (None, Some((_, evs))) => evs.push(e),
            (site, _) => {
                let site = site.unwrap_or("").to_string();
                let n = seen.entry(site.clone()).or_default();
                out.push(((site, *n), vec![e]));
                *n += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(host: &str, site: &str, what: &str) -> Event {
        let mut a = Action::new(host, "run", what);
        a.site = Some(site.into());
        Event::Action(Box::new(a))
    }

    fn shown(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                Event::Action(a) => format!("{} {}", a.host, a.summary),
                Event::Log { host, message, .. } => format!("{host} {message}"),
            })
            .collect()
    }

    #[test]
    fn steps_in_order_hosts_in_order_within_a_step() {
        let cp = vec![
            act("cp", "a", "1"),
            act("cp", "b", "init"),
            act("cp", "c", "3"),
        ];
        let w = vec![
            act("w", "a", "1"),
            act("w", "j", "join"),
            act("w", "c", "3"),
        ];
        assert_eq!(
            shown(&merge(vec![cp, w])),
            ["cp 1", "w 1", "cp init", "w join", "cp 3", "w 3"]
        );
    }

    #[test]
    fn a_loop_is_one_step_per_turn_and_notes_follow_their_step() {
        let note = |h: &str| Event::Log {
            host: h.into(),
            level: Level::Warn,
            message: "note".into(),
            site: None,
        };
        let h1 = vec![act("h1", "m", "overlay"), note("h1"), act("h1", "m", "br")];
        let h2 = vec![act("h2", "m", "overlay"), act("h2", "m", "br")];
        assert_eq!(
            shown(&merge(vec![h1, h2])),
            ["h1 overlay", "h1 note", "h2 overlay", "h1 br", "h2 br"]
        );
    }

    #[test]
    fn steps_of_one_host_alone_go_before_the_next_shared_step() {
        let a = vec![act("a", "1", "1"), act("a", "x", "x"), act("a", "3", "3")];
        let b = vec![act("b", "1", "1"), act("b", "y", "y"), act("b", "3", "3")];
        let c = vec![act("c", "1", "1"), act("c", "3", "3"), act("c", "z", "z")];
        assert_eq!(
            shown(&merge(vec![a, b, c])),
            ["a 1", "b 1", "c 1", "a x", "b y", "a 3", "b 3", "c 3", "c z"]
        );
    }

    #[test]
    fn a_host_never_sees_its_own_steps_reordered() {
        let h1 = vec![act("h1", "a", "a"), act("h1", "b", "b")];
        let h2 = vec![act("h2", "b", "b"), act("h2", "a", "a")];
        assert_eq!(
            shown(&merge(vec![h1, h2])),
            ["h1 a", "h1 b", "h2 b", "h2 a"]
        );
    }
}
