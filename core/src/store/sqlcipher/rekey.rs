//! Moving a store to a new key ([`SqlCipherStore::rekey`]).
//!
//! SQLCipher's own `PRAGMA rekey` does work in WAL mode (tried: it rewrites
//! every page into the WAL, and a copy of the files taken right after opens
//! with the new key only). It is not used because it cannot fail cleanly:
//! `sqlite3_rekey_v2` returns `SQLITE_OK` even when a page write or the
//! commit failed, and by then it has already switched the connection's write
//! key (and, after a failed commit, its read key too), so the connection
//! would go on writing pages under a key the file is not under.
//!
//! Instead the store is exported under the new key (`sqlcipher_export`,
//! which reports its errors) into a staged file beside it, the staged file is
//! opened with the new key to prove it, and then renamed over the store in
//! one atomic step. Until the rename the store and its connection are
//! untouched, so any failure before it leaves the old key in force; after a
//! crash the store is under the old key (no rename yet) or wholly under the
//! new one. A staged file left by a crash is deleted by the next open.

use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use zeroize::Zeroizing;

use super::SqlCipherStore;
use crate::error::{Error, Result};
use crate::store::DatabaseKey;

/// The schema name the staged copy is attached under.
const STAGED_SCHEMA: &str = "rekeyed";

/// Where the copy under the new key is written: `<database>.rekey`.
pub(super) fn staged_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".rekey");
    PathBuf::from(name)
}

/// Deletes a staged copy and its journals. None of it is ever needed: until
/// the rename the store itself holds the data under its current key.
pub(super) fn remove_staged(database: &Path) -> Result<()> {
    let staged = staged_path(database);
    for suffix in ["", "-journal", "-wal"] {
        let mut name = staged.as_os_str().to_owned();
        name.push(suffix);
        match fs::remove_file(PathBuf::from(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}

impl SqlCipherStore {
    /// Re-encrypts the whole store under `new_key`; from then on only
    /// `new_key` opens it. The store stays open and usable.
    ///
    /// On an error before the store file is replaced, nothing has changed
    /// and the old key is still the store's. An error after that (reopening
    /// the replaced file failed) leaves the file under `new_key` and this
    /// handle unusable; open it again with `new_key`. Refused inside a
    /// transaction ([`Error::NestedTransaction`]).
    pub fn rekey(&mut self, new_key: &DatabaseKey) -> Result<()> {
        if self.in_transaction {
            return Err(Error::NestedTransaction);
        }
        let path = self.path.clone();
        let staged = staged_path(&path);
        remove_staged(&path)?;
        if let Err(e) = self
            .export_to(&staged, new_key)
            .and_then(|()| prove_staged(&staged, new_key))
        {
            let _ = remove_staged(&path);
            return Err(e);
        }
        // Empty the WAL first: the replaced store's connection deletes its
        // WAL by name when it closes, and the new store uses the same name.
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        fs::rename(&staged, &path)?;
        sync_directory(&path)?;
        // The connection still holds the replaced file; close it before the
        // new store opens (the exclusive lock is on the file's name too).
        drop(std::mem::replace(
            &mut self.conn,
            Connection::open_in_memory()?,
        ));
        *self = SqlCipherStore::open(&path, new_key)?;
        Ok(())
    }

    /// Writes the whole store, schema version included, into a new database
    /// at `staged` keyed with `key`; detaches it whatever happened.
    fn export_to(&mut self, staged: &Path, key: &DatabaseKey) -> Result<()> {
        let staged = staged.to_str().ok_or(Error::CorruptStore)?;
        // The key goes in as the `x'…'` literal, as in `PRAGMA key`, so
        // SQLCipher uses it as the raw key; the bound copy is wiped after.
        let literal: Zeroizing<String> = key.pragma_literal();
        self.conn.execute(
            &format!("ATTACH DATABASE ?1 AS {STAGED_SCHEMA} KEY ?2"),
            rusqlite::params![staged, literal.as_str()],
        )?;
        let exported = self.copy_into_staged().map_err(Error::from);
        let detached = self
            .conn
            .execute_batch(&format!("DETACH DATABASE {STAGED_SCHEMA}"))
            .map_err(Error::from);
        exported.and(detached)
    }
}

impl SqlCipherStore {
    /// Copies everything into the attached staged database. The export
    /// leaves out `user_version`, the schema version the migrations read;
    /// it is copied by hand.
    fn copy_into_staged(&mut self) -> rusqlite::Result<()> {
        self.conn.query_row(
            &format!("SELECT sqlcipher_export('{STAGED_SCHEMA}')"),
            [],
            |_| Ok(()),
        )?;
        let version: u32 = self
            .conn
            .query_row("PRAGMA main.user_version", [], |row| row.get(0))?;
        self.conn
            .pragma_update(Some(STAGED_SCHEMA), "user_version", version)
    }
}

/// Opens the staged copy with `key` (the open checks every step: key,
/// schema version, journal mode) and closes it whole: its WAL written back
/// and gone, since only the file itself is renamed over the store.
fn prove_staged(staged: &Path, key: &DatabaseKey) -> Result<()> {
    let mut check = SqlCipherStore::open(staged, key)?;
    crate::store::SottoStore::checkpoint(&mut check)?;
    check.conn.close().map_err(|(_, e)| Error::from(e))?;
    let mut wal = staged.as_os_str().to_owned();
    wal.push("-wal");
    match fs::metadata(PathBuf::from(wal)) {
        Ok(meta) if meta.len() > 0 => Err(Error::Io(std::io::Error::other(
            "the staged copy kept a write-ahead log",
        ))),
        _ => Ok(()),
    }
}

/// Makes a rename in `path`'s directory durable.
fn sync_directory(path: &Path) -> Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
