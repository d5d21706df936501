/**
 * SMS that arrived while the app was locked. The core's store is closed
 * then (its key is not in memory), so `:app` appends each SMS to a file and
 * hands them to the core's SMS bridge at the next unlock; nothing is lost
 * and nothing is decrypted without the key. This is the file's record
 * format: append-only, one record after another, so a crash in the middle
 * of an append costs at most that record, and every whole record before it
 * is read back.
 *
 * Record: magic 0x53 | version 1 | received-at millis (8) | sender length (2)
 * | sender UTF-8 | body length (4) | body UTF-8. Big-endian.
 */
package org.sotto.logic.sms

import java.io.ByteArrayInputStream
import java.io.ByteArrayOutputStream
import java.io.DataInputStream
import java.io.DataOutputStream
import java.io.EOFException

/** One SMS as the phone delivered it (all parts joined). */
data class ReceivedSms(val sender: String, val body: String, val receivedAtMillis: Long) {
    override fun toString(): String = "ReceivedSms(at=$receivedAtMillis)"
}

/** What was read back: the whole records, and whether a damaged tail was skipped. */
data class PendingSmsRead(val messages: List<ReceivedSms>, val damagedTail: Boolean)

/** Encodes and decodes the pending-SMS file. */
object PendingSmsQueue {
    private const val MAGIC = 0x53
    private const val VERSION = 1

    /** Longest body kept: far above the longest concatenated SMS (255 parts × 153 characters). */
    const val MAX_BODY_BYTES: Int = 256 * 1024

    /** The bytes to append for [sms]. */
    fun encode(sms: ReceivedSms): ByteArray {
        val sender = sms.sender.toByteArray(Charsets.UTF_8)
        val body = sms.body.toByteArray(Charsets.UTF_8)
        require(sender.size <= 0xFFFF) { "sender address too long" }
        require(body.size <= MAX_BODY_BYTES) { "message too long" }
        val bytes = ByteArrayOutputStream()
        DataOutputStream(bytes).use { out ->
            out.writeByte(MAGIC)
            out.writeByte(VERSION)
            out.writeLong(sms.receivedAtMillis)
            out.writeShort(sender.size)
            out.write(sender)
            out.writeInt(body.size)
            out.write(body)
        }
        return bytes.toByteArray()
    }

    /** Every whole record in [file], in order; a truncated or damaged tail is reported, not thrown. */
    fun decode(file: ByteArray): PendingSmsRead {
        val input = DataInputStream(ByteArrayInputStream(file))
        val out = mutableListOf<ReceivedSms>()
        var consumed = 0
        while (consumed < file.size) {
            try {
                if (input.readUnsignedByte() != MAGIC || input.readUnsignedByte() != VERSION) break
                val at = input.readLong()
                val sender = ByteArray(input.readUnsignedShort()).also { input.readFully(it) }
                val bodyLength = input.readInt()
                if (bodyLength !in 0..MAX_BODY_BYTES) break
                val body = ByteArray(bodyLength).also { input.readFully(it) }
                out += ReceivedSms(String(sender, Charsets.UTF_8), String(body, Charsets.UTF_8), at)
                consumed = file.size - input.available()
            } catch (e: EOFException) {
                break
            }
        }
        return PendingSmsRead(out, damagedTail = consumed < file.size)
    }
}
