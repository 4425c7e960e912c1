//! The bodies of the fuzz targets, shared by the libFuzzer binaries in `fuzz_targets/` and by
//! `tests/fuzz_corpus.rs`, which replays the committed corpora on stable Rust in every test run.

use std::sync::{Arc, OnceLock};

use galley::engine::{self, lint, params, Mode};
use galley::report::{Format, Reporter};
use galley::runner::{prepare, RunOptions};

fn check_engine() -> &'static rhai::Engine {
    static ENGINE: OnceLock<rhai::Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let opts = RunOptions {
            mode: Mode::Plan,
            forks: 1,
            ..Default::default()
        };
        let reporter = Arc::new(Reporter::new(Format::Json, Mode::Plan, false));
        engine::build(prepare(&opts, reporter, None).expect("plan context"))
    })
}

/// Arbitrary text through the recipe compiler and the linter: errors are fine, panics are not.
pub fn recipe(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let engine = check_engine();
    if let Ok(ast) = engine.compile(text) {
        let _ = lint::imports(&ast);
        let _ = lint::unknown_calls(engine, &ast);
    }
}

/// `--set key=value` parsing and coercion against defaults of every type.
pub fn set_arg(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok((key, value)) = params::parse_set(&text) else {
        return;
    };
    let mut defaults = rhai::Map::new();
    defaults.insert("s".into(), "x".into());
    defaults.insert("i".into(), rhai::Dynamic::from(1 as rhai::INT));
    defaults.insert("f".into(), rhai::Dynamic::from(1.5 as rhai::FLOAT));
    defaults.insert("b".into(), true.into());
    defaults.insert("a".into(), rhai::Dynamic::from(rhai::Array::new()));
    let _ = params::resolve(&defaults, &[(key.clone(), value.clone())]);
    for k in ["s", "i", "f", "b", "a"] {
        let _ = params::resolve(&defaults, &[(k.to_string(), value.clone())]);
    }
}

/// Facts files (JSON fixtures) and the live gather script's output parser.
pub fn facts(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = galley::facts::Fixture::parse("fuzz.json", &text);
    let f = galley::facts::parse(&text);
    let _ = f.primary_address();
}

/// Display quoting of argv (what action lines show and what a shell would re-split): when
/// quoting succeeds, splitting the quoted line gives back the same argv.
pub fn quoting(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let argv: Vec<String> = text.split('\u{1f}').map(str::to_string).collect();
    if let Ok(line) = shlex::try_join(argv.iter().map(String::as_str)) {
        let back = shlex::split(&line).expect("a joined line splits");
        assert_eq!(back, argv, "quoting round trip of {line:?}");
    }
}

/// Inventory text in each format galley reads: errors are fine, panics are not.
pub fn inventory(data: &[u8]) {
    use galley::inventory::{Format, Inventory};
    let text = String::from_utf8_lossy(data);
    for format in [Format::Toml, Format::Ini, Format::Yaml] {
        if let Ok(inv) = Inventory::parse("fuzz", &text, format) {
            let _ = galley::inventory::apply_limit(&inv, "all");
        }
    }
}

/// The SSH agent's command line through a real `bash`: what the remote shell hands the program
/// must equal the argv (words with a NUL byte are refused, not mangled).
pub fn remote_quoting(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let words: Vec<String> = text.split('\u{1f}').map(str::to_string).collect();
    let mut argv = vec!["printf".to_string(), "%s\\0".to_string()];
    argv.extend(words.iter().cloned());
    let spec = galley::host::CommandSpec {
        argv,
        ..Default::default()
    };
    let Ok(line) = galley::host::ssh::quote::command_line(&spec) else {
        assert!(
            words.iter().any(|w| w.contains('\0')),
            "refused a line without NUL: {words:?}"
        );
        return;
    };
    let out = std::process::Command::new("bash")
        .args(["-c", &format!("_gnl=$'\\n'; {line}")])
        .output()
        .expect("bash runs");
    let got: Vec<String> = out
        .stdout
        .split(|b| *b == 0)
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    assert_eq!(&got[..got.len() - 1], &words[..], "line {line:?}");
}

/// A random secret inside a random value, through every output channel: the JSON event of an
/// action and of a log line, the human action line (summary, error and diff), Rhai's display
/// (`print`) and debug display of a map and an array holding it, the REPL's display, and the
/// shell-quoted command line. None may show the secret. Input: secret, then what goes before
/// and after it in the value, separated by U+001F.
pub fn secret_escaping(data: &[u8]) {
    use galley::report::{self, redact, Action, Status};
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\u{1f}');
    let secret = parts.next().unwrap_or("").trim();
    let (before, after) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    // A secret holding the mask's own character can reappear next to a mask (documented).
    if secret.contains('*') {
        return;
    }
    redact::forget_all();
    if redact::add(secret).is_err() || secret.is_empty() {
        return;
    }
    let value = format!("{before}{secret}{after}");
    let argv = vec!["echo".to_string(), value.clone(), "--flag".to_string()];
    let shown = galley::primitives::command::display(&argv);
    let mut action = Action::new("local", "run", shown.clone());
    action.status = Status::Failed;
    action.commands.push(argv.clone());
    action.error = Some(format!("command `{shown}` failed: {value}"));
    action.diff = Some(galley::primitives::file::unified_diff(
        "/f",
        b"old\n",
        format!("{value}\n").as_bytes(),
    ));

    let mut map = rhai::Map::new();
    map.insert("p".into(), value.clone().into());
    map.insert(value.as_str().into(), rhai::Dynamic::from(1 as rhai::INT));
    let array: rhai::Array = vec![value.clone().into(), rhai::Dynamic::from(map.clone())];
    let map = rhai::Dynamic::from(map);
    let array = rhai::Dynamic::from(array);
    // What print() and debug() hand to the reporter: Rhai's own formatting, unredacted.
    let printed = [
        map.to_string(),
        format!("{map:?}"),
        array.to_string(),
        format!("{array:?}"),
    ];

    let mut outputs = vec![
        ("shell-quoted display", shown.clone()),
        (
            "JSON action event",
            report::json_line(report::action_value(&action)),
        ),
        (
            "human action line",
            report::action_text(&action, false, true, Mode::Apply),
        ),
        (
            "live row",
            report::live_text(
                "local",
                5,
                &format!("run {shown}"),
                std::time::Duration::ZERO,
                &value,
            ),
        ),
    ];
    for p in &printed {
        outputs.push(("printed value", redact::redact(p)));
        outputs.push((
            "JSON log event",
            report::json_line(serde_json::json!({ "type": "log", "message": p })),
        ));
    }
    for v in [&map, &array, &rhai::Dynamic::from(value.clone())] {
        outputs.push((
            "REPL display",
            galley::repl::render::value(v).unwrap_or_default(),
        ));
    }
    // The secret as each escaping writes it, computed here independently of galley's redaction.
    let debug = format!("{secret:?}");
    let json = serde_json::to_string(secret).unwrap();
    let forms = [secret, &debug[1..debug.len() - 1], &json[1..json.len() - 1]];
    for (channel, out) in &outputs {
        for form in forms {
            assert!(
                !out.contains(form),
                "{channel} shows the secret {secret:?} as {form:?}: {out:?}"
            );
        }
        // Decoded again the way a reader would: JSON strings, shell words.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(out) {
            assert!(
                !v.to_string().contains(&json[1..json.len() - 1])
                    && !json_strings(&v).iter().any(|s| s.contains(secret)),
                "{channel} decodes to the secret {secret:?}: {out:?}"
            );
        }
    }
    for word in shlex::split(&shown).unwrap_or_default() {
        assert!(
            !word.contains(secret),
            "shell word {word:?} holds the secret {secret:?}"
        );
    }
}

fn json_strings(v: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(json_strings).collect(),
        Value::Object(m) => m
            .iter()
            .flat_map(|(k, v)| std::iter::once(k.clone()).chain(json_strings(v)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The wildcard matcher of `--limit` and version pins: arbitrary pattern and text (split at the
/// first NUL byte) must match exactly when a plain dynamic-programming matcher of the same rules
/// (`*` any run, `?` one character, all else literal) says so, and a pattern of many stars must
/// stay fast.
pub fn glob(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (pattern, name) = text.split_once('\0').unwrap_or((&text, ""));
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    if p.len() > 200 || n.len() > 400 {
        return;
    }
    let Ok(w) = galley::glob::Wildcard::new(pattern) else {
        return;
    };
    // reach[j]: the pattern so far matches the first j characters of the name.
    let mut reach = vec![false; n.len() + 1];
    reach[0] = true;
    for c in &p {
        let mut next = vec![false; n.len() + 1];
        for j in 0..=n.len() {
            next[j] = match c {
                '*' => reach[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && reach[j - 1],
                lit => j > 0 && reach[j - 1] && n[j - 1] == *lit,
            };
        }
        reach = next;
    }
    assert_eq!(
        w.is_match(name),
        reach[n.len()],
        "pattern {pattern:?} against {name:?}"
    );
}
