//! `galley completions bash` completes what the program accepts (issue 18, item 12): a recipe
//! argument offers the bundled recipe names and still completes paths, `--profile` offers the
//! built-in profiles, and `plan` offers none of the run-only flags it refuses. The script is not
//! read as text: bash sources it and its completion function is called the way bash calls it
//! (COMP_WORDS, COMP_CWORD, then COMPREPLY is what is offered); the path fallback, which is
//! readline's, is typed with Tab into an interactive bash on a pseudo-terminal. The expected
//! names come from the binary too (`galley list`, the unknown-profile error), so a recipe or
//! profile added later is expected without editing this file.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Test;
use rexpect::session::{spawn_with_options, Options};

/// A test folder holding the generated script as `galley.bash`.
fn with_script() -> (Test, PathBuf) {
    let t = Test::new().args(&["completions", "bash"]);
    let ran = t.run();
    ran.code(0);
    assert_eq!(ran.stderr, "");
    let path = t.path().join("galley.bash");
    std::fs::write(&path, &ran.stdout).unwrap();
    (t, path)
}

/// What bash offers for the command line `words`, the last being the word under the cursor:
/// the script sourced, `_galley` called with bash's arguments (command, current word, previous
/// word), COMPREPLY printed one word a line.
fn offered(script: &PathBuf, words: &[&str]) -> Vec<String> {
    let body = r#"source "$1" || exit 9
shift
COMP_WORDS=("$@")
COMP_CWORD=$(( $# - 1 ))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
_galley galley "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}""#;
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", body, "bash"])
        .arg(script)
        .args(words)
        .output()
        .expect("run bash");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "{words:?}: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The bundled recipe names, as `galley list` shows them.
fn bundled() -> Vec<String> {
    let ran = Test::new().args(&["list"]).run();
    ran.code(0);
    let names: Vec<String> = ran
        .stdout
        .lines()
        .skip_while(|l| *l != "bundled recipes:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert!(names.iter().any(|n| n == "kubeadm"), "{}", ran.stdout);
    names
}

/// The built-in profile names, as the error for an unknown one lists them.
fn profiles() -> Vec<String> {
    let ran = Test::new()
        .args(&["plan", "docker", "--profile", "no-such-profile"])
        .run();
    ran.code(2);
    let (_, list) = ran
        .stderr
        .trim_end()
        .split_once("built-in profiles: ")
        .unwrap_or_else(|| panic!("{}", ran.stderr));
    let names: Vec<String> = list.split(", ").map(str::to_string).collect();
    assert!(names.iter().any(|n| n == "rocky9"), "{names:?}");
    names
}

#[test]
fn a_recipe_argument_offers_every_bundled_recipe() {
    let (_t, script) = with_script();
    let names = bundled();
    let lines: &[&[&str]] = &[
        &["galley", "run", ""],
        &["galley", "plan", ""],
        &["galley", "artifacts", ""],
        &["galley", "show", ""],
        &["galley", "check", ""],
        &["galley", "fork", ""],
        &["galley", "run", "--check", ""],
        &["galley", "facts", "--save", "facts", "--recipe", ""],
    ];
    for words in lines {
        let got = offered(&script, words);
        for name in &names {
            assert!(got.contains(name), "{words:?} lacks {name}: {got:?}");
        }
    }
    assert_eq!(offered(&script, &["galley", "run", "kub"]), ["kubeadm"]);
    assert_eq!(
        offered(&script, &["galley", "plan", "etcd-"]),
        ["etcd-backup", "etcd-restore"]
    );
}

#[test]
fn profile_offers_every_built_in_profile() {
    let (_t, script) = with_script();
    let want = profiles();
    for words in [
        &["galley", "plan", "docker", "--profile", ""][..],
        &["galley", "run", "docker", "--plan", "--profile", ""],
        &["galley", "artifacts", "docker", "--profile", ""],
        &["galley", "repl", "--plan", "--profile", ""],
    ] {
        let mut got = offered(&script, words);
        got.sort();
        assert_eq!(got, want, "{words:?}");
    }
    assert_eq!(
        offered(&script, &["galley", "plan", "docker", "--profile", "ub"]),
        ["ubuntu22.04"]
    );
}

#[test]
fn plan_offers_none_of_the_run_only_flags_it_refuses() {
    let (_t, script) = with_script();
    let run = offered(&script, &["galley", "run", "docker", "--"]);
    for words in [
        &["galley", "plan", "docker", "--"][..],
        &["galley", "plan", ""],
    ] {
        let plan = offered(&script, words);
        for flag in ["--check", "--plan", "--become", "--timeout"] {
            assert!(!plan.iter().any(|f| f == flag), "{words:?} offers {flag}");
            assert!(run.iter().any(|f| f == flag), "run lacks {flag}: {run:?}");
        }
        for flag in ["--facts", "--profile", "--set", "--diff", "--output"] {
            assert!(plan.iter().any(|f| f == flag), "{words:?} lacks {flag}");
        }
    }
}

/// Readline's part: where no recipe name matches, bash completes a path (the script registers
/// `-o default`). Typed into an interactive bash, where `galley` is a function echoing its
/// arguments.
#[test]
fn a_recipe_path_still_completes_as_a_file() {
    let (t, script) = with_script();
    let t = t
        .file("my-recipe.rhai", "//! Mine.\n")
        .file("local/other.rhai", "//! Other.\n");
    assert!(offered(&script, &["galley", "run", "./my"]).is_empty());
    let mut bash = Command::new("bash");
    bash.args(["--norc", "--noprofile", "-i"])
        .current_dir(t.path())
        .env("PS1", "ready> ")
        .env("INPUTRC", "/dev/null")
        .env("TERM", "dumb")
        .env("HISTFILE", "/dev/null");
    let opts = Options::new().timeout_ms(Some(20_000));
    let mut p = spawn_with_options(bash, opts).expect("spawn bash on a pty");
    p.exp_string("ready> ").expect("prompt");
    p.send_line(r#"source ./galley.bash; galley() { echo "ARGS:$*."; }"#)
        .unwrap();
    p.exp_string("ready> ").expect("sourced");
    for (typed, want) in [
        ("galley run ./my", "ARGS:run ./my-recipe.rhai."),
        ("galley plan loc", "ARGS:plan local/other.rhai."),
        ("galley run kub", "ARGS:run kubeadm."),
    ] {
        p.send(&format!("{typed}\t")).unwrap();
        if typed.ends_with("loc") {
            p.send("\t").unwrap(); // `local/` first, then the file inside it
        }
        p.send_line("").unwrap();
        p.exp_string(want)
            .unwrap_or_else(|e| panic!("{typed}<TAB>: no {want:?}: {e}"));
        p.exp_string("ready> ").unwrap();
    }
    p.send_line("exit").unwrap();
}
