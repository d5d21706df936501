//! The SQLCipher schema and its migrations, versioned with
//! `PRAGMA user_version`. Each migration runs in the same transaction as the
//! version bump, so a crash leaves either the old schema or the new one.

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Migrations in order; `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // Version 1: accounts, libsignal state, contacts, messages, outbox.
    // Outbox and held ids are AUTOINCREMENT: an id handed to a transport must
    // never come back for a different envelope.
    r#"
    CREATE TABLE account (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        identity BLOB NOT NULL,
        registration_id INTEGER NOT NULL
    );
    CREATE TABLE prekey_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        next_ec_id INTEGER NOT NULL,
        next_kyber_id INTEGER NOT NULL,
        next_signed_id INTEGER NOT NULL,
        active_signed_id INTEGER,
        signed_created_at_ms INTEGER NOT NULL,
        active_last_resort_id INTEGER,
        last_resort_created_at_ms INTEGER NOT NULL,
        ec_handed_out_below INTEGER NOT NULL,
        kyber_handed_out_below INTEGER NOT NULL
    );
    CREATE TABLE prekeys (id INTEGER PRIMARY KEY, record BLOB NOT NULL);
    CREATE TABLE signed_prekeys (id INTEGER PRIMARY KEY, record BLOB NOT NULL);
    CREATE TABLE kyber_prekeys (
        id INTEGER PRIMARY KEY,
        record BLOB NOT NULL,
        last_resort INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE kyber_base_keys_seen (
        kyber_id INTEGER NOT NULL,
        signed_id INTEGER NOT NULL,
        base_key BLOB NOT NULL,
        PRIMARY KEY (kyber_id, signed_id, base_key)
    ) WITHOUT ROWID;
    CREATE TABLE identities (
        contact TEXT PRIMARY KEY,
        identity_key BLOB NOT NULL,
        verified INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sessions (contact TEXT PRIMARY KEY, record BLOB NOT NULL);
    CREATE TABLE sender_keys (
        sender TEXT NOT NULL,
        device INTEGER NOT NULL,
        distribution_id BLOB NOT NULL,
        record BLOB NOT NULL,
        PRIMARY KEY (sender, device, distribution_id)
    );
    CREATE TABLE contacts (id TEXT PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE conversation_settings (
        contact TEXT PRIMARY KEY,
        expire_timer_secs INTEGER NOT NULL,
        keep_no_history INTEGER NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        message_id BLOB NOT NULL,
        contact TEXT NOT NULL,
        direction INTEGER NOT NULL,
        body TEXT NOT NULL,
        sent_at_ms INTEGER NOT NULL,
        stored_at_ms INTEGER NOT NULL,
        state INTEGER NOT NULL,
        expires_at_ms INTEGER,
        UNIQUE (contact, message_id, direction)
    );
    CREATE INDEX messages_by_time ON messages (contact, stored_at_ms);
    CREATE INDEX messages_by_expiry ON messages (expires_at_ms)
        WHERE expires_at_ms IS NOT NULL;
    CREATE TABLE received_ids (
        contact TEXT NOT NULL,
        message_id BLOB NOT NULL,
        received_at_ms INTEGER NOT NULL,
        PRIMARY KEY (contact, message_id)
    ) WITHOUT ROWID;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        contact TEXT NOT NULL,
        message_id BLOB NOT NULL,
        envelope BLOB NOT NULL
    );
    CREATE TABLE held_envelopes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        contact TEXT NOT NULL,
        envelope BLOB NOT NULL,
        offered_identity BLOB
    );
    "#,
    // Version 2: find a contact by identity key (the relay names senders by
    // their identity key).
    r#"
    CREATE INDEX identities_by_key ON identities (identity_key);
    "#,
    // Version 3: the relay a contact receives on, as its invite text.
    r#"
    ALTER TABLE contacts ADD COLUMN relay TEXT;
    "#,
    // Version 4 (SMS, issue 4): phone numbers of contacts, and plain SMS/MMS
    // threads keyed by normalised phone number, with MMS attachments as
    // blobs. `external_id` de-duplicates imports of the phone's history.
    // `sms_parts` holds parts of unfinished encrypted SMS across restarts.
    r#"
    CREATE TABLE contact_phones (
        phone TEXT PRIMARY KEY,
        contact TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX contact_phones_by_contact ON contact_phones (contact);
    CREATE TABLE plain_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        phone TEXT NOT NULL,
        direction INTEGER NOT NULL,
        body TEXT NOT NULL,
        parts INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        state INTEGER NOT NULL,
        attachment_count INTEGER NOT NULL,
        external_id TEXT UNIQUE
    );
    CREATE INDEX plain_messages_by_time ON plain_messages (phone, at_ms);
    CREATE TABLE plain_attachments (
        message INTEGER NOT NULL,
        position INTEGER NOT NULL,
        mime TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (message, position)
    ) WITHOUT ROWID;
    CREATE TABLE sms_parts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        phone TEXT NOT NULL,
        wire_id INTEGER NOT NULL,
        part_count INTEGER NOT NULL,
        data INTEGER NOT NULL,
        body BLOB NOT NULL,
        received_at_ms INTEGER NOT NULL
    );
    CREATE INDEX sms_parts_by_message ON sms_parts (phone, wire_id, part_count);
    "#,
    // Version 5: application settings (the account's own relay invite,
    // receipt preferences), as keys and text values; see `app::AppSettings`.
    r#"
    CREATE TABLE app_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    "#,
    // Version 6 (the app's SMS bridge, `app::sms`): SMS waiting for the radio
    // and for its sent/delivered reports, so that a killed app process loses
    // none. Rows of one `batch` carry one payload (or one plain SMS);
    // `sms_queue_texts` names the encrypted texts a batch carries, whose
    // delivery state follows the batch. `data_port` is NULL for a text SMS.
    // `state`: 0 queued, 1 handed to the app, 2 sent, 3 delivered, 4 failed.
    // `sms_legs` keeps the SMS handshake legs waiting for the other side
    // (kind 0: our hello, 1: our answer; 2, since handshake version 2: our
    // relay, promised and not yet delivered, with `attempts` counting the
    // times it went out). `read_marks` keeps, per conversation, the newest
    // `messages` row the user has seen, for unread counts.
    r#"
    CREATE TABLE sms_queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        batch INTEGER NOT NULL,
        phone TEXT NOT NULL,
        data_port INTEGER,
        body BLOB NOT NULL,
        encrypted INTEGER NOT NULL,
        plain_message INTEGER,
        state INTEGER NOT NULL,
        queued_at_ms INTEGER NOT NULL
    );
    CREATE INDEX sms_queue_by_batch ON sms_queue (batch);
    CREATE TABLE sms_queue_texts (
        batch INTEGER NOT NULL,
        contact TEXT NOT NULL,
        message_id BLOB NOT NULL
    );
    CREATE INDEX sms_queue_texts_by_batch ON sms_queue_texts (batch);
    CREATE TABLE sms_legs (
        phone TEXT NOT NULL,
        kind INTEGER NOT NULL,
        contact TEXT NOT NULL,
        payload BLOB NOT NULL,
        sent_at_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        PRIMARY KEY (phone, kind)
    ) WITHOUT ROWID;
    CREATE TABLE read_marks (
        contact TEXT PRIMARY KEY,
        read_up_to INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // Version 7 (groups, issue 4 item 5): groups, their members (with
    // whether each has our sender key for the group's current
    // distribution), and group texts. `sender` is '' for our own texts.
    // `held_group_texts` keeps texts that arrived before the group state
    // that makes their sender a member.
    r#"
    CREATE TABLE groups (
        id BLOB PRIMARY KEY,
        name TEXT NOT NULL,
        revision INTEGER NOT NULL,
        distribution_id BLOB NOT NULL,
        active INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE group_members (
        group_id BLOB NOT NULL,
        contact TEXT NOT NULL,
        key_sent INTEGER NOT NULL,
        PRIMARY KEY (group_id, contact)
    ) WITHOUT ROWID;
    CREATE TABLE group_messages (
        id INTEGER PRIMARY KEY,
        group_id BLOB NOT NULL,
        sender TEXT NOT NULL,
        message_id BLOB NOT NULL,
        body TEXT NOT NULL,
        sent_at_ms INTEGER NOT NULL,
        stored_at_ms INTEGER NOT NULL,
        UNIQUE (group_id, sender, message_id)
    );
    CREATE INDEX group_messages_by_time ON group_messages (group_id, stored_at_ms);
    CREATE TABLE held_group_texts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        group_id BLOB NOT NULL,
        sender TEXT NOT NULL,
        message_id BLOB NOT NULL,
        body TEXT NOT NULL,
        sent_at_ms INTEGER NOT NULL,
        stored_at_ms INTEGER NOT NULL
    );
    CREATE INDEX held_group_texts_by_group ON held_group_texts (group_id);
    CREATE INDEX held_group_texts_by_sender ON held_group_texts (sender);
    "#,
    // Version 8 (SMS): payloads sent by encrypted SMS, kept (bounded by the
    // endpoint's cache size and age) to answer resend requests after a
    // restart. `contact`/`message_id` name the 1:1 text a payload carries.
    r#"
    CREATE TABLE sms_sent (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        phone TEXT NOT NULL,
        wire_id INTEGER NOT NULL,
        payload BLOB NOT NULL,
        data INTEGER NOT NULL,
        sent_at_ms INTEGER NOT NULL,
        contact TEXT,
        message_id BLOB,
        refreshes_left INTEGER NOT NULL
    );
    "#,
    // Version 9: `messages` ids never come back (AUTOINCREMENT). SQLite
    // otherwise hands out the largest id again once that row is deleted (a
    // disappearing text, history switched off), and the read marks
    // (`read_marks.read_up_to`, "everything up to this id was read") would
    // count a new text as read. The table is rebuilt with the same columns,
    // rows and indexes; new ids start above every id kept and every read
    // mark (ids already handed out and deleted may be above both).
    r#"
    CREATE TABLE messages_v9 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id BLOB NOT NULL,
        contact TEXT NOT NULL,
        direction INTEGER NOT NULL,
        body TEXT NOT NULL,
        sent_at_ms INTEGER NOT NULL,
        stored_at_ms INTEGER NOT NULL,
        state INTEGER NOT NULL,
        expires_at_ms INTEGER,
        UNIQUE (contact, message_id, direction)
    );
    INSERT INTO messages_v9
        SELECT id, message_id, contact, direction, body, sent_at_ms, stored_at_ms,
               state, expires_at_ms
        FROM messages;
    INSERT INTO sqlite_sequence (name, seq)
        SELECT 'messages_v9', 0
        WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'messages_v9');
    UPDATE sqlite_sequence
        SET seq = MAX(seq, COALESCE((SELECT MAX(read_up_to) FROM read_marks), 0))
        WHERE name = 'messages_v9';
    DROP TABLE messages;
    ALTER TABLE messages_v9 RENAME TO messages;
    CREATE INDEX messages_by_time ON messages (contact, stored_at_ms);
    CREATE INDEX messages_by_expiry ON messages (expires_at_ms)
        WHERE expires_at_ms IS NOT NULL;
    "#,
    // Version 10 (calls, issue 7): the call log, one row per call that ended
    // or was not rung, written by the app's call shell (`app::call_log`).
    // `call_id` is NULL for a call that was never rung (busy, stale offer);
    // `end_reason` is NULL then too. `expires_at_ms` follows the contact's
    // disappearing-messages timer. Codes are in `store::sqlcipher::call_log`.
    r#"
    CREATE TABLE call_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        call_id BLOB,
        contact TEXT NOT NULL,
        direction INTEGER NOT NULL,
        started_at_ms INTEGER NOT NULL,
        connected_at_ms INTEGER,
        ended_at_ms INTEGER NOT NULL,
        end_reason INTEGER,
        path INTEGER,
        while_busy INTEGER NOT NULL,
        expires_at_ms INTEGER
    );
    CREATE INDEX call_log_by_time ON call_log (started_at_ms);
    CREATE INDEX call_log_by_expiry ON call_log (expires_at_ms)
        WHERE expires_at_ms IS NOT NULL;
    CREATE INDEX call_log_by_contact ON call_log (contact);
    "#,
    // Version 11 (SMS): how each 1:1 text travelled. `by_sms`: it went or
    // came as encrypted SMS rather than through the relay; `sms_failed`: an
    // SMS carrying it (outgoing) failed and it waits for a retry. Texts
    // stored before read as relayed and not failed. `plain_read_marks`:
    // the newest plain message of each thread the user has seen; what was
    // stored before counts as seen (the app showed it without a count).
    r#"
    ALTER TABLE messages ADD COLUMN by_sms INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN sms_failed INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE plain_read_marks (
        phone TEXT PRIMARY KEY,
        read_up_to INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO plain_read_marks (phone, read_up_to)
        SELECT phone, MAX(id) FROM plain_messages GROUP BY phone;
    "#,
    // Version 12 (security): a number linked by answering its hello stays
    // `handshake_pending` until the number shows it holds the key (the
    // handshake's last leg, a message in the session our answer made), so
    // a forged hello cannot turn the number's plain thread encrypted.
    r#"
    ALTER TABLE contact_phones ADD COLUMN handshake_pending INTEGER NOT NULL DEFAULT 0;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database up to [`SCHEMA_VERSION`].
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(Error::StoreTooNew(current));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as u32 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store at schema version 8 with texts, a read mark over the newest
    /// one (since deleted) and a plain thread, brought up to date.
    #[test]
    fn an_existing_store_migrates_without_losing_or_reusing_anything() -> Result<()> {
        let mut conn = Connection::open_in_memory()?;
        for sql in &MIGRATIONS[..8] {
            conn.execute_batch(sql)?;
        }
        conn.pragma_update(None, "user_version", 8)?;
        conn.execute_batch(
            "INSERT INTO messages (id, message_id, contact, direction, body, sent_at_ms,
                                   stored_at_ms, state, expires_at_ms)
             VALUES (1, x'01', 'c', 0, 'one', 1, 1, 0, NULL),
                    (2, x'02', 'c', 0, 'two', 2, 2, 0, NULL),
                    (3, x'03', 'c', 0, 'three', 3, 3, 0, 5);
             INSERT INTO read_marks (contact, read_up_to) VALUES ('c', 3);
             DELETE FROM messages WHERE id = 3;
             INSERT INTO plain_messages (phone, direction, body, parts, at_ms, state,
                                         attachment_count, external_id)
             VALUES ('+4930901820', 0, 'hi', 1, 1, 0, 0, NULL);",
        )?;

        migrate(&mut conn)?;

        let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        assert_eq!(version, SCHEMA_VERSION);
        let bodies: Vec<String> = conn
            .prepare("SELECT body FROM messages ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect::<std::result::Result<_, _>>()?;
        assert_eq!(bodies, ["one", "two"]);
        // The deleted newest id, covered by the read mark, never comes back.
        conn.execute(
            "INSERT INTO messages (message_id, contact, direction, body, sent_at_ms,
                                   stored_at_ms, state)
             VALUES (x'04', 'c', 0, 'four', 4, 4, 0)",
            [],
        )?;
        assert_eq!(conn.last_insert_rowid(), 4);
        let (by_sms, failed): (i64, i64) = conn.query_row(
            "SELECT by_sms, sms_failed FROM messages WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        assert_eq!((by_sms, failed), (0, 0));
        let indexes: i64 = conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index'
             AND name IN ('messages_by_time', 'messages_by_expiry')",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(indexes, 2);
        // What the app showed before the upgrade counts as read.
        let seen: i64 = conn.query_row(
            "SELECT read_up_to FROM plain_read_marks WHERE phone = '+4930901820'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(seen, 1);
        Ok(())
    }
}
