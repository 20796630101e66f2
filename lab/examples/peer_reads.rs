//! Why the lab's random-read ordering of redb and sqlite differs from redb's README: each
//! store read directly (no lab) on 1M random 24-byte keys with 150-byte values in files,
//! once set up as redb's own benchmark does (one read transaction for every redb read; a
//! rowid table and a rollback journal for sqlite) and once as the lab's backends do (a read
//! transaction per redb read; a `WITHOUT ROWID` table in WAL mode for sqlite). Rounds
//! alternate; the best round of each is printed (the least disturbed) with the median.
//!
//! `cargo run --release -p acorn-lab --example peer_reads [ROUNDS]` (default 5).

use std::hint::black_box;
use std::time::Instant;

use redb::{Database, ReadableDatabase, TableDefinition};
use rusqlite::Connection;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");
const RECORDS: u64 = 1_000_000;
const READS: u64 = 200_000;

type Failure = Box<dyn std::error::Error>;

/// Key `i`: 24 bytes, spread over the key space like redb's random keys.
fn key(i: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    k[8..16].copy_from_slice(&i.to_be_bytes());
    k
}

/// The `j`-th key read: uniform over the records.
fn pick(j: u64) -> u64 {
    (j.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) % RECORDS
}

fn redb(dir: &std::path::Path) -> Result<Database, Failure> {
    let db = Database::create(dir.join("r.redb"))?;
    let w = db.begin_write()?;
    {
        let mut t = w.open_table(TABLE)?;
        for i in 0..RECORDS {
            t.insert(&key(i)[..], &[7u8; 150][..])?;
        }
    }
    w.commit()?;
    Ok(db)
}

fn sqlite(dir: &std::path::Path, lab: bool) -> Result<Connection, Failure> {
    let c = Connection::open(dir.join(if lab { "lab.sqlite" } else { "redb.sqlite" }))?;
    if lab {
        c.pragma_update(None, "journal_mode", "WAL")?;
    }
    c.execute(
        if lab {
            "CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID"
        } else {
            "CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB)"
        },
        [],
    )?;
    let tx = c.unchecked_transaction()?;
    {
        let mut st = tx.prepare("INSERT INTO kv VALUES (?, ?)")?;
        for i in 0..RECORDS {
            st.execute(rusqlite::params![&key(i)[..], &[7u8; 150][..]])?;
        }
    }
    tx.commit()?;
    Ok(c)
}

/// Nanoseconds per read of `read` over `READS` keys.
fn per_read(mut read: impl FnMut(&[u8]) -> Result<u8, Failure>) -> Result<f64, Failure> {
    let t = Instant::now();
    for j in 0..READS {
        black_box(read(&key(pick(j)))?);
    }
    Ok(t.elapsed().as_nanos() as f64 / READS as f64)
}

fn main() -> Result<(), Failure> {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(5), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let db = redb(dir.path())?;
    let (bench_sql, lab_sql) = (sqlite(dir.path(), false)?, sqlite(dir.path(), true)?);
    let names = [
        "redb, one read transaction (redb's benchmark)",
        "redb, a read transaction per read (the lab)",
        "sqlite, rowid table, rollback journal (redb's benchmark)",
        "sqlite, WITHOUT ROWID, WAL (the lab)",
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..rounds {
        let shared = db.begin_read()?;
        let table = shared.open_table(TABLE)?;
        times[0].push(per_read(|k| {
            Ok(table.get(k)?.ok_or("missing key")?.value()[0])
        })?);
        times[1].push(per_read(|k| {
            let txn = db.begin_read()?;
            let t = txn.open_table(TABLE)?;
            let v = t.get(k)?.ok_or("missing key")?.value()[0];
            Ok(v)
        })?);
        for (i, c) in [(2, &bench_sql), (3, &lab_sql)] {
            let mut st = c.prepare_cached("SELECT value FROM kv WHERE key = ?")?;
            times[i].push(per_read(|k| {
                let v: Vec<u8> = st.query_row([k], |r| r.get(0))?;
                Ok(v[0])
            })?);
        }
    }
    for (name, mut t) in names.iter().zip(times) {
        t.sort_by(f64::total_cmp);
        println!(
            "{name}: best {:.0} ns, median {:.0} ns",
            t[0],
            t[t.len() / 2]
        );
    }
    Ok(())
}
