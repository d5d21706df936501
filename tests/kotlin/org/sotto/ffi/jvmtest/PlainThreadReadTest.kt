package org.sotto.ffi.jvmtest

import java.nio.file.Path
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.sotto.ffi.HistoryItem
import org.sotto.ffi.PlainState
import org.sotto.ffi.SmsSettings
import org.sotto.ffi.SottoException

/** Unread counts of plain threads, and marking one read. */
class PlainThreadReadTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun `a plain thread counts received SMS until it is marked read`() {
        openStore(dir, "bob", newKey()).use { bob ->
            bob.setSmsSettings(SmsSettings(neverEncryptedSms = false, smsOnly = false, region = "DE", dataSms = false))
            val number = "+4930901822"
            // Imported history counts as read.
            bob.importSmsHistory(listOf(HistoryItem("sms:1", number, false, "Old", 1000uL, PlainState.RECEIVED, emptyList())))
            assertEquals(0u, bob.plainThreads().single().unreadCount)

            bob.smsReceived(number, "Are we still on for Friday?")
            bob.smsReceived("030 901822", "Let me know")
            bob.sendTextToNumber(number, "Yes")
            assertEquals(2u, bob.plainThreads().single().unreadCount)
            assertEquals(2u, bob.markPlainThreadRead("030 901822"))
            assertEquals(0u, bob.plainThreads().single().unreadCount)

            bob.smsReceived(number, "Great")
            assertEquals(1u, bob.plainThreads().single().unreadCount)
            expectThrows<SottoException.InvalidInput> { bob.markPlainThreadRead("+") }
        }
    }
}
