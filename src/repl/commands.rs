//! Carrying out meta-commands on the session: help, mode, current host, hosts, facts, the
//! actions recorded so far, and saving a recipe. (`:run` lives in `recipe_run.rs`.)

use std::path::Path;

use super::help::Docs;
use super::meta::{self, Meta};
use super::save::{self, Kept};
use super::session::{Flow, Selection, Session};
use super::{interrupt, render};
use crate::mode::Mode;
use crate::primitives::command::display;
use crate::primitives::system::resolve_hosts;
use crate::report::{redact::redact, Action, Counts, Status};

impl Session {
    pub(super) fn meta(&mut self, line: &str) -> Flow {
        let cmd = match meta::parse(line) {
            Ok(c) => c,
            Err(e) => {
                crate::report::stdout::err_line(&format!("error: {e}"));
                return Flow::Continue(2);
            }
        };
        let result = match cmd {
            Meta::Quit => return Flow::Quit,
            Meta::Help(name) => self.help(name.as_deref()),
            Meta::Mode(mode, facts) => self.switch_mode(mode, facts),
            Meta::Host(name) => self.select(&name),
            Meta::Hosts => {
                self.hosts();
                Ok(())
            }
            Meta::Facts => self.facts(),
            Meta::Plan => {
                self.plan();
                Ok(())
            }
            Meta::Save { path, overwrite } => self.save(&path, overwrite),
            Meta::Run(recipe, sets) => return Flow::Continue(self.run_recipe(&recipe, sets)),
        };
        match result {
            Ok(()) => Flow::Continue(0),
            Err(e) => {
                crate::report::stdout::err_line(&format!("error: {}", redact(&e)));
                Flow::Continue(2)
            }
        }
    }

    fn help(&self, name: Option<&str>) -> Result<(), String> {
        let docs = Docs::collect(&self.engine, &self.fns);
        match name {
            None => crate::report::stdout::line(&docs.overview()),
            Some(n) => crate::report::stdout::line(
                &docs
                    .about(n)
                    .ok_or_else(|| format!("no function, module or meta-command named `{n}`"))?,
            ),
        }
        Ok(())
    }

    fn switch_mode(&mut self, mode: Mode, facts: Option<String>) -> Result<(), String> {
        self.set_mode(mode, facts)?;
        let note = match mode {
            Mode::Apply => "statements change hosts",
            Mode::Check => "probing real hosts read-only; changes are recorded, not made",
            Mode::Plan => "no host contacted; facts from a profile or file",
        };
        crate::report::stdout::line(&format!("mode {}: {note}", mode.as_str()));
        Ok(())
    }

    /// `:host NAME|GROUP`: a host, or a group (statements then run once per member).
    fn select(&mut self, name: &str) -> Result<(), String> {
        let members = resolve_hosts(&self.run, name)?;
        self.selection = match members.as_slice() {
            [] => return Err(format!("`{name}` has no hosts in this session")),
            [one] if one == name => Selection::Host(one.clone()),
            _ => Selection::Group(name.to_string(), members.clone()),
        };
        self.kept.push(Kept::Note(format!(":host {name}")));
        crate::report::stdout::line(&format!("current host: {name} ({})", members.join(", ")));
        Ok(())
    }

    fn hosts(&self) {
        let current: Vec<String> = self
            .targets()
            .iter()
            .map(|t| t.name().to_string())
            .collect();
        let mut out = String::from("hosts:\n");
        for name in &self.run.order {
            let Some(t) = self.run.target(name) else {
                continue;
            };
            let mark = if current.contains(name) { '*' } else { ' ' };
            let e = &t.entry;
            let addr = e.address.clone().unwrap_or_else(|| "this machine".into());
            let groups = if e.groups.is_empty() {
                String::new()
            } else {
                format!("  groups: {}", e.groups.join(", "))
            };
            out.push_str(&format!("{mark} {name}  {addr}{groups}\n"));
        }
        if !self.run.groups.is_empty() {
            out.push_str("groups:\n");
            for (g, members) in &self.run.groups {
                out.push_str(&format!("  {g}: {}\n", members.join(", ")));
            }
        }
        crate::report::stdout::line(out.trim_end());
    }

    fn facts(&self) -> Result<(), String> {
        let targets = self.targets();
        let several = targets.len() > 1;
        for t in targets {
            let (facts, _) = interrupt::evaluating(|| t.facts());
            let facts = facts.map_err(|e| format!("facts on {}: {e}", t.name()))?;
            let value = rhai::serde::to_dynamic(&facts).map_err(|e| e.to_string())?;
            let text = render::pretty(&value, 0);
            if several {
                crate::report::stdout::line(&format!("{}:\n{text}", t.name()));
            } else {
                crate::report::stdout::line(&text);
            }
        }
        Ok(())
    }

    /// `:plan`: every action recorded so far, by mode, with the commands run or to run.
    fn plan(&self) {
        let actions = self.reporter.actions();
        if actions.is_empty() {
            crate::report::stdout::line("no actions recorded yet");
            return;
        }
        let mut counts = Counts::default();
        for (i, a) in actions.iter().enumerate() {
            if let Some((_, mode)) = self.segments.iter().rev().find(|(at, _)| *at == i) {
                crate::report::stdout::line(&format!("-- {} --", mode.as_str()));
            }
            crate::report::stdout::line(&redact(&action_line(a)));
            count(&mut counts, a.status);
        }
        crate::report::stdout::line(&format!(
            "{} actions: ok={} changed={} failed={} skipped={}",
            actions.len(),
            counts.ok,
            counts.changed,
            counts.failed,
            counts.skipped
        ));
    }

    fn save(&self, path: &str, overwrite: bool) -> Result<(), String> {
        let text = save::recipe_text(&self.kept, &self.checker);
        save::write(Path::new(path), &text, overwrite)?;
        let n = self
            .kept
            .iter()
            .filter(|k| matches!(k, Kept::Statement(_)))
            .count();
        crate::report::stdout::line(&format!(
            "saved {n} statements to {path}; run it with `galley run {path}`"
        ));
        Ok(())
    }
}

fn count(c: &mut Counts, s: Status) {
    match s {
        Status::Ok => c.ok += 1,
        Status::Changed => c.changed += 1,
        Status::Failed => c.failed += 1,
        Status::Skipped => c.skipped += 1,
        Status::Unknown => c.unknown += 1,
    }
}

pub(super) fn counts_of(actions: &[Action]) -> Counts {
    let mut c = Counts::default();
    for a in actions {
        count(&mut c, a.status);
    }
    c
}

fn action_line(a: &Action) -> String {
    let mut s = format!(
        "{:>8} {} {} {}",
        a.status.as_str(),
        a.host,
        a.primitive,
        a.summary
    );
    for c in &a.commands {
        s.push_str(&format!("\n         $ {}", display(c)));
    }
    if let Some(d) = &a.diff {
        for l in d.lines() {
            s.push_str(&format!("\n         {l}"));
        }
    }
    if let Some(e) = &a.error {
        s.push_str(&format!("\n         {}", e.lines().next().unwrap_or("")));
    }
    s
}
