package org.sotto.ffi.jvmtest

import java.nio.file.Path
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.sotto.ffi.Account
import org.sotto.ffi.SottoException

/**
 * Issue 19 (key vault): the app rekeys the open account when the passphrase
 * lock changes, so an older copy of the wrapped key no longer opens it.
 */
class RekeyTest {
    @Test
    fun `a rekeyed account goes on, and afterwards only the new key opens it`(@TempDir dir: Path) {
        val oldKey = newKey()
        val newKey = newKey()
        val bobInvite = openStore(dir, "bob", newKey()).use { it.contactInvite() }
        val (identity, bobId) = openStore(dir, "alice", oldKey).use { alice ->
            val bobId = alice.addContact(bobInvite, "Bob")
            alice.rekey(newKey)
            // The open account reads and writes on.
            assertEquals(listOf("Bob"), alice.contacts().map { it.name })
            alice.addContact(bobInvite, "Robert")
            alice.identityKey() to bobId
        }

        val dataDir = dir.resolve("alice").toString()
        expectThrows<SottoException.WrongKey> { Account.openWithKey(dataDir, oldKey, testOptions()) }
        Account.openWithKey(dataDir, newKey, testOptions()).use { alice ->
            assertTrue(identity.contentEquals(alice.identityKey()))
            assertEquals(listOf(bobId to "Robert"), alice.contacts().map { it.id to it.name })
        }
    }

    @Test
    fun `a key that is not 32 bytes is refused and changes nothing`(@TempDir dir: Path) {
        val key = newKey()
        openStore(dir, "alice", key).use { alice ->
            expectThrows<SottoException.InvalidInput> { alice.rekey(ByteArray(16)) }
        }
        openStore(dir, "alice", key).close()
    }
}
