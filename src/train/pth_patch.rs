//! A workaround for burn-store 0.22.1's PyTorch reader, which cannot read a dict subclass built
//! with pickle's `NEWOBJ` (it fails with "unexpected pickle opcode SetItems"). BiaPy's `.pth`
//! holds one: its `cfg` entry is a yacs `CfgNode`. [`patched_copy`] writes a copy of the
//! checkpoint whose `data.pkl` builds every such object as a plain dict; tensors (built with
//! `REDUCE`, never `NEWOBJ`) and their storages are copied untouched. Only used after the reader
//! refused the original file; the copy is a temporary file the caller removes.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// How the argument of a pickle opcode is laid out.
enum Arg {
    None,
    Fixed(usize),
    /// A little-endian length of this many bytes, then that many bytes.
    Sized(usize),
    /// This many newline-terminated lines.
    Lines(usize),
}

fn arg_of(op: u8) -> Result<Arg, String> {
    Ok(match op {
        b'('
        | b'.'
        | b'0'
        | b'1'
        | b'2'
        | b'N'
        | b'R'
        | b'b'
        | b'd'
        | b'}'
        | b'e'
        | b'l'
        | b']'
        | b'o'
        | b's'
        | b't'
        | b')'
        | b'u'
        | b'a'
        | b'Q'
        | 0x81
        | 0x85..=0x89
        | 0x8f..=0x94
        | 0x97
        | 0x98 => Arg::None,
        b'I' | b'L' | b'F' | b'S' | b'V' | b'P' | b'g' | b'p' => Arg::Lines(1),
        b'c' | b'i' => Arg::Lines(2),
        b'K' | b'h' | b'q' | 0x80 | 0x82 => Arg::Fixed(1),
        b'M' | 0x83 => Arg::Fixed(2),
        b'J' | b'j' | b'r' | 0x84 => Arg::Fixed(4),
        b'G' | 0x95 => Arg::Fixed(8),
        b'U' | b'C' | 0x8a | 0x8c => Arg::Sized(1),
        b'T' | b'X' | b'B' | 0x8b => Arg::Sized(4),
        0x8d | 0x8e | 0x96 => Arg::Sized(8),
        other => return Err(format!("unknown pickle opcode 0x{other:02x}")),
    })
}

/// `pickle` with every `NEWOBJ` / `NEWOBJ_EX` replaced by "pop its operands, push an empty dict"
/// (frames dropped: their sizes would no longer hold, and readers may ignore them).
pub fn dicts_for_new_objects(pickle: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(pickle.len());
    let mut at = 0;
    let truncated = || "truncated pickle".to_string();
    while at < pickle.len() {
        let op = pickle[at];
        let start = at;
        at += 1;
        match arg_of(op)? {
            Arg::None => {}
            Arg::Fixed(n) => at += n,
            Arg::Sized(n) => {
                let bytes = pickle.get(at..at + n).ok_or_else(truncated)?;
                let len = bytes.iter().rev().fold(0usize, |len, b| (len << 8) | *b as usize);
                at += n + len;
            }
            Arg::Lines(n) => {
                for _ in 0..n {
                    let rest = pickle.get(at..).ok_or_else(truncated)?;
                    at += rest.iter().position(|b| *b == b'\n').ok_or_else(truncated)? + 1;
                }
            }
        }
        let whole = pickle.get(start..at).ok_or_else(truncated)?;
        match op {
            0x81 => out.extend_from_slice(b"00}"),
            0x92 => out.extend_from_slice(b"000}"),
            0x95 => {}
            _ => out.extend_from_slice(whole),
        }
        if op == b'.' {
            out.extend_from_slice(&pickle[at..]);
            break;
        }
    }
    Ok(out)
}

/// A temporary copy of the zip checkpoint at `path` with its `data.pkl` patched by
/// [`dicts_for_new_objects`]. The caller removes it.
pub fn patched_copy(path: &Path) -> std::io::Result<PathBuf> {
    let file = File::open(path)?;
    let mut archive = ZipArchive::new(file).map_err(std::io::Error::other)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Unique per call: threads of one process may patch the same checkpoint at once.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let copy = std::env::temp_dir().join(format!(".segsweep-{}-{call}-{name}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut writer = ZipWriter::new(File::create(&copy)?);
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).map_err(std::io::Error::other)?;
            let entry_name = entry.name().map_err(std::io::Error::other)?.into_owned();
            if entry_name.ends_with("data.pkl") {
                let mut pickle = Vec::new();
                entry.read_to_end(&mut pickle)?;
                let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
                writer.start_file(entry_name, options).map_err(std::io::Error::other)?;
                let patched = dicts_for_new_objects(&pickle).map_err(std::io::Error::other)?;
                std::io::Write::write_all(&mut writer, &patched)?;
            } else {
                writer.raw_copy_file(entry).map_err(std::io::Error::other)?;
            }
        }
        writer.finish().map_err(std::io::Error::other)?;
        Ok(())
    })();
    match written {
        Ok(()) => Ok(copy),
        Err(e) => {
            let _ = std::fs::remove_file(&copy);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_objects_become_empty_dicts_and_the_rest_is_kept() {
        // protocol 2: GLOBAL yacs.config CfgNode, BINPUT 0, EMPTY_TUPLE, NEWOBJ, BINPUT 1, MARK,
        // SHORT_BINUNICODE "a", BININT1 1, SETITEMS, STOP, then trailing bytes.
        let pickle = b"\x80\x02cyacs.config\nCfgNode\nq\x00)\x81q\x01(\x8c\x01aK\x01u.tail";
        let patched = dicts_for_new_objects(pickle).unwrap();
        assert_eq!(patched, b"\x80\x02cyacs.config\nCfgNode\nq\x00)00}q\x01(\x8c\x01aK\x01u.tail".to_vec());
        // A NEWOBJ byte inside a string argument is data, not an opcode.
        let pickle = b"\x8c\x01\x81.";
        assert_eq!(dicts_for_new_objects(pickle).unwrap(), pickle.to_vec());
        assert!(dicts_for_new_objects(b"\x8c\x05ab").is_err());
        assert!(dicts_for_new_objects(b"\xff").unwrap_err().contains("0xff"));
    }
}
