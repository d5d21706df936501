package org.sotto.ffi.jvmtest

import java.nio.file.Path
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.sotto.ffi.Account
import org.sotto.ffi.IncomingSms
import org.sotto.ffi.MmsAttachment
import org.sotto.ffi.PlainState
import org.sotto.ffi.SmsSettings
import org.sotto.ffi.SmsStatus
import org.sotto.ffi.SottoException

/**
 * Plain MMS through the SMS bridge: Alice sends one (stored in her plain
 * thread, reported sent and delivered as Android's MMS result would), a
 * fake MMS centre hands the same text and parts to Bob's `mmsReceived`.
 */
class MmsBridgeTest {
    @TempDir
    lateinit var dir: Path

    private val alice = "+4930901820"
    private val bob = "+4940123456"

    private fun phone(name: String): Account =
        openStore(dir, name, newKey()).also {
            it.setSmsSettings(SmsSettings(neverEncryptedSms = false, smsOnly = false, region = "DE", dataSms = false))
        }

    @Test
    fun `an MMS goes from one plain thread to the other with its parts`() {
        phone("alice").use { a ->
            phone("bob").use { b ->
                val photo = MmsAttachment("image/jpeg", ByteArray(20_000) { (it % 251).toByte() })
                val id = a.sendPlainMms("040 123456", "The view from here", listOf(photo))
                assertTrue(a.takeOutgoingSms().isEmpty(), "an MMS is not an SMS to take")
                fun state() = a.plainMessages(bob, 10u, null).single { it.id == id }.state
                assertEquals(PlainState.PENDING, state())
                val mine = a.plainMessages(bob, 10u, null).single { it.id == id }
                assertTrue(mine.outgoing)
                assertEquals(1u, mine.attachmentCount)
                assertTrue(a.plainAttachments(id).single().data.contentEquals(photo.data))

                assertTrue(a.reportMmsStatus(id, SmsStatus.SENT))
                assertEquals(PlainState.SENT, state())
                // The MMS centre carries it to Bob's phone, which downloads it.
                val received = b.mmsReceived(alice, "The view from here", listOf(photo)) as IncomingSms.Plain
                assertEquals(alice, received.phone)
                val part = b.plainAttachments(received.plainId).single()
                assertEquals("image/jpeg", part.mime)
                assertTrue(part.data.contentEquals(photo.data))

                assertTrue(a.reportMmsStatus(id, SmsStatus.DELIVERED))
                assertFalse(a.reportMmsStatus(id, SmsStatus.FAILED), "delivered is final")
                assertEquals(PlainState.DELIVERED, state())
            }
        }
    }

    @Test
    fun `an MMS that cannot go is refused and nothing is stored`() {
        phone("alice").use { a ->
            expectThrows<SottoException.InvalidInput> { a.sendPlainMms(bob, "", emptyList()) }
            val huge = MmsAttachment("video/mp4", ByteArray(4 * 1024 * 1024 + 1))
            expectThrows<SottoException.InvalidInput> { a.sendPlainMms(bob, "", listOf(huge)) }
            expectThrows<SottoException.InvalidInput> { a.sendPlainMms("+", "x", emptyList()) }
            assertTrue(a.plainThreads().isEmpty())
            val failing = a.sendPlainMms(bob, "Hi", emptyList())
            assertTrue(a.reportMmsStatus(failing, SmsStatus.FAILED))
            assertEquals(PlainState.FAILED, a.plainMessages(bob, 10u, null).single().state)
            assertFalse(a.reportMmsStatus(failing + 100, SmsStatus.SENT), "no such MMS")
        }
    }
}
