package org.sotto.logic.sms

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class PendingSmsQueueTest {
    private val a = ReceivedSms("+447700900123", "Hello ✓ 😀", 1_700_000_000_000)
    private val b = ReceivedSms("SOTTO", "x".repeat(2000), 1_700_000_000_500)

    @Test
    fun `records read back in order`() {
        val file = PendingSmsQueue.encode(a) + PendingSmsQueue.encode(b)
        assertEquals(PendingSmsRead(listOf(a, b), damagedTail = false), PendingSmsQueue.decode(file))
        assertEquals(PendingSmsRead(emptyList(), false), PendingSmsQueue.decode(ByteArray(0)))
    }

    @Test
    fun `a crash mid-append costs only the last record`() {
        val whole = PendingSmsQueue.encode(a)
        val next = PendingSmsQueue.encode(b)
        for (cut in 1 until next.size) {
            val read = PendingSmsQueue.decode(whole + next.copyOf(cut))
            assertEquals(listOf(a), read.messages, "cut at $cut")
            assertTrue(read.damagedTail)
        }
    }

    @Test
    fun `garbage is reported, not thrown`() {
        val read = PendingSmsQueue.decode(PendingSmsQueue.encode(a) + byteArrayOf(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14))
        assertEquals(listOf(a), read.messages)
        assertTrue(read.damagedTail)
        val huge = PendingSmsQueue.encode(a).also { it[12 + 13] = 0x7F }
        assertTrue(PendingSmsQueue.decode(huge).damagedTail)
    }

    @Test
    fun `limits and redaction`() {
        assertThrows(IllegalArgumentException::class.java) {
            PendingSmsQueue.encode(ReceivedSms("x", "y".repeat(PendingSmsQueue.MAX_BODY_BYTES + 1), 0))
        }
        assertFalse("Hello" in a.toString())
        assertFalse("7700" in a.toString())
    }
}
