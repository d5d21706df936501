package org.sotto.logic.keys

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.sotto.logic.core.CoreException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

class DatabaseKeyVaultTest {
    /** The Keystore's role played by a software AES-256-GCM key, with the Keystore's IV-by-the-cipher behaviour. */
    private class SoftwareWrapper(var key: SecretKey? = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()) : KeyWrapper {
        /** The phone is locked and the key requires it unlocked. */
        var phoneLocked = false

        override fun wrap(plain: ByteArray, aad: ByteArray): Sealed {
            val c = Cipher.getInstance("AES/GCM/NoPadding")
            c.init(Cipher.ENCRYPT_MODE, key ?: throw KeystoreKeyUnavailableException())
            c.updateAAD(aad)
            return Sealed(c.iv, c.doFinal(plain))
        }

        override fun unwrap(sealed: Sealed, aad: ByteArray): ByteArray {
            if (phoneLocked) throw KeystoreKeyLockedException()
            val c = Cipher.getInstance("AES/GCM/NoPadding")
            c.init(Cipher.DECRYPT_MODE, key ?: throw KeystoreKeyUnavailableException(), GCMParameterSpec(128, sealed.iv))
            c.updateAAD(aad)
            return c.doFinal(sealed.ciphertext)
        }
    }

    /** A simulated power cut: the step that throws it did not happen. */
    private class Crash : RuntimeException("crash")

    /** Counts the steps that change something and cuts the power before step number [at]. */
    private class PowerCut(var at: Int = Int.MAX_VALUE) {
        var steps = 0
        fun step() {
            if (steps == at) throw Crash()
            steps++
        }
    }

    private class MemoryFile(var bytes: ByteArray? = null, val power: PowerCut = PowerCut()) : KeyFile {
        var writes = 0
        override fun read(): ByteArray? = bytes?.copyOf()
        override fun write(bytes: ByteArray) {
            power.step()
            writes++
            this.bytes = bytes.copyOf()
        }

        override fun delete() {
            power.step()
            bytes = null
        }
    }

    /** The database's role: it is under one key, opens only with it, and a rekey is one atomic step. */
    private class FakeDatabase(var key: ByteArray? = null, val power: PowerCut = PowerCut()) {
        /** Opens with [key]; the first open creates the database under it. */
        fun open(key: DatabaseKey): Handle {
            val bytes = key.copyBytes()
            val current = this.key
            if (current == null) this.key = bytes else if (!current.contentEquals(bytes)) throw CoreException.WrongKey()
            return Handle()
        }

        fun rekey(key: DatabaseKey) {
            power.step()
            this.key = key.copyBytes()
        }

        inner class Handle : AutoCloseable {
            override fun close() {}
        }
    }

    // Few iterations keep the test fast; the count is stored in the file, so the code path is the same.
    private fun vault(wrapper: KeyWrapper, file: KeyFile, pending: KeyFile = MemoryFile()) =
        DatabaseKeyVault(wrapper, file, pending, pbkdf2Iterations = 1_000)

    private fun DatabaseKeyVault.open(passphrase: String?, db: FakeDatabase) = open(passphrase?.toCharArray(), db::open)

    private fun DatabaseKeyVault.change(current: String?, new: String?, db: FakeDatabase) =
        changePassphrase(current?.toCharArray(), new?.toCharArray(), db::rekey)

    @Test
    fun `the key is made once and the same key comes back`() {
        val file = MemoryFile()
        val db = FakeDatabase()
        val v = vault(SoftwareWrapper(), file)
        assertFalse(v.exists())
        v.open(null, db)
        val first = db.key!!
        assertEquals(32, first.size)
        assertTrue(v.exists())
        v.open(null, db)
        assertArrayEquals(first, db.key)
        assertEquals(1, file.writes)
        assertFalse(first.all { it == 0.toByte() })
    }

    @Test
    fun `every passphrase change rekeys the database, and only the right passphrase opens it`() {
        val file = MemoryFile()
        val pending = MemoryFile()
        val db = FakeDatabase()
        val v = vault(SoftwareWrapper(), file, pending)
        v.open(null, db)
        val keys = mutableListOf(db.key!!)
        v.change(null, "correct horse", db)
        keys += db.key!!
        assertTrue(v.isPassphraseProtected())
        assertThrows(VaultException.PassphraseRequired::class.java) { v.open(null, db) }
        assertThrows(VaultException.WrongPassphrase::class.java) { v.open("wrong", db) }
        v.open("correct horse", db)
        assertThrows(VaultException.WrongPassphrase::class.java) { v.change("wrong", "battery staple", db) }
        v.change("correct horse", "battery staple", db)
        keys += db.key!!
        assertThrows(VaultException.WrongPassphrase::class.java) { v.open("correct horse", db) }
        v.open("battery staple", db)
        v.change("battery staple", null, db)
        keys += db.key!!
        assertFalse(v.isPassphraseProtected())
        v.open(null, db)
        assertEquals(4, keys.map { it.toList() }.toSet().size, "each change made a new key")
        assertNull(pending.bytes)
    }

    /** Issue 19: a copy of the key file kept from before the change (a backup, a copied file) is useless after it. */
    @Test
    fun `a key file copied before the passphrase changed no longer opens the database`() {
        val wrapper = SoftwareWrapper()
        val file = MemoryFile()
        val db = FakeDatabase()
        vault(wrapper, file).open(null, db)
        val copied = file.bytes!!.copyOf()
        vault(wrapper, file).change(null, "a new lock", db)
        assertThrows(CoreException.WrongKey::class.java) { vault(wrapper, MemoryFile(copied)).open(null, db) }
        // Removing the passphrase again makes a new key too: the copy stays useless.
        vault(wrapper, file).change("a new lock", null, db)
        assertThrows(CoreException.WrongKey::class.java) { vault(wrapper, MemoryFile(copied)).open(null, db) }
        vault(wrapper, file).open(null, db)
    }

    /**
     * Cuts the power before each step of a change in turn (the pending
     * write, the rekey, the main write, the pending delete) for a set,
     * changed and removed passphrase. After every cut the passphrase that
     * goes with the database's key opens it, the slots are settled by that
     * open, and an older key file opens the database exactly when the rekey
     * did not happen.
     */
    @Test
    fun `a crash at any step of a change leaves a key file that opens the database`() {
        val wrapper = SoftwareWrapper()
        for ((old, new) in listOf(null to "first lock", "first lock" to "second lock", "second lock" to null)) {
            var completed = false
            var at = 0
            while (!completed) {
                val power = PowerCut()
                val file = MemoryFile(power = power)
                val pending = MemoryFile(power = power)
                val db = FakeDatabase(power = power)
                vault(wrapper, file, pending).apply {
                    open(null, db)
                    if (old != null) change(null, old, db)
                }
                val before = db.key!!
                val beforeFile = file.bytes!!
                power.at = power.steps + at
                try {
                    vault(wrapper, file, pending).change(old, new, db)
                    completed = true
                } catch (e: Crash) {
                    // The power came back: a new process, a new vault over the same files.
                }
                power.at = Int.MAX_VALUE
                val rekeyed = !db.key!!.contentEquals(before)
                val reopened = vault(wrapper, file, pending)
                if (new != null && rekeyed) assertTrue(reopened.isPassphraseProtected(), "the unlock screen asks ($old -> $new, step $at)")
                reopened.open(if (rekeyed) new else old, db)
                assertNull(pending.bytes, "settled ($old -> $new, step $at)")
                assertEquals(if (rekeyed) new != null else old != null, reopened.isPassphraseProtected())
                reopened.open(if (rekeyed) new else old, db)
                val fromOldFile = runCatching { vault(wrapper, MemoryFile(beforeFile)).open(old, db) }
                assertEquals(!rekeyed, fromOldFile.isSuccess, "the old key file ($old -> $new, step $at)")
                if (rekeyed) assertTrue(fromOldFile.exceptionOrNull() is CoreException.WrongKey)
                at++
            }
            assertEquals(5, at, "four steps, a crash before each, then a whole change ($old -> $new)")
        }
    }

    @Test
    fun `a failed rekey keeps both slots until an open settles them`() {
        val wrapper = SoftwareWrapper()
        val file = MemoryFile()
        val pending = MemoryFile()
        val db = FakeDatabase()
        val v = vault(wrapper, file, pending)
        v.open(null, db)
        val before = db.key!!
        assertThrows(IllegalStateException::class.java) {
            v.changePassphrase(null, "lock".toCharArray()) { throw IllegalStateException("disk full") }
        }
        assertNotNull(pending.bytes)
        assertThrows(VaultException.ChangeUnfinished::class.java) { v.change(null, "lock", db) }
        // The database stayed under its key; the lock screen asks, and any passphrase opens it through the main slot.
        assertTrue(v.isPassphraseProtected())
        v.open("anything", db)
        assertArrayEquals(before, db.key)
        assertNull(pending.bytes)
        assertFalse(v.isPassphraseProtected())
        v.change(null, "lock", db)
        v.open("lock", db)
    }

    @Test
    fun `a lost keystore key is reported and the file is never replaced`() {
        val file = MemoryFile()
        val wrapper = SoftwareWrapper()
        val db = FakeDatabase()
        vault(wrapper, file).open(null, db)
        val before = file.bytes!!.copyOf()
        wrapper.key = null
        assertThrows(VaultException.KeystoreKeyUnavailable::class.java) { vault(wrapper, file).open(null, db) }
        // A different key (a restore onto another phone) does not authenticate either.
        assertThrows(VaultException.Corrupt::class.java) { vault(SoftwareWrapper(), file).open(null, db) }
        assertArrayEquals(before, file.bytes)
        assertEquals(1, file.writes)
    }

    /** The Keystore key requires an unlocked phone: while it is locked nothing opens, nothing changes, and the error says why. */
    @Test
    fun `a locked phone is reported and changes nothing`() {
        val file = MemoryFile()
        val wrapper = SoftwareWrapper()
        val db = FakeDatabase()
        vault(wrapper, file).open(null, db)
        val before = file.bytes!!.copyOf()
        wrapper.phoneLocked = true
        assertThrows(VaultException.DeviceLocked::class.java) { vault(wrapper, file).open(null, db) }
        assertArrayEquals(before, file.bytes)
        wrapper.phoneLocked = false
        vault(wrapper, file).open(null, db)
    }

    @Test
    fun `damaged files give a clear error and stay as they were`() {
        val wrapper = SoftwareWrapper()
        val good = MemoryFile()
        vault(wrapper, good).open("pass", FakeDatabase())
        val original = good.bytes!!
        val cases = listOf(
            ByteArray(3),
            "NOTSOTTO".toByteArray() + ByteArray(30),
            original.copyOf().also { it[8] = 9 }, // version
            original.copyOf().also { it[9] = 7 }, // mode
            original.copyOf(20), // truncated
            original.copyOf().also { it[it.size - 1] = (it[it.size - 1].toInt() xor 1).toByte() }, // tag
            original.copyOf().also { it[9] = 0 }, // mode flipped: header is authenticated
        )
        for (bytes in cases) {
            val file = MemoryFile(bytes)
            val e = assertThrows(VaultException::class.java) { vault(wrapper, file).open("pass", FakeDatabase()) }
            assertTrue(e is VaultException.Corrupt, "got ${e::class.simpleName}")
            assertArrayEquals(bytes, file.bytes)
            assertEquals(0, file.writes)
        }
    }

    @Test
    fun `the key and errors never show secrets, and the key is wiped once the database has it`() {
        val v = vault(SoftwareWrapper(), MemoryFile())
        val db = FakeDatabase()
        v.open("hunter2", db)
        val e = assertThrows(VaultException.WrongPassphrase::class.java) { v.open("hunter3", db) }
        assertFalse("hunter" in e.message.orEmpty())
        var handed: DatabaseKey? = null
        v.open("hunter2".toCharArray()) { key -> handed = key; db.open(key) }
        val key = checkNotNull(handed)
        assertEquals("DatabaseKey(redacted)", key.toString())
        assertTrue(key.copyBytes().all { it == 0.toByte() })
    }
}
