package org.sotto.ffi.jvmtest

import java.nio.file.Path
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.sotto.ffi.SottoException
import org.sotto.ffi.sealForLockedInbox

/** SMS that arrive while the account is locked are sealed to its locked-inbox key, and open only once it is unlocked. */
class LockedInboxTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun `a record sealed while locked opens after unlock, and nowhere else`() {
        val key = newKey()
        val publicKey = openStore(dir, "alice", key).use { it.lockedInboxKey() }
        // Locked: nothing is open; the app seals with the public key alone.
        val record = "+4940555123 Dinner on Sunday?".toByteArray()
        val sealed = sealForLockedInbox(publicKey, record)
        assertFalse(String(sealed, Charsets.ISO_8859_1).contains("Dinner"))
        assertFalse(String(sealed, Charsets.ISO_8859_1).contains("4940555123"))
        openStore(dir, "alice", key).use { alice ->
            assertArrayEquals(publicKey, alice.lockedInboxKey(), "one key for the account")
            assertArrayEquals(record, alice.openLockedInbox(sealed))
            val damaged = sealed.copyOf().also { it[40] = (it[40].toInt() xor 1).toByte() }
            expectThrows<SottoException.Undecryptable> { alice.openLockedInbox(damaged) }
        }
        openStore(dir, "other", newKey()).use { other ->
            other.lockedInboxKey()
            expectThrows<SottoException.Undecryptable> { other.openLockedInbox(sealed) }
        }
        expectThrows<SottoException.InvalidInput> { sealForLockedInbox("garbage".toByteArray(), record) }
    }
}
