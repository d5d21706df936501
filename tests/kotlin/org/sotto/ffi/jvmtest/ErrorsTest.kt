package org.sotto.ffi.jvmtest

import java.nio.file.Files
import java.nio.file.Path
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.sotto.ffi.Account
import org.sotto.ffi.SottoException

/** Failures reach Kotlin as the right `SottoException`, and lose nothing. */
class ErrorsTest {
    @Test
    fun `a wrong key is WrongKey and the store still opens with the right one`(@TempDir dir: Path) {
        val key = newKey()
        val identity = openStore(dir, "a.db", key).use { it.identityKey() }

        val error = expectThrows<SottoException.WrongKey> { openStore(dir, "a.db", newKey()) }
        assertFalse(error.message!!.contains(dir.toString()), "the message names no path")

        openStore(dir, "a.db", key).use { assertArrayEquals(identity, it.identityKey()) }
    }

    @Test
    fun `a wrong passphrase is WrongKey`(@TempDir dir: Path) {
        val path = dir.resolve("p.db").toString()
        val identity = Account.createWithPassphrase(path, "correct horse", OFFLINE_RELAY, testOptions())
            .use { it.identityKey() }

        val error = expectThrows<SottoException.WrongKey> {
            Account.openWithPassphrase(path, "wrong horse", testOptions())
        }
        assertFalse(error.message!!.contains("horse"), "the message carries no passphrase")

        Account.openWithPassphrase(path, "correct horse", testOptions()).use {
            assertArrayEquals(identity, it.identityKey())
        }
    }

    @Test
    fun `opening where there is no account is NoAccount, creating twice is AccountExists`(@TempDir dir: Path) {
        val path = dir.resolve("a").toString()
        expectThrows<SottoException.NoAccount> { Account.openWithKey(path, newKey(), testOptions()) }
        val key = newKey()
        Account.createWithKey(path, key, OFFLINE_RELAY, testOptions()).close()
        expectThrows<SottoException.AccountExists> { Account.createWithKey(path, key, OFFLINE_RELAY, testOptions()) }
        expectThrows<SottoException.InvalidInput> {
            Account.createWithKey(dir.resolve("b").toString(), newKey(), "sotto-relay:2/x", testOptions())
        }
    }

    @Test
    fun `a key that is not 32 bytes is InvalidInput and creates no file`(@TempDir dir: Path) {
        expectThrows<SottoException.InvalidInput> { openStore(dir, "short.db", ByteArray(16)) }
        assertFalse(Files.exists(dir.resolve("short.db")))
    }

    @Test
    fun `a store open twice is StoreLocked until the first handle closes`(@TempDir dir: Path) {
        val key = newKey()
        val first = openStore(dir, "a.db", key)
        expectThrows<SottoException.StoreLocked> { openStore(dir, "a.db", key) }
        first.close()
        openStore(dir, "a.db", key).use { assertEquals(33, it.identityKey().size) }
    }

    @Test
    fun `bad arguments are InvalidInput or UnknownContact`(@TempDir dir: Path) {
        openStore(dir, "a.db", newKey()).use { account ->
            expectThrows<SottoException.InvalidInput> { account.safetyNumber(byteArrayOf(1, 2, 3)) }
            expectThrows<SottoException.UnknownContact> { account.disappearingTimer("no-such-contact") }
            expectThrows<SottoException.UnknownContact> { account.contactSafetyNumber("no-such-contact") }
            val someone = openStore(dir, "b.db", newKey()).use { it.identityKey() }
            expectThrows<SottoException.InvalidInput> {
                account.safetyCodeMatches(someone, "not a code".toByteArray())
            }
        }
    }
}
