//! Counting instructions with valgrind's callgrind: finding valgrind, the command line that
//! counts only inside chosen functions (`--collect-atstart=no --toggle-collect=F`, with the
//! cache simulator on a fixed cache geometry so numbers do not depend on the host's caches),
//! and reading the inclusive cost of every call into those functions from callgrind's
//! output file. Knows nothing of backends or the runner: it counts whatever it is given.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use acorn_reports::counts::Events;

/// The simulated caches, the same on every machine (callgrind would otherwise ask the host,
/// and a virtual machine may report anything): 32 KiB 8-way L1s and an 8 MiB 16-way
/// last-level cache, 64-byte lines.
pub const CACHES: [(&str, &str); 3] = [
    ("--I1", "32768,8,64"),
    ("--D1", "32768,8,64"),
    ("--LL", "8388608,16,64"),
];

/// [`CACHES`] as people read it.
pub const CACHES_TEXT: &str =
    "I1 32 KiB 8-way, D1 32 KiB 8-way, LL 8 MiB 16-way, 64 B lines (fixed, not the host's)";

/// How to get valgrind, for the error that says it is missing.
pub const INSTALL_HINT: &str = "install it with `apt-get install -y valgrind` (Debian, Ubuntu), \
     `dnf install valgrind` (Fedora) or your system's package manager";

/// Valgrind could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValgrindError {
    #[error(
        "`--measure instructions` runs every variant under valgrind (callgrind), and `{program}` \
         was not found on PATH: {INSTALL_HINT}"
    )]
    Missing { program: String },
    #[error(
        "`{program} --version` failed ({detail}); is valgrind installed correctly? {INSTALL_HINT}"
    )]
    Broken { program: String, detail: String },
}

/// A working valgrind.
#[derive(Clone, Debug)]
pub struct Valgrind {
    program: PathBuf,
    /// What `valgrind --version` printed, e.g. "valgrind-3.19.0".
    pub version: String,
}

impl Valgrind {
    /// Finds `valgrind` on PATH and asks its version.
    pub fn find() -> Result<Valgrind, ValgrindError> {
        Self::at(Path::new("valgrind"))
    }

    /// Uses the valgrind at `program`.
    pub fn at(program: &Path) -> Result<Valgrind, ValgrindError> {
        let shown = program.display().to_string();
        let out = Command::new(program).arg("--version").output();
        match out {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(ValgrindError::Missing { program: shown })
            }
            Err(e) => Err(ValgrindError::Broken {
                program: shown,
                detail: e.to_string(),
            }),
            Ok(o) if !o.status.success() => Err(ValgrindError::Broken {
                program: shown,
                detail: format!("{}", o.status),
            }),
            Ok(o) => Ok(Valgrind {
                program: program.to_path_buf(),
                version: String::from_utf8_lossy(&o.stdout).trim().to_owned(),
            }),
        }
    }

    /// The command that runs `program` under callgrind, counting only while one of
    /// `functions` (full demangled paths) is on the stack, into `out_file`, with valgrind's
    /// own messages in `log_file`. Add the program's arguments to it. Where client requests
    /// work, instrumentation starts off and `program` turns it on
    /// ([`super::client::start_instrumentation`]) once it has loaded its data.
    pub fn callgrind(
        &self,
        out_file: &Path,
        log_file: &Path,
        functions: &[String],
        program: &Path,
    ) -> Command {
        let mut c = Command::new(&self.program);
        c.arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", out_file.display()))
            .arg(format!("--log-file={}", log_file.display()))
            .arg("--collect-atstart=no")
            .arg("--cache-sim=yes");
        if super::client::SUPPORTED {
            c.arg("--instr-atstart=no");
        }
        for f in functions {
            c.arg(format!("--toggle-collect={f}"));
        }
        for (flag, geometry) in CACHES {
            c.arg(format!("{flag}={geometry}"));
        }
        c.arg(program);
        c
    }
}

/// What callgrind counted for one function: how often it was called, and everything those
/// calls executed (the function and all it called: inclusive cost).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Calls {
    pub calls: u64,
    pub events: Events,
}

fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A callgrind output file, as far as [`inclusive_calls`] needs it.
struct Reader<'a> {
    /// Compressed names: `(id)` → name (functions and called functions share one table).
    names: BTreeMap<&'a str, &'a str>,
    /// For each event column, its index in [`Events::CALLGRIND`], if it is one of them.
    columns: Vec<Option<usize>>,
    positions: usize,
}

impl<'a> Reader<'a> {
    /// The name in `fn=(3) name` / `cfn=(3)`, remembering compressed names.
    fn name(&mut self, spec: &'a str) -> &'a str {
        let spec = spec.trim();
        let Some(rest) = spec.strip_prefix('(') else {
            return spec;
        };
        let Some((id, name)) = rest.split_once(')') else {
            return spec;
        };
        let name = name.trim();
        if name.is_empty() {
            self.names.get(id).copied().unwrap_or("")
        } else {
            self.names.insert(id, name);
            name
        }
    }

    fn events(&self, line: &str, at: usize) -> Result<Events, String> {
        let mut v = [0u64; 9];
        for (i, tok) in line.split_whitespace().skip(self.positions).enumerate() {
            let n = number(tok).ok_or_else(|| format!("line {at}: bad cost {tok:?}"))?;
            if let Some(Some(slot)) = self.columns.get(i) {
                v[*slot] = n;
            }
        }
        Ok(Events::from_callgrind(v))
    }
}

/// From the text of a callgrind output file: for each of `functions` (exact names as
/// callgrind prints them), the calls into it and their inclusive cost, summed over callers
/// and over every part of the file. The functions must not call each other.
pub fn inclusive_calls(
    text: &str,
    functions: &[String],
) -> Result<BTreeMap<String, Calls>, String> {
    let mut r = Reader {
        names: BTreeMap::new(),
        columns: Vec::new(),
        positions: 1,
    };
    let mut out: BTreeMap<String, Calls> = functions
        .iter()
        .map(|f| (f.clone(), Calls::default()))
        .collect();
    let mut called: &str = "";
    // The call count of a `calls=` line whose cost line comes next.
    let mut pending: Option<u64> = None;
    for (i, line) in text.lines().enumerate() {
        let at = i + 1;
        if let Some(count) = pending.take() {
            let events = r.events(line, at)?;
            if let Some(c) = out.get_mut(called) {
                c.calls += count;
                c.events.add(&events);
            }
        } else if let Some(list) = line.strip_prefix("events:") {
            r.columns = list
                .split_whitespace()
                .map(|e| Events::CALLGRIND.iter().position(|x| *x == e))
                .collect();
        } else if let Some(list) = line.strip_prefix("positions:") {
            r.positions = list.split_whitespace().count();
        } else if let Some(spec) = line.strip_prefix("cfn=") {
            called = r.name(spec);
        } else if let Some(spec) = line.strip_prefix("fn=") {
            r.name(spec);
        } else if let Some(rest) = line.strip_prefix("calls=") {
            let count = rest
                .split_whitespace()
                .next()
                .and_then(number)
                .ok_or_else(|| format!("line {at}: bad call count in {line:?}"))?;
            pending = Some(count);
        }
    }
    if r.columns.is_empty() {
        return Err("no `events:` line: not a callgrind output file".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Abridged from a real callgrind 3.19 file: compressed names, a called function named
    /// once and referred to by id after, relative positions, trailing zero events left out.
    const SAMPLE: &str = "\
# callgrind format
version: 1
positions: line
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
summary: 278134 61024 37011 8 2 1 8 2 1

fl=(227)
fn=(1086) m::main
cfi=(228) hint.rs
cfn=(1088) m::counted_read
calls=1 491
8 19 2 1 2 0 0 2
cfi=(228)
cfn=(1088)
calls=999 491
+2 18981 1998 999
cfn=(1092) m::counted_update
calls=1000 5
* 259134 59024 36011 6 2 1 6 2 1

fn=(1092)
5 6000 0 5000
cfn=(1064) malloc
calls=1000 -95
* 51134 12024 6011 0 0 1 0 0 1
";

    #[test]
    fn sums_every_call_into_each_function_inclusively() {
        let fs = [
            "m::counted_read".to_owned(),
            "m::counted_update".to_owned(),
            "m::absent".to_owned(),
        ];
        let got = inclusive_calls(SAMPLE, &fs).unwrap();
        let read = got["m::counted_read"];
        assert_eq!(read.calls, 1000);
        assert_eq!(read.events.instructions, 19_000);
        assert_eq!(read.events.data_reads, 2000);
        assert_eq!(read.events.data_writes, 1000);
        assert_eq!(read.events.l1i_misses, 2);
        assert_eq!(read.events.ll_instruction_misses, 2);
        assert_eq!(read.events.l1d_read_misses, 0);
        let update = got["m::counted_update"];
        assert_eq!(update.calls, 1000);
        assert_eq!(update.events.instructions, 259_134);
        assert_eq!(update.events.ll_write_misses, 1);
        assert_eq!(got["m::absent"], Calls::default());
    }

    #[test]
    fn event_columns_are_read_by_name_and_positions_by_count() {
        let text = "positions: instr line\nevents: Dr Ir\nfn=(1) f\ncfn=(2) g\ncalls=3 0x10 4\n0x10 4 7 70\n";
        let got = inclusive_calls(text, &["g".to_owned()]).unwrap();
        assert_eq!(got["g"].calls, 3);
        assert_eq!(got["g"].events.data_reads, 7);
        assert_eq!(got["g"].events.instructions, 70);
    }

    #[test]
    fn a_file_that_is_not_callgrind_output_is_an_error() {
        assert!(inclusive_calls("hello\n", &[]).is_err());
        let bad = "events: Ir\nfn=(1) f\ncfn=(2) g\ncalls=1 0\n0 lots\n";
        let e = inclusive_calls(bad, &["g".to_owned()]).unwrap_err();
        assert!(e.contains("line 5"), "{e}");
    }
}
