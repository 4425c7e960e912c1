//! Reading a file that must be a regular file. A FIFO (or a socket, a terminal, a device) blocks
//! its reader until someone writes to it, and a blocked read can be stopped neither by `--timeout`
//! nor by Ctrl-C; so the file is opened without blocking and refused, with what it is, unless it
//! is a regular file.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use nix::fcntl::OFlag;

/// What a non-regular file is, for messages.
fn kind(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading without ever blocking; an error unless it is a regular file (after
/// symlinks).
pub fn open(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(path)?;
    let t = file.metadata()?.file_type();
    if !t.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "it is {}, not a regular file (reading it could block forever)",
                kind(t)
            ),
        ));
    }
    Ok(file)
}

/// The whole content of a regular file.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("p");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let e = read(&fifo).unwrap_err();
        assert!(
            e.to_string()
                .contains("it is a FIFO (named pipe), not a regular file"),
            "{e}"
        );
        let e = read(dir.path()).unwrap_err();
        assert!(e.to_string().contains("it is a directory"), "{e}");
        std::fs::write(dir.path().join("f"), "hi").unwrap();
        assert_eq!(read(&dir.path().join("f")).unwrap(), b"hi");
    }
}
