//! THE atomic writer (`aml_core::io::atomic_write`, `AtomicFile`): unique temporary names, so
//! concurrent writers of one path never collide, and no temporary file survives a failed write.

use std::io::Write;
use std::path::Path;

use aml_core::io::{atomic_write, AtomicFile};

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// What thread `t` writes: a length and a filler of its own, so a torn or mixed file shows.
fn content(t: usize) -> Vec<u8> {
    let mut bytes = format!("thread {t}\n").into_bytes();
    bytes.resize(1000 + 997 * t, b'a' + t as u8);
    bytes
}

#[test]
fn concurrent_writes_of_one_path_leave_one_whole_file() {
    const THREADS: usize = 16;
    const WRITES: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.bin");
    let contents: Vec<Vec<u8>> = (0..THREADS).map(content).collect();
    std::thread::scope(|scope| {
        for (t, bytes) in contents.iter().enumerate() {
            let (path, contents) = (&path, &contents);
            scope.spawn(move || {
                for i in 0..WRITES {
                    if (t + i) % 2 == 0 {
                        atomic_write(path, bytes).unwrap();
                    } else {
                        let mut file = AtomicFile::create(path).unwrap();
                        for chunk in bytes.chunks(100) {
                            file.write_all(chunk).unwrap();
                        }
                        file.commit().unwrap();
                    }
                    let now = std::fs::read(path).unwrap();
                    assert!(contents.contains(&now), "torn file of {} bytes", now.len());
                }
            });
        }
    });
    assert_eq!(entries(dir.path()), ["out.bin"]);
    assert!(contents.contains(&std::fs::read(&path).unwrap()));
}

#[test]
fn failed_writes_leave_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    // The target is a directory: the bytes are written, the rename fails.
    let target = dir.path().join("taken");
    std::fs::create_dir(&target).unwrap();
    assert!(atomic_write(&target, b"bytes").is_err());
    assert_eq!(entries(dir.path()), ["taken"]);
    assert!(entries(&target).is_empty());

    // A streamed write abandoned half way (an encoder failed): the old file stays, whole.
    let path = dir.path().join("kept.txt");
    atomic_write(&path, b"old").unwrap();
    let mut file = AtomicFile::create(&path).unwrap();
    file.write_all(b"half of the new").unwrap();
    let during = entries(dir.path());
    assert_eq!(during.len(), 3, "{during:?}");
    assert!(during[0].starts_with(".kept.txt."), "{during:?}");
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    drop(file);
    assert_eq!(entries(dir.path()), ["kept.txt", "taken"]);
    assert_eq!(std::fs::read(&path).unwrap(), b"old");

    // No directory, no name: refused before anything is created.
    assert!(atomic_write(&dir.path().join("absent/file"), b"x").is_err());
    assert!(AtomicFile::create(Path::new("/")).is_err());
    assert_eq!(entries(dir.path()), ["kept.txt", "taken"]);
}

#[test]
fn the_temporary_file_is_a_hidden_sibling_with_a_unique_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.txt");
    let first = AtomicFile::create(&path).unwrap();
    let second = AtomicFile::create(&path).unwrap();
    let temps = entries(dir.path());
    assert_eq!(temps.len(), 2, "{temps:?}");
    assert_ne!(temps[0], temps[1]);
    for name in &temps {
        assert!(
            name.starts_with(".model.txt.") && name.ends_with(".tmp"),
            "{name}"
        );
    }
    second.commit().unwrap();
    drop(first);
    assert_eq!(entries(dir.path()), ["model.txt"]);
}
