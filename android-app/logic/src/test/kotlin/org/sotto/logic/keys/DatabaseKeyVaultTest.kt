package org.sotto.logic.keys

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

class DatabaseKeyVaultTest {
    /** The Keystore's role played by a software AES-256-GCM key, with the Keystore's IV-by-the-cipher behaviour. */
    private class SoftwareWrapper(var key: SecretKey? = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()) : KeyWrapper {
        override fun wrap(plain: ByteArray, aad: ByteArray): Sealed {
            val c = Cipher.getInstance("AES/GCM/NoPadding")
            c.init(Cipher.ENCRYPT_MODE, key ?: throw KeystoreKeyUnavailableException())
            c.updateAAD(aad)
            return Sealed(c.iv, c.doFinal(plain))
        }

        override fun unwrap(sealed: Sealed, aad: ByteArray): ByteArray {
            val c = Cipher.getInstance("AES/GCM/NoPadding")
            c.init(Cipher.DECRYPT_MODE, key ?: throw KeystoreKeyUnavailableException(), GCMParameterSpec(128, sealed.iv))
            c.updateAAD(aad)
            return c.doFinal(sealed.ciphertext)
        }
    }

    private class MemoryFile(var bytes: ByteArray? = null) : KeyFile {
        var writes = 0
        override fun read(): ByteArray? = bytes?.copyOf()
        override fun write(bytes: ByteArray) {
            writes++
            this.bytes = bytes.copyOf()
        }
    }

    // Few iterations keep the test fast; the count is stored in the file, so the code path is the same.
    private fun vault(wrapper: KeyWrapper, file: KeyFile) = DatabaseKeyVault(wrapper, file, pbkdf2Iterations = 1_000)

    @Test
    fun `the key is made once and the same key comes back`() {
        val file = MemoryFile()
        val v = vault(SoftwareWrapper(), file)
        assertFalse(v.exists())
        val first = v.open(null).copyBytes()
        assertEquals(32, first.size)
        assertTrue(v.exists())
        assertArrayEquals(first, v.open(null).copyBytes())
        assertEquals(1, file.writes)
        assertFalse(first.all { it == 0.toByte() })
    }

    @Test
    fun `a passphrase wraps the same key, and only the right one opens it`() {
        val file = MemoryFile()
        val v = vault(SoftwareWrapper(), file)
        val key = v.open(null).copyBytes()
        v.changePassphrase(null, "correct horse".toCharArray())
        assertTrue(v.isPassphraseProtected())
        assertThrows(VaultException.PassphraseRequired::class.java) { v.open(null) }
        assertThrows(VaultException.WrongPassphrase::class.java) { v.open("wrong".toCharArray()) }
        assertArrayEquals(key, v.open("correct horse".toCharArray()).copyBytes())
        v.changePassphrase("correct horse".toCharArray(), "battery staple".toCharArray())
        assertThrows(VaultException.WrongPassphrase::class.java) { v.open("correct horse".toCharArray()) }
        v.changePassphrase("battery staple".toCharArray(), null)
        assertFalse(v.isPassphraseProtected())
        assertArrayEquals(key, v.open(null).copyBytes())
    }

    @Test
    fun `a lost keystore key is reported and the file is never replaced`() {
        val file = MemoryFile()
        val wrapper = SoftwareWrapper()
        vault(wrapper, file).open(null)
        val before = file.bytes!!.copyOf()
        wrapper.key = null
        assertThrows(VaultException.KeystoreKeyUnavailable::class.java) { vault(wrapper, file).open(null) }
        // A different key (a restore onto another phone) does not authenticate either.
        assertThrows(VaultException.Corrupt::class.java) { vault(SoftwareWrapper(), file).open(null) }
        assertArrayEquals(before, file.bytes)
        assertEquals(1, file.writes)
    }

    @Test
    fun `damaged files give a clear error and stay as they were`() {
        val wrapper = SoftwareWrapper()
        val good = MemoryFile()
        vault(wrapper, good).open("pass".toCharArray())
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
            val e = assertThrows(VaultException::class.java) { vault(wrapper, file).open("pass".toCharArray()) }
            assertTrue(e is VaultException.Corrupt, "got ${e::class.simpleName}")
            assertArrayEquals(bytes, file.bytes)
            assertEquals(0, file.writes)
        }
    }

    @Test
    fun `the key and errors never show secrets`() {
        val v = vault(SoftwareWrapper(), MemoryFile())
        v.open("hunter2".toCharArray())
        val e = assertThrows(VaultException.WrongPassphrase::class.java) { v.open("hunter3".toCharArray()) }
        assertFalse("hunter" in e.message.orEmpty())
        val key = v.open("hunter2".toCharArray())
        assertEquals("DatabaseKey(redacted)", key.toString())
        key.close()
        assertTrue(key.copyBytes().all { it == 0.toByte() })
    }
}
