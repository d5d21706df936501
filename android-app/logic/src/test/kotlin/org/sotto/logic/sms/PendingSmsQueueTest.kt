package org.sotto.logic.sms

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class PendingSmsQueueTest {
    private val a = ReceivedSms("+447700900123", "Hello ✓ 😀", 1_700_000_000_000)
    private val b = ReceivedSms("SOTTO", "x".repeat(2000), 1_700_000_000_500)

    // The core seals the plaintext (HPKE); these stand for its output, which the spool treats as opaque bytes.
    private val sealedA = ByteArray(97) { (it * 7).toByte() }
    private val sealedB = ByteArray(2101) { (it * 3 + 1).toByte() }

    @Test
    fun `an SMS survives its plaintext encoding`() {
        assertEquals(a, PendingSmsQueue.decodeSms(PendingSmsQueue.encodeSms(a)))
        assertEquals(b, PendingSmsQueue.decodeSms(PendingSmsQueue.encodeSms(b)))
        val plain = PendingSmsQueue.encodeSms(a)
        assertNull(PendingSmsQueue.decodeSms(plain.copyOf(plain.size - 1)))
        assertNull(PendingSmsQueue.decodeSms(plain + 0))
        assertNull(PendingSmsQueue.decodeSms(ByteArray(3)))
    }

    @Test
    fun `records read back in order, and hold only the sealed bytes`() {
        val file = PendingSmsQueue.record(sealedA) + PendingSmsQueue.record(sealedB)
        val read = PendingSmsQueue.decode(file)
        assertFalse(read.damagedTail)
        assertEquals(2, read.sealed.size)
        assertArrayEquals(sealedA, read.sealed[0])
        assertArrayEquals(sealedB, read.sealed[1])
        assertEquals(6 + sealedA.size + 6 + sealedB.size, file.size, "a 6-byte header and the sealed bytes, nothing else")
        assertTrue(PendingSmsQueue.decode(ByteArray(0)).sealed.isEmpty())
    }

    @Test
    fun `a crash mid-append costs only the last record`() {
        val whole = PendingSmsQueue.record(sealedA)
        val next = PendingSmsQueue.record(sealedB)
        for (cut in 1 until next.size) {
            val read = PendingSmsQueue.decode(whole + next.copyOf(cut))
            assertEquals(1, read.sealed.size, "cut at $cut")
            assertArrayEquals(sealedA, read.sealed[0])
            assertTrue(read.damagedTail)
        }
    }

    @Test
    fun `garbage is reported, not thrown`() {
        val read = PendingSmsQueue.decode(PendingSmsQueue.record(sealedA) + byteArrayOf(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
        assertEquals(1, read.sealed.size)
        assertTrue(read.damagedTail)
        // A length past the largest record stops the reading instead of allocating it.
        val huge = PendingSmsQueue.record(sealedA).also { it[2] = 0x7F }
        assertTrue(PendingSmsQueue.decode(huge).damagedTail)
        // A plaintext record of the first design is not read as one.
        val v1 = PendingSmsQueue.record(sealedA).also { it[1] = 1 }
        assertTrue(PendingSmsQueue.decode(v1).sealed.isEmpty())
    }

    @Test
    fun `the spool is capped`() {
        val record = PendingSmsQueue.record(sealedB)
        assertTrue(PendingSmsQueue.fits(0, record.size))
        assertTrue(PendingSmsQueue.fits(PendingSmsQueue.MAX_FILE_BYTES - record.size, record.size))
        assertFalse(PendingSmsQueue.fits(PendingSmsQueue.MAX_FILE_BYTES - record.size + 1, record.size))
    }

    @Test
    fun `limits and redaction`() {
        assertThrows(IllegalArgumentException::class.java) {
            PendingSmsQueue.encodeSms(ReceivedSms("x", "y".repeat(PendingSmsQueue.MAX_BODY_BYTES + 1), 0))
        }
        assertThrows(IllegalArgumentException::class.java) { PendingSmsQueue.record(ByteArray(0)) }
        assertThrows(IllegalArgumentException::class.java) {
            PendingSmsQueue.record(ByteArray(PendingSmsQueue.MAX_SEALED_BYTES + 1))
        }
        assertFalse("Hello" in a.toString())
        assertFalse("7700" in a.toString())
    }
}
