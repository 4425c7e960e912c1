//! Real `sshd` servers on loopback ports for the SSH tests: own config, host key, client key and
//! authorized keys in a temp folder, a clean login environment, stopped (by PID) on drop.
//! Include with `#[path = "support/sshd.rs"] mod sshd;`. Needs root, `sshd` (openssh-server),
//! `ssh` and `ssh-keygen` (openssh-client); a missing tool fails the test with what to install.
#![allow(dead_code)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn require_tools() {
    for (tool, package) in [
        ("/usr/sbin/sshd", "openssh-server"),
        ("ssh", "openssh-client"),
        ("ssh-keygen", "openssh-client"),
    ] {
        let found = if tool.starts_with('/') {
            Path::new(tool).exists()
        } else {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        assert!(
            found,
            "`{tool}` is missing: install the Debian package {package} (apt-get install {package})"
        );
    }
    assert_eq!(
        nix_uid(),
        0,
        "the SSH tests start sshd and log in as root: run them as root"
    );
}

fn nix_uid() -> u32 {
    let out = Command::new("id").arg("-u").output().expect("id");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(u32::MAX)
}

pub fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "galley-test", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("ssh-keygen");
    assert!(st.success(), "ssh-keygen failed");
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(child: &mut Child, port: u16) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

impl Sshd {
    pub fn start() -> Sshd {
        Self::start_with("")
    }

    /// Starts sshd with extra config lines. Root logs in with the client key; other users'
    /// keys go in `keys/<user>` (see `authorize`).
    pub fn start_with(extra: &str) -> Sshd {
        require_tools();
        let dir = tempfile::Builder::new()
            .prefix("galley-sshd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        fs::create_dir(d.join("keys")).unwrap();
        fs::copy(d.join("client_key.pub"), d.join("keys/root")).unwrap();
        // sshd needs its privilege separation folder.
        fs::create_dir_all("/run/sshd").unwrap();
        for _ in 0..5 {
            let port = free_port();
            let config = format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile none\n\
                 AuthorizedKeysFile {d}/keys/%u\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 UsePAM no\nPermitRootLogin prohibit-password\nStrictModes no\n\
                 SetEnv SHLVL=1\nMaxSessions 64\nMaxStartups 200:30:400\nLogLevel VERBOSE\n{extra}\n",
                d = d.display()
            );
            fs::write(d.join("sshd_config"), config).unwrap();
            let log = fs::File::create(d.join("sshd.log")).unwrap();
            let child = Command::new("/usr/sbin/sshd")
                .args(["-D", "-e", "-f"])
                .arg(d.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start sshd");
            let mut child = child;
            if wait_listening(&mut child, port) {
                let s = Sshd { dir, port, child };
                s.write_client_files();
                return s;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "sshd did not start: {}",
            fs::read_to_string(dir.path().join("sshd.log")).unwrap_or_default()
        );
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn host_key_line(&self) -> String {
        let pubkey = fs::read_to_string(self.path("host_key.pub")).unwrap();
        let mut parts = pubkey.split_whitespace();
        format!(
            "[127.0.0.1]:{} {} {}\n",
            self.port,
            parts.next().unwrap(),
            parts.next().unwrap()
        )
    }

    /// `known_hosts` with this server's key, and an `ssh_config` that uses only test files.
    fn write_client_files(&self) {
        fs::write(self.path("known_hosts"), self.host_key_line()).unwrap();
        let cfg = format!(
            "Host *\n  IdentityFile {d}/client_key\n  IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  GlobalKnownHostsFile /dev/null\n  LogLevel ERROR\n",
            d = self.dir.path().display()
        );
        fs::write(self.path("ssh_config"), cfg).unwrap();
    }

    /// Lets `user` log in with the client key.
    pub fn authorize(&self, user: &str) {
        fs::copy(
            self.path("client_key.pub"),
            self.path(&format!("keys/{user}")),
        )
        .unwrap();
    }

    /// A TOML host table for this server under the name `name`.
    pub fn host_toml(&self, name: &str, user: &str) -> String {
        format!(
            "[hosts.{name}]\naddress = \"127.0.0.1\"\nport = {}\nuser = \"{user}\"\nvars = {{ ssh_config_file = \"{}\" }}\n",
            self.port,
            self.path("ssh_config").display()
        )
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
