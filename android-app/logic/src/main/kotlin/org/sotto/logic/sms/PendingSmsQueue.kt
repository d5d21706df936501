/**
 * SMS that arrived while the app was locked. The core's store is closed
 * then (its key is not in memory), so `:app` spools each SMS to a file and
 * hands them to the core's SMS bridge at the next unlock; nothing is lost
 * and nothing is decrypted without the key.
 *
 * Before an SMS touches the disk, `:app` seals it (the core's
 * `sealForLockedInbox`: HPKE, RFC 9180) to the account's locked-inbox public
 * key, kept in the clear beside the database; the private key is only in
 * the encrypted store. So the spool holds no number and no text for anyone
 * who reads the storage of a locked phone, and only the unlocked account
 * opens it.
 *
 * The file: append-only records, one after another, so a crash in the
 * middle of an append costs at most that record, and every whole record
 * before it is read back. Big-endian.
 * ```
 * record:           magic 0x53 | version 2 | sealed length (4) | sealed bytes
 * sealed plaintext: received-at millis (8) | sender length (2) | sender UTF-8
 *                   | body length (4) | body UTF-8
 * ```
 * The file stops growing at [MAX_FILE_BYTES]: a flood of SMS while locked
 * cannot fill the phone. (No release ever wrote version 1, the plaintext
 * records of the first design.)
 */
package org.sotto.logic.sms

import java.io.ByteArrayInputStream
import java.io.ByteArrayOutputStream
import java.io.DataInputStream
import java.io.DataOutputStream
import java.io.EOFException
import java.io.IOException

/** One SMS as the phone delivered it (all parts joined). */
data class ReceivedSms(val sender: String, val body: String, val receivedAtMillis: Long) {
    override fun toString(): String = "ReceivedSms(at=$receivedAtMillis)"
}

/** What was read back: the sealed records, whole, and whether a damaged tail was skipped. */
class PendingSmsRead(val sealed: List<ByteArray>, val damagedTail: Boolean)

/** Encodes and decodes the pending-SMS spool. */
object PendingSmsQueue {
    private const val MAGIC = 0x53
    private const val VERSION = 2

    /** Longest body kept: far above the longest concatenated SMS (255 parts × 153 characters). */
    const val MAX_BODY_BYTES: Int = 200 * 1024

    /** Longest sealed record read back: an SMS at its longest, its header, and the seal's overhead. */
    const val MAX_SEALED_BYTES: Int = 256 * 1024

    /** The spool's cap: about 8 MiB, thousands of SMS. */
    const val MAX_FILE_BYTES: Long = 8L * 1024 * 1024

    /** The plaintext to seal for [sms]. */
    fun encodeSms(sms: ReceivedSms): ByteArray {
        val sender = sms.sender.toByteArray(Charsets.UTF_8)
        val body = sms.body.toByteArray(Charsets.UTF_8)
        require(sender.size <= 0xFFFF) { "sender address too long" }
        require(body.size <= MAX_BODY_BYTES) { "message too long" }
        val bytes = ByteArrayOutputStream()
        DataOutputStream(bytes).use { out ->
            out.writeLong(sms.receivedAtMillis)
            out.writeShort(sender.size)
            out.write(sender)
            out.writeInt(body.size)
            out.write(body)
        }
        return bytes.toByteArray()
    }

    /** The SMS in an opened record, or null when the plaintext is malformed. */
    fun decodeSms(plain: ByteArray): ReceivedSms? = try {
        val input = DataInputStream(ByteArrayInputStream(plain))
        val at = input.readLong()
        val sender = ByteArray(input.readUnsignedShort()).also { input.readFully(it) }
        val bodyLength = input.readInt()
        if (bodyLength !in 0..MAX_BODY_BYTES || input.available() != bodyLength) {
            null
        } else {
            val body = ByteArray(bodyLength).also { input.readFully(it) }
            ReceivedSms(String(sender, Charsets.UTF_8), String(body, Charsets.UTF_8), at)
        }
    } catch (e: IOException) {
        null
    }

    /** The bytes to append for one sealed SMS. */
    fun record(sealed: ByteArray): ByteArray {
        require(sealed.size in 1..MAX_SEALED_BYTES) { "sealed record of unexpected size" }
        val bytes = ByteArrayOutputStream()
        DataOutputStream(bytes).use { out ->
            out.writeByte(MAGIC)
            out.writeByte(VERSION)
            out.writeInt(sealed.size)
            out.write(sealed)
        }
        return bytes.toByteArray()
    }

    /** Whether a record of [recordBytes] may still be appended to a spool of [fileBytes]. */
    fun fits(fileBytes: Long, recordBytes: Int): Boolean = fileBytes + recordBytes <= MAX_FILE_BYTES

    /** Every whole record in [file], in order; a truncated or damaged tail is reported, not thrown. */
    fun decode(file: ByteArray): PendingSmsRead {
        val input = DataInputStream(ByteArrayInputStream(file))
        val out = mutableListOf<ByteArray>()
        var consumed = 0
        while (consumed < file.size) {
            try {
                if (input.readUnsignedByte() != MAGIC || input.readUnsignedByte() != VERSION) break
                val length = input.readInt()
                if (length !in 1..MAX_SEALED_BYTES) break
                out += ByteArray(length).also { input.readFully(it) }
                consumed = file.size - input.available()
            } catch (e: EOFException) {
                break
            }
        }
        return PendingSmsRead(out, damagedTail = consumed < file.size)
    }
}
