//! galley over real SSH: real `sshd` processes on loopback ports (tests/support/sshd.rs), the
//! real OpenSSH client, the built binary. Because the "remote" hosts are this machine, the tests
//! can also look at what happened on the far side (processes, files, owners).

#[path = "support/scratch.rs"]
mod scratch;
#[path = "support/sshd.rs"]
mod sshd;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scratch::Scratch;
use sshd::Sshd;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Out {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// galley with `args` in a scratch folder, timed.
trait Timed {
    fn timed(&self, args: &[&str]) -> Out;
}

impl Timed for Scratch {
    fn timed(&self, args: &[&str]) -> Out {
        let start = Instant::now();
        let out = self.galley(args).output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: start.elapsed(),
        }
    }
}

fn inventory(servers: &[(&str, &Sshd)], groups: &str) -> String {
    let mut t: String = servers
        .iter()
        .map(|(n, s)| s.host_toml(n, "root"))
        .collect();
    t.push_str(groups);
    t
}

const TORTURE: &[&str] = &[
    "two words",
    "it's",
    "\"double\"",
    "$HOME",
    "${x:-y}",
    "a;b && c | d",
    "`id`",
    "$(id)",
    "*",
    "back\\slash",
    "line1\nline2",
    "\n",
    "tab\there",
    "ünïcödé ✓ 日本",
    "",
    "-n",
    "~",
    "!bang",
];

fn rhai_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[test]
fn one_host_commands_files_facts_and_quoting() {
    let sshd = Sshd::start();
    let s = Scratch::new("galley-ssh-test-", &[]);
    let inv = s.file("inv.toml", &inventory(&[("box", &sshd)], ""));
    let work = s.path("work dir; $x 'q'");
    fs::create_dir(&work).unwrap();
    let q = |p: &Path| rhai_string(&p.to_string_lossy());
    let args: Vec<String> = TORTURE.iter().map(|a| rhai_string(a)).collect();
    let recipe = format!(
        r#"
run(["sh", "-c", "printf '%s\\0' \"$@\" > \"$0\"", {argv_out}, {args}]);
run(["sh", "-c", "printf '%s|%s' \"$V\" \"$PWD\" > \"$0\"", {env_out}], #{{ env: #{{ V: "it's $HOME\n;x" }}, cwd: {cwd} }});
let f = {file};
let w1 = write_file(f, "line one\nünï $x 'q'\n", #{{ mode: "0640" }});
let w2 = write_file(f, "line one\nünï $x 'q'\n", #{{ mode: "0640" }});
print(`WRITE ${{w1.status}} ${{w2.status}}`);
print("READ " + (read_file(f) == "line one\nünï $x 'q'\n"));
let d = ensure_dir({dir});
print(`DIR ${{d.status}} ${{ensure_dir({dir}).status}}`);
print("HOST " + facts().hostname);
let big = run(["head", "-c", "3000000", "/dev/zero"]);
print(`BIG ${{big.stdout.len}}`);
let input = "";
input.pad(100000, 'y');
let fed = run(["wc", "-c"], #{{ stdin: input }});
print("STDIN " + fed.stdout);
"#,
        argv_out = q(&s.path("argv.out")),
        env_out = q(&s.path("env.out")),
        args = args.join(", "),
        cwd = q(&work),
        file = q(&work.join("file 'x'.txt")),
        dir = q(&work.join("a/b c")),
    );
    let r = s.file("one.rhai", &recipe);
    let out = s.timed(&["run", &r, "-i", &inv]);
    assert_eq!(out.code, 0, "{}", out.all());
    let line = |tag: &str| {
        out.all()
            .lines()
            .find_map(|l| l.split_once(&format!("{tag} ")).map(|(_, v)| v.to_string()))
            .unwrap_or_else(|| panic!("no {tag} line in {}", out.all()))
    };
    let argv = fs::read(s.path("argv.out")).unwrap();
    let got: Vec<String> = argv
        .split(|b| *b == 0)
        .map(|p| String::from_utf8(p.to_vec()).unwrap())
        .collect();
    assert_eq!(&got[..TORTURE.len()], TORTURE);
    let env = fs::read_to_string(s.path("env.out")).unwrap();
    assert_eq!(env, format!("it's $HOME\n;x|{}", work.display()));
    assert_eq!(line("WRITE"), "changed ok");
    assert_eq!(line("READ"), "true");
    assert_eq!(
        fs::read_to_string(work.join("file 'x'.txt")).unwrap(),
        "line one\nünï $x 'q'\n"
    );
    let meta = fs::metadata(work.join("file 'x'.txt")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o640
    );
    assert_eq!(line("DIR"), "changed ok");
    assert!(work.join("a/b c").is_dir());
    assert_eq!(
        line("HOST"),
        fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim()
    );
    assert_eq!(line("BIG"), "3000000");
    assert_eq!(line("STDIN"), "100000");
    // Every command, probe and write went over one multiplexed connection.
    assert_eq!(
        sshd.log().matches("Accepted publickey").count(),
        1,
        "{}",
        sshd.log()
    );
    s.assert_cleaned_up();
}

#[test]
fn eight_hosts_run_in_parallel_and_one_failure_keeps_the_others() {
    let sshd = Sshd::start();
    let s = Scratch::new("galley-ssh-test-", &[]);
    let names: Vec<String> = (1..=8).map(|i| format!("n{i}")).collect();
    let servers: Vec<(&str, &Sshd)> = names.iter().map(|n| (n.as_str(), &sshd)).collect();
    let inv = s.file(
        "inv.toml",
        &inventory(
            &servers,
            "[groups.workers]\nhosts = [\"n2\", \"n3\", \"n4\", \"n5\", \"n6\", \"n7\", \"n8\"]\n",
        ),
    );
    let recipe = s.file(
        "par.rhai",
        r#"
let warm = on("all", |h| run(["true"]).rc);
let t = timestamp();
let v = on("all", |h| { run(["sleep", "1"]); h });
print(`SLEPT ${t.elapsed} ${v}`);
let same = on("all", |h| on_one("n1", || run(["sleep", "0.3"]).rc));
print(`SHARED ${same.len()}`);
let r = try_on("all", |h| if h == "n3" { run(["sh", "-c", "echo broken >&2; exit 3"]) } else { run(["echo", h]).stdout });
print(`TRY ${r.filter(|x| x.ok).len()} ${r[2].error.contains("broken")}`);
on("workers", |h| if h == "n5" { run(["false"]) } else { run(["echo", "fine"]) });
print("NOT REACHED");
"#,
    );
    let out = s.timed(&["run", &recipe, "-i", &inv]);
    assert_eq!(out.code, 1, "{}", out.all());
    let all = out.all();
    let slept = all
        .lines()
        .find_map(|l| l.split_once("SLEPT ").map(|(_, v)| v.to_string()))
        .expect("SLEPT line");
    let secs: f64 = slept.split_whitespace().next().unwrap().parse().unwrap();
    assert!(secs < 1.6, "8 hosts × sleep 1 took {secs}s: {all}");
    assert!(
        slept.contains("[\"n1\", \"n2\", \"n3\", \"n4\", \"n5\", \"n6\", \"n7\", \"n8\"]"),
        "{slept}"
    );
    assert!(all.contains("TRY 7 true"), "{all}");
    assert!(all.contains("SHARED 8"), "{all}");
    assert!(!all.contains("NOT REACHED"));
    assert!(
        all.contains("1 of 7 hosts failed") && all.contains("n5:"),
        "{all}"
    );
    // The six healthy workers finished their step.
    let fine = all.lines().filter(|l| l.contains("run echo fine")).count();
    assert_eq!(fine, 6, "{all}");
    eprintln!(
        "8 hosts: on(sleep 1) took {secs:.3}s, whole run {:?}",
        out.elapsed
    );
    s.assert_cleaned_up();
}

#[test]
fn unreachable_hosts_fail_alone_with_clear_messages() {
    let good = Sshd::start();
    let s = Scratch::new("galley-ssh-test-", &[]);
    // Refused: a port nobody listens on.
    let refused_port = sshd::free_port();
    // Hangs: a listener that accepts TCP but never says anything.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    // Changed key: the known_hosts entry for this port holds another key.
    let other = Sshd::start();
    let mut inv = inventory(&[("good", &good)], "");
    let wrong_kh = s.path("wrong_known_hosts");
    fs::write(
        &wrong_kh,
        good.host_key_line()
            .replace(&good.port.to_string(), &other.port.to_string()),
    )
    .unwrap();
    let cfg = good.path("ssh_config");
    inv.push_str(&format!(
        "[hosts.changed]\naddress = \"127.0.0.1\"\nport = {}\nvars = {{ ssh_config_file = \"{}\", ssh_options = [\"UserKnownHostsFile={}\"] }}\n",
        other.port,
        other.path("ssh_config").display(),
        wrong_kh.display()
    ));
    inv.push_str(&format!(
        "[hosts.refused]\naddress = \"127.0.0.1\"\nport = {refused_port}\nvars = {{ ssh_config_file = \"{}\" }}\n\
         [hosts.hangs]\naddress = \"127.0.0.1\"\nport = {silent_port}\nvars = {{ ssh_config_file = \"{}\", ssh_connect_timeout = 1 }}\n\
         [hosts.denied]\naddress = \"127.0.0.1\"\nport = {}\nuser = \"galleynosuchuser\"\nvars = {{ ssh_config_file = \"{}\" }}\n",
        cfg.display(),
        cfg.display(),
        good.port,
        cfg.display()
    ));
    let inv = s.file("inv.toml", &inv);
    let recipe = s.file(
        "r.rhai",
        "on(\"all\", |h| run([\"echo\", \"hello from \" + h]));\n",
    );
    let out = s.timed(&["run", &recipe, "-i", &inv]);
    let all = out.all();
    assert_eq!(out.code, 1, "{all}");
    assert!(all.contains("4 of 5 hosts failed"), "{all}");
    assert!(
        all.contains("denied:") && all.contains("authentication to galleynosuchuser@127.0.0.1"),
        "{all}"
    );
    assert!(
        all.contains("run echo 'hello from good'") || all.contains("hello from good"),
        "{all}"
    );
    assert!(
        all.contains("refused:")
            && all.contains(&format!("connection to 127.0.0.1:{refused_port} refused")),
        "{all}"
    );
    assert!(
        all.contains("hangs:") && all.contains("sent no SSH banner within 1s"),
        "{all}"
    );
    assert!(
        all.contains("changed:") && all.contains("CHANGED") && all.contains("ssh-keygen -R"),
        "{all}"
    );
    assert!(
        out.elapsed < Duration::from_secs(8),
        "took {:?}",
        out.elapsed
    );
    drop(silent);
    s.assert_cleaned_up();
}

/// Runs galley with a watchdog: past `limit` it is SIGKILLed (by pid) and the test fails.
fn galley_within(s: &Scratch, args: &[&str], limit: Duration) -> Out {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_galley"))
        .args(args)
        .env("XDG_RUNTIME_DIR", s.path("runtime"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait();
            panic!("galley {args:?} still running after {limit:?} (killed)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// A TCP server on 127.0.0.1 that sends an SSH banner to every client, then says nothing more
/// (a hung or overloaded sshd). Connections stay open until the listener's thread ends with the
/// test process.
fn banner_then_silence() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming().flatten() {
            use std::io::Write;
            let mut c = c;
            let _ = c.write_all(b"SSH-2.0-OpenSSH_9.2\r\n");
            held.push(c);
        }
    });
    port
}

#[test]
fn a_host_that_stalls_after_its_banner_fails_within_20s_saying_so() {
    let good = Sshd::start();
    let s = Scratch::new("galley-ssh-test-", &[]);
    let port = banner_then_silence();
    let inv = s.file(
        "inv.toml",
        &format!(
            "[hosts.stalls]\naddress = \"127.0.0.1\"\nport = {port}\nvars = {{ ssh_config_file = \"{}\" }}\n",
            good.path("ssh_config").display()
        ),
    );
    let recipe = s.file("r.rhai", "run([\"true\"]);\n");
    let out = galley_within(&s, &["run", &recipe, "-i", &inv], Duration::from_secs(60));
    let all = out.all();
    assert_eq!(out.code, 1, "{all}");
    assert!(
        all.contains("sent its SSH banner") && all.contains("then stopped responding for 15s"),
        "{all}"
    );
    assert!(
        out.elapsed < Duration::from_secs(20),
        "took {:?}",
        out.elapsed
    );
    s.assert_cleaned_up();
}

#[test]
fn the_users_own_server_alive_settings_win() {
    let good = Sshd::start();
    let s = Scratch::new("galley-ssh-test-", &[]);
    let port = banner_then_silence();
    let cfg = s.path("ssh_config");
    fs::write(
        &cfg,
        format!(
            "{}  ServerAliveInterval 1\n  ServerAliveCountMax 2\n",
            fs::read_to_string(good.path("ssh_config")).unwrap()
        ),
    )
    .unwrap();
    let inv = s.file(
        "inv.toml",
        &format!(
            "[hosts.stalls]\naddress = \"127.0.0.1\"\nport = {port}\nvars = {{ ssh_config_file = \"{}\" }}\n",
            cfg.display()
        ),
    );
    let recipe = s.file("r.rhai", "run([\"true\"]);\n");
    let out = galley_within(&s, &["run", &recipe, "-i", &inv], Duration::from_secs(60));
    let all = out.all();
    assert_eq!(out.code, 1, "{all}");
    assert!(all.contains("stopped responding for 2s"), "{all}");
    assert!(
        out.elapsed < Duration::from_secs(8),
        "took {:?}",
        out.elapsed
    );
}

#[test]
fn remote_read_file_of_a_fifo_is_refused_at_once() {
    let server = Sshd::start();
    let s = Scratch::new("galley-ssh-test-", &[]);
    let fifo = s.path("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let inv = s.file("inv.toml", &server.host_toml("far", "root"));
    let recipe = s.file(
        "r.rhai",
        &format!("read_file({});\n", rhai_string(&fifo.display().to_string())),
    );
    let out = galley_within(
        &s,
        &["run", &recipe, "-i", &inv, "--timeout", "20"],
        Duration::from_secs(40),
    );
    let all = out.all();
    assert_eq!(out.code, 1, "{all}");
    assert!(all.contains("it is a fifo, not a regular file"), "{all}");
    assert!(
        out.elapsed < Duration::from_secs(10),
        "took {:?}",
        out.elapsed
    );
    s.assert_cleaned_up();
}

#[test]
fn unknown_host_keys_are_refused_unless_accepted() {
    let sshd = Sshd::start();
    let s = Scratch::new("galley-ssh-test-", &[]);
    fs::write(sshd.path("known_hosts"), "").unwrap();
    let inv = s.file("inv.toml", &inventory(&[("fresh", &sshd)], ""));
    let recipe = s.file("r.rhai", "run([\"true\"]);\n");
    let out = s.timed(&["run", &recipe, "-i", &inv]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.all().contains("is unknown (not in known_hosts)")
            && out.all().contains("--accept-new-host-keys"),
        "{}",
        out.all()
    );
    let out = s.timed(&["run", &recipe, "-i", &inv, "--accept-new-host-keys"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let kh = fs::read_to_string(sshd.path("known_hosts")).unwrap();
    assert!(kh.contains(&format!("[127.0.0.1]:{}", sshd.port)), "{kh}");
}

/// Whether the process whose PID a remote command wrote is still running (a zombie waiting for
/// its reaper counts as gone).
fn remote_pid_alive(pid_file: &Path) -> Option<bool> {
    let pid = fs::read_to_string(pid_file).ok()?;
    let stat = fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    Some(matches!(state, Some(c) if c != 'Z' && c != 'X'))
}

#[test]
fn timeouts_kill_the_remote_command_and_a_dropped_connection_fails_only_its_host() {
    let sshd = Sshd::start();
    let s = Scratch::new("galley-ssh-test-", &[]);
    let inv = s.file("inv.toml", &inventory(&[("a", &sshd), ("b", &sshd)], ""));
    let pid_file = s.path("sleeper.pid");
    let recipe = s.file(
        "r.rhai",
        &format!(
            r#"
let t = try_on("a", |h| run(["sh", "-c", "sleep 30 & echo $! > {pid}; wait"], #{{ timeout: 1 }}));
print(`TIMEOUT ${{t[0].error.contains("timed out after 1s")}}`);
print("AFTER " + on_one("a", || run(["printf", "still usable"]).stdout));
// Host a kills the sshd process serving its connection: that host fails, b goes on.
let r = try_on("all", |h| if h == "a" {{
    run(["sh", "-c", "p=$PPID; while [ $p -gt 1 ]; do c=$(cat /proc/$p/comm); case $c in sshd*) kill -9 $p; exit 0;; esac; p=$(awk '{{print $4}}' /proc/$p/stat); done; exit 9"])
}} else {{ run(["sleep", "1"]); "b done" }});
print(`DROP ${{r[0].ok}} ${{r[1].ok}} ${{r[1].value}}`);
print("ERR " + r[0].error);
print("RECONNECT " + on_one("a", || run(["printf", "back"]).stdout));
"#,
            pid = pid_file.display()
        ),
    );
    let out = s.timed(&["run", &recipe, "-i", &inv]);
    let all = out.all();
    assert_eq!(out.code, 0, "{all}");
    assert!(all.contains("TIMEOUT true"), "{all}");
    assert_eq!(
        remote_pid_alive(&pid_file),
        Some(false),
        "the remote sleep survived its timeout: {all}"
    );
    assert!(all.contains("AFTER still usable"), "{all}");
    assert!(all.contains("DROP false true b done"), "{all}");
    assert!(all.contains("connection lost"), "{all}");
    eprintln!(
        "{}",
        all.lines().find(|l| l.contains("ERR")).unwrap_or_default()
    );
    assert!(all.contains("RECONNECT back"), "{all}");
    s.assert_cleaned_up();
}

#[test]
fn interrupt_stops_remote_commands() {
    let sshd = Sshd::start();
    let s = Scratch::new("galley-ssh-test-", &[]);
    let inv = s.file("inv.toml", &inventory(&[("a", &sshd)], ""));
    let pid_file = s.path("sleeper.pid");
    let recipe = s.file(
        "r.rhai",
        &format!(
            "run([\"sh\", \"-c\", \"sleep 60 & echo $! > {}; wait\"]);\n",
            pid_file.display()
        ),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_galley"))
        .args(["run", &recipe, "-i", &inv])
        .env("XDG_RUNTIME_DIR", s.path("runtime"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(15);
    while remote_pid_alive(&pid_file) != Some(true) {
        assert!(Instant::now() < until, "the remote command never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let start = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        remote_pid_alive(&pid_file),
        Some(false),
        "the remote sleep survived Ctrl-C"
    );
    s.assert_cleaned_up();
}

/// A login user for the become tests, removed (with its sudoers rule) on drop.
struct TestUser {
    name: String,
    sudoers: PathBuf,
}

impl TestUser {
    fn create(name: &str, sudo_rule: &str, sshd: &Sshd) -> TestUser {
        assert!(
            Path::new("/usr/bin/sudo").exists(),
            "sudo is missing: install the Debian package sudo (apt-get install sudo)"
        );
        let _ = Command::new("userdel")
            .args(["-r", name])
            .stderr(Stdio::null())
            .status();
        let st = Command::new("useradd")
            .args(["-m", "-s", "/bin/bash", name])
            .status()
            .unwrap();
        assert!(st.success(), "useradd {name} failed");
        // Not locked (sshd refuses locked accounts), but no password either.
        Command::new("usermod")
            .args(["-p", "*", name])
            .status()
            .unwrap();
        sshd.authorize(name);
        let sudoers = PathBuf::from(format!("/etc/sudoers.d/{name}"));
        fs::write(&sudoers, format!("{name} {sudo_rule}\n")).unwrap();
        TestUser {
            name: name.into(),
            sudoers,
        }
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.sudoers);
        let _ = Command::new("userdel")
            .args(["-r", "-f", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn become_through_passwordless_sudo_and_a_clear_error_otherwise() {
    let sshd = Sshd::start();
    let _ok = TestUser::create("galleybecome", "ALL=(ALL) NOPASSWD: ALL", &sshd);
    let _pw = TestUser::create("galleypasswd", "ALL=(ALL) ALL", &sshd);
    let s = Scratch::new("galley-ssh-test-", &[]);
    let mut inv = sshd
        .host_toml("nopw", "galleybecome")
        .replace("vars = {", "vars = { become = true,");
    inv.push_str(&sshd.host_toml("plain", "galleybecome"));
    inv.push_str(
        &sshd
            .host_toml("needpw", "galleypasswd")
            .replace("vars = {", "vars = { become = true,"),
    );
    let inv = s.file("inv.toml", &inv);
    let target = s.path("owned-by-root.txt");
    let recipe = s.file(
        "r.rhai",
        &format!(
            r#"
print("NOPW " + on_one("nopw", || run(["sh", "-c", "printf %s \"$(id -un)\""]).stdout));
on_one("nopw", || write_file({t}, "x\n"));
print("PLAIN " + on_one("plain", || run(["sh", "-c", "printf %s \"$(id -un)\""]).stdout));
on_one("needpw", || run(["id", "-un"]));
"#,
            t = rhai_string(&target.to_string_lossy())
        ),
    );
    let out = s.timed(&["run", &recipe, "-i", &inv]);
    let all = out.all();
    assert_eq!(out.code, 1, "{all}");
    assert!(all.contains("NOPW root"), "{all}");
    assert!(all.contains("PLAIN galleybecome"), "{all}");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(&target).unwrap().uid(), 0);
    assert!(
        all.contains("needpw") && all.contains("asks for a password") && all.contains("NOPASSWD"),
        "{all}"
    );
    s.assert_cleaned_up();
}

#[test]
fn secrets_from_one_host_stay_hidden_on_the_others() {
    let sshd = Sshd::start();
    let s = Scratch::new("galley-ssh-test-", &[]);
    let inv = s.file(
        "inv.toml",
        &inventory(
            &[("cp", &sshd), ("w1", &sshd), ("w2", &sshd)],
            "[groups.workers]\nhosts = [\"w1\", \"w2\"]\n",
        ),
    );
    let secret_file = s.path("secret.txt");
    let recipe = s.file(
        "r.rhai",
        &format!(
            r#"
let join = on_one("cp", || secret(run(["sh", "-c", "t=tok-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n'); printf %s \"$t\" > {f}; printf 'true --token %s' \"$t\""]).stdout));
on("workers", |h| run(["sh", "-c", join]));
let r = try_on("workers", |h| run(["sh", "-c", join + " >&2; exit 4"]));
print(r[0].error);
fail("stopping with " + join);
"#,
            f = secret_file.display()
        ),
    );
    for extra in [&[][..], &["--output", "json"][..], &["-vvv"][..]] {
        let mut args = vec!["run", recipe.as_str(), "-i", inv.as_str()];
        args.extend_from_slice(extra);
        let out = s.timed(&args);
        let all = out.all();
        assert_eq!(out.code, 1, "{all}");
        let secret = fs::read_to_string(&secret_file).unwrap();
        assert!(secret.starts_with("tok-") && secret.len() > 10, "{secret}");
        assert!(
            !all.contains(&secret),
            "the secret leaked with {extra:?}:\n{all}"
        );
        assert!(all.contains("********"), "{all}");
        assert!(all.contains("stopping with"), "{all}");
    }
}

#[test]
fn facts_of_real_hosts_saved_and_replayed_by_plan() {
    let sshd = Sshd::start();
    let s = Scratch::new("galley-ssh-test-", &[]);
    let inv = s.file("inv.toml", &inventory(&[("h1", &sshd), ("h2", &sshd)], ""));
    let dir = s.path("facts");
    // The recipe planned to learn what to save: the replay's own (not every bundled recipe,
    // whose read-only commands would then run here).
    let recipe = s.file(
        "r.rhai",
        "on(\"all\", |h| info(h + \" runs \" + facts().hostname));\n",
    );
    let out = s.timed(&[
        "facts",
        "-i",
        &inv,
        "--save",
        &dir.to_string_lossy(),
        "--recipe",
        &recipe,
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    let hostname = fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    for h in ["h1", "h2"] {
        let j: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join(format!("{h}.json"))).unwrap())
                .unwrap();
        assert_eq!(j["facts"]["hostname"], hostname.as_str());
    }
    let out = s.timed(&["facts", "-i", &inv, "--limit", "h2", "--json"]);
    let j: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.all()));
    assert_eq!(j.as_object().unwrap().keys().collect::<Vec<_>>(), ["h2"]);
    let out = s.timed(&[
        "plan",
        &recipe,
        "-i",
        &inv,
        "--facts",
        &dir.to_string_lossy(),
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.all().contains(&format!("h1 runs {hostname}")),
        "{}",
        out.all()
    );
    s.assert_cleaned_up();
}

#[test]
fn proxy_jump_and_identity_from_inventory_vars() {
    let jump = Sshd::start();
    let dest = Sshd::start();
    let s = Scratch::new("galley-ssh-test-", &[]);
    // The jump host is reached with the key named in the ssh_config file, the destination only
    // with its own key, given by the var ssh_identity_file: both must be used.
    let kh = s.path("known_hosts");
    fs::write(
        &kh,
        format!("{}{}", jump.host_key_line(), dest.host_key_line()),
    )
    .unwrap();
    let cfg = s.file(
        "ssh_config",
        &format!(
            "Host *\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  IdentityFile {}\n",
            kh.display(),
            jump.path("client_key").display()
        ),
    );
    let inv = s.file(
        "inv.toml",
        &format!(
            "[hosts.far]\naddress = \"127.0.0.1\"\nport = {}\nuser = \"root\"\n\
             vars = {{ ssh_config_file = \"{cfg}\", ssh_proxy_jump = \"root@127.0.0.1:{}\", ssh_identity_file = \"{}\" }}\n",
            dest.port,
            jump.port,
            dest.path("client_key").display()
        ),
    );
    let recipe = s.file(
        "r.rhai",
        "print(\"VIA \" + run([\"printf\", \"%s\", \"jumped\"]).stdout);\n",
    );
    let out = s.timed(&["run", &recipe, "-i", &inv]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.all().contains("VIA jumped"), "{}", out.all());
    let accepted = |log: String| log.matches("Accepted publickey").count();
    assert_eq!(
        accepted(jump.log()),
        1,
        "the jump host was not used: {}\n---\n{}",
        jump.log(),
        dest.log()
    );
    assert_eq!(accepted(dest.log()), 1, "{}", dest.log());
    s.assert_cleaned_up();
}

#[test]
fn stress_many_hosts_many_steps_counts_are_exact() {
    let sshd = Sshd::start();
    let s = Scratch::new("galley-ssh-test-", &[]);
    let names: Vec<String> = (1..=8).map(|i| format!("s{i}")).collect();
    let servers: Vec<(&str, &Sshd)> = names.iter().map(|n| (n.as_str(), &sshd)).collect();
    let inv = s.file("inv.toml", &inventory(&servers, ""));
    let root = s.path("stress");
    // 8 hosts × (1 folder + 40 files + 40 commands + 40 probes), one shared captured map per host.
    let recipe = s.file(
        "stress.rhai",
        &format!(
            r#"let base = {root};
let seen = #{{}};
let counts = on("all", |h| {{
    let dir = `${{base}}/${{h}}`;
    ensure_dir(dir);
    let n = 0;
    for i in 0..40 {{
        write_file(`${{dir}}/f${{i}}`, `${{h}} ${{i}}\n`);
        run(["touch", `${{dir}}/m${{i}}`], #{{ creates: `${{dir}}/m${{i}}` }});
        if file_exists(`${{dir}}/f${{i}}`) {{ n += 1; }}
        seen[`${{i}}`] = h;
    }}
    n
}});
if counts != [40, 40, 40, 40, 40, 40, 40, 40] {{ fail(`counts ${{counts}}`); }}
if seen.len() != 0 {{ fail("a host changed the caller's map"); }}"#,
            root = rhai_string(&root.display().to_string())
        ),
    );
    let first = s.timed(&["run", &recipe, "-i", &inv, "--output", "json"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let recap: serde_json::Value =
        serde_json::from_str(first.stdout.lines().last().unwrap()).unwrap();
    for n in &names {
        assert_eq!(recap["hosts"][n]["changed"], 81, "{n}: {}", recap);
        assert_eq!(fs::read_dir(root.join(n)).unwrap().count(), 80, "{n}");
    }
    let second = s.timed(&["run", &recipe, "-i", &inv, "--output", "json"]);
    assert_eq!(second.code, 0, "{}", second.all());
    let recap: serde_json::Value =
        serde_json::from_str(second.stdout.lines().last().unwrap()).unwrap();
    for n in &names {
        assert_eq!(recap["hosts"][n]["changed"], 0, "{n}: {}", recap);
        assert_eq!(recap["hosts"][n]["ok"], 81, "{n}: {}", recap);
    }
    eprintln!(
        "stress: 8 hosts × 121 steps, first run {:?}, second {:?}",
        first.elapsed, second.elapsed
    );
    s.assert_cleaned_up();
}

fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Probes start no process on the host: every session's command runs under strace on the
/// server's side (ForceCommand), and a run of 80 probes of existing things (ensure_dir,
/// write_file of an unchanged file, file_exists, run with `creates`) starts exactly as many
/// remote processes as a run of 4 (the session's shell and the stat helper).
#[test]
fn probes_start_no_remote_process_over_ssh() {
    assert!(
        on_path("strace") && on_path("perl"),
        "this test counts processes with strace and the agent's helper is perl: install both (scripts/test.sh does)"
    );
    let s = Scratch::new("galley-ssh-test-", &[]);
    let logs = s.path("exec");
    fs::create_dir(&logs).unwrap();
    let wrap = s.file(
        "wrap.sh",
        &format!(
            "#!/bin/bash\nexec strace -f -qq -e trace=execve,clone,clone3,fork,vfork -o {}/s.$$ bash -c \"$SSH_ORIGINAL_COMMAND\"\n",
            logs.display()
        ),
    );
    Command::new("chmod").args(["+x", &wrap]).status().unwrap();
    let sshd = Sshd::start_with(&format!("ForceCommand {wrap}"));
    let inv = s.file("inv.toml", &inventory(&[("box", &sshd)], ""));
    let data = s.path("data");
    fs::create_dir(&data).unwrap();
    fs::write(data.join("f"), "same\n").unwrap();
    fs::write(data.join("m"), "").unwrap();
    let d = rhai_string(&data.to_string_lossy());
    let processes = |rounds: usize| {
        let recipe = s.file(
            &format!("probes{rounds}.rhai"),
            &format!(
                r#"let d = {d};
for i in 0..{rounds} {{
    ensure_dir(d);
    write_file(`${{d}}/f`, "same\n");
    if !file_exists(`${{d}}/f`) {{ throw "missing"; }}
    run(["touch", `${{d}}/m`], #{{ creates: `${{d}}/m` }});
}}"#
            ),
        );
        for e in fs::read_dir(&logs).unwrap().flatten() {
            fs::remove_file(e.path()).unwrap();
        }
        let out = s.timed(&["run", &recipe, "-i", &inv]);
        assert_eq!(out.code, 0, "{}", out.all());
        assert!(out.all().contains("changed=0"), "{}", out.all());
        // strace writes its last lines as the session ends, just after galley exits.
        std::thread::sleep(Duration::from_millis(500));
        let mut n = 0;
        for e in fs::read_dir(&logs).unwrap().flatten() {
            let text = fs::read_to_string(e.path()).unwrap();
            n += text
                .lines()
                .filter(|l| {
                    ["execve(", "clone(", "clone3(", "fork("]
                        .iter()
                        .any(|c| l.contains(c))
                })
                .count();
        }
        n
    };
    let few = processes(1);
    let many = processes(20);
    assert!(few >= 1, "strace logged nothing");
    assert_eq!(
        few, many,
        "remote processes for 4 probes: {few}; for 80: {many}"
    );
    s.assert_cleaned_up();
}
