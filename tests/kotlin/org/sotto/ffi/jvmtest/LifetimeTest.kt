package org.sotto.ffi.jvmtest

import java.nio.file.Path
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/** Objects close cleanly, and several live side by side. */
class LifetimeTest {
    @Test
    fun `a closed account throws a clear error and closing twice is harmless`(@TempDir dir: Path) {
        val account = openStore(dir, "a.db", newKey())
        account.close()
        val error = expectThrows<IllegalStateException> { account.identityKey() }
        assertTrue(error.message!!.contains("destroyed"))
        account.close()
    }

    @Test
    fun `use releases the store so it opens again with the same identity`(@TempDir dir: Path) {
        val key = newKey()
        val identity = openStore(dir, "a.db", key).use { it.identityKey() }
        openStore(dir, "a.db", key).use { assertTrue(identity.contentEquals(it.identityKey())) }
    }

    @Test
    fun `two accounts in one JVM agree on their safety number`(@TempDir dir: Path) {
        val alice = openStore(dir, "alice.db", newKey())
        val bob = openStore(dir, "bob.db", newKey())
        openStore(dir, "carol.db", newKey()).use { carol ->
            assertFalse(alice.identityKey().contentEquals(bob.identityKey()))

            val atAlice = alice.safetyNumber(bob.identityKey())
            val atBob = bob.safetyNumber(alice.identityKey())
            assertEquals(60, atAlice.digits.length)
            assertEquals(atAlice.digits, atBob.digits)
            assertEquals(atAlice.digits, atAlice.grouped.replace(" ", ""))

            // Alice scans Bob's screen; a code from anyone else does not match.
            assertTrue(alice.safetyCodeMatches(bob.identityKey(), atBob.qrPayload))
            val fromCarol = carol.safetyNumber(alice.identityKey()).qrPayload
            assertFalse(alice.safetyCodeMatches(bob.identityKey(), fromCarol))
        }

        // Closing one leaves the other working.
        alice.close()
        assertEquals(emptyList<Any>(), bob.contacts())
        bob.close()
    }
}
