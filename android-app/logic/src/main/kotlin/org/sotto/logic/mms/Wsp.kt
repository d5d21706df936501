package org.sotto.logic.mms

import java.io.ByteArrayOutputStream
import java.nio.charset.Charset
import java.nio.charset.CodingErrorAction

/*
 * The WSP encodings (WAP-230-WSP §8.4, §8.5) that MMS PDUs are made of:
 * Uintvar, Short- and Long-integer, Value-length, Text-string,
 * Encoded-string-value, Content-type with its parameters (WspContentType),
 * and the multipart body. WspReader reads them from a bounded buffer and
 * fails with MmsPduException on anything that does not fit; WspWriter
 * writes them.
 */

/**
 * A PDU that is malformed, truncated, over a bound, or not the kind
 * expected; or a message the encoder cannot write. The message is a fixed
 * description with no content from the PDU but numbers of the format.
 */
class MmsPduException(
    message: String,
    /**
     * The X-Mms-Retrieve-Status of an `m-retrieve-conf` that carried the
     * MMS centre's error instead of a message: the PDU is well formed, the
     * centre could not give the message. Null for every other failure.
     */
    val centreStatus: Int? = null,
) : Exception(message)

/**
 * One header value in its generic WSP shape (§8.4.1.2): every MMS header
 * value is a short integer, a text, or a length-prefixed run of octets,
 * told apart by its first octet. Headers are read generically first, so
 * an unknown header is skipped without knowing its grammar.
 */
sealed class WspValue {
    /** A Short-integer: one octet with the top bit set; [value] is 0..127. */
    class Short(val value: Int) : WspValue()

    /** A Text-string (its quote octet removed), still undecoded. */
    class Text(val bytes: ByteArray) : WspValue()

    /** A Value-length followed by that many octets. */
    class Long(val bytes: ByteArray) : WspValue()
}

/** Reads WSP encodings from [data] between [start] and [end], never past [end]. */
class WspReader(private val data: ByteArray, start: Int = 0, private val end: Int = data.size) {
    /** The next octet to read. */
    var pos: Int = start
        private set

    /** Whether every octet was read. */
    val atEnd: Boolean get() = pos >= end

    /** Octets left. */
    val remaining: Int get() = end - pos

    private fun need(count: Int, what: String) {
        if (count < 0 || count > end - pos) throw MmsPduException("truncated $what")
    }

    /** One octet, 0..255. */
    fun octet(what: String = "octet"): Int {
        need(1, what)
        return data[pos++].toInt() and 0xFF
    }

    /** The next octet without consuming it. */
    fun peek(what: String = "octet"): Int {
        need(1, what)
        return data[pos].toInt() and 0xFF
    }

    /** [count] octets. */
    fun bytes(count: Int, what: String): ByteArray {
        need(count, what)
        return data.copyOfRange(pos, pos + count).also { pos += count }
    }

    /** A reader over the next [count] octets, which this reader skips. */
    fun sub(count: Int, what: String): WspReader {
        need(count, what)
        return WspReader(data, pos, pos + count).also { pos += count }
    }

    /** Uintvar (§8.1.2): 7 bits per octet, at most 5 octets, within Int. */
    fun uintvar(what: String): Int {
        var value = 0L
        for (i in 0 until 5) {
            val b = octet(what)
            value = (value shl 7) or (b and 0x7F).toLong()
            if (b and 0x80 == 0) {
                if (value > Int.MAX_VALUE) throw MmsPduException("$what is too large")
                return value.toInt()
            }
        }
        throw MmsPduException("$what: uintvar longer than 5 octets")
    }

    /** Value-length (§8.4.2.2): a Short-length 0..30, or 31 then a Uintvar. */
    fun valueLength(what: String): Int {
        val first = octet(what)
        val length = when {
            first <= 30 -> first
            first == 31 -> uintvar(what)
            else -> throw MmsPduException("$what: expected a value length")
        }
        need(length, what)
        return length
    }

    /** Text-string (§8.4.2.1): octets up to NUL, a leading quote (127) dropped. */
    fun textBytes(what: String): ByteArray {
        var i = pos
        while (i < end && data[i] != 0.toByte()) i++
        if (i >= end) throw MmsPduException("$what: text without its terminating NUL")
        var from = pos
        if (data[from] == 127.toByte() || data[from] == '"'.code.toByte()) from++
        pos = i + 1
        return data.copyOfRange(from, i)
    }

    /** Long-integer (§8.4.2.1): a Short-length 1..8, then that many octets, big-endian. */
    fun longInteger(what: String): Long {
        val length = octet(what)
        if (length !in 1..8) throw MmsPduException("$what: bad long-integer length")
        return multiOctet(length, what)
    }

    private fun multiOctet(length: Int, what: String): Long {
        var value = 0L
        repeat(length) { value = (value shl 8) or octet(what).toLong() }
        if (value < 0) throw MmsPduException("$what is too large")
        return value
    }

    /** Integer-value: a Short-integer or a Long-integer. */
    fun integer(what: String): Long {
        val first = peek(what)
        return if (first >= 0x80) (octet(what) and 0x7F).toLong() else longInteger(what)
    }

    /**
     * One header value in its generic shape ([WspValue]). A lone NUL is
     * an empty Text-string, not a zero Value-length: both take that one
     * octet, but an empty Subject, From address, Message-ID or
     * Transaction-ID is written that way, and reads as "" (as Android's
     * own PduParser reads it) rather than failing the whole PDU.
     */
    fun value(what: String): WspValue {
        val first = peek(what)
        return when {
            first >= 0x80 -> WspValue.Short(octet(what) and 0x7F)
            first == 0 -> WspValue.Text(textBytes(what))
            first <= 31 -> WspValue.Long(bytes(valueLength(what), what))
            else -> WspValue.Text(textBytes(what))
        }
    }

    companion object {
        /** The Long-integer in a [WspValue.Long]'s octets (a Short-length already removed). */
        fun longFrom(bytes: ByteArray, what: String): Long {
            if (bytes.size !in 1..8) throw MmsPduException("$what: bad long-integer length")
            return WspReader(bytes).multiOctet(bytes.size, what)
        }
    }
}

/** Writes WSP encodings. */
class WspWriter {
    private val out = ByteArrayOutputStream()

    /** What was written. */
    fun toByteArray(): ByteArray = out.toByteArray()

    /** One octet. */
    fun octet(value: Int): WspWriter = apply { out.write(value and 0xFF) }

    /** Raw octets. */
    fun bytes(value: ByteArray): WspWriter = apply { out.write(value) }

    /** A Short-integer, 0..127. */
    fun shortInt(value: Int): WspWriter {
        require(value in 0..127) { "a short integer is 0..127" }
        return octet(0x80 or value)
    }

    /** A Uintvar. */
    fun uintvar(value: Int): WspWriter {
        require(value >= 0)
        var shift = 28
        while (shift > 0 && (value ushr shift) == 0) shift -= 7
        while (shift > 0) {
            octet(0x80 or ((value ushr shift) and 0x7F))
            shift -= 7
        }
        return octet(value and 0x7F)
    }

    /** A Value-length. */
    fun valueLength(length: Int): WspWriter = if (length <= 30) octet(length) else octet(31).uintvar(length)

    /** A Long-integer. */
    fun longInteger(value: Long): WspWriter {
        require(value >= 0)
        var length = 1
        while (length < 8 && (value ushr (8 * length)) != 0L) length++
        octet(length)
        for (i in length - 1 downTo 0) octet((value ushr (8 * i)).toInt())
        return this
    }

    /** A Text-string (NUL-terminated; quoted when it starts with an octet ≥ 128). */
    fun text(value: ByteArray): WspWriter {
        require(value.none { it == 0.toByte() }) { "a text string holds no NUL" }
        if (value.isNotEmpty() && (value[0].toInt() and 0x80) != 0) octet(127)
        return bytes(value).octet(0)
    }

    /** A Text-string of US-ASCII/UTF-8 text. */
    fun text(value: String): WspWriter = text(value.toByteArray(Charsets.UTF_8))

    /** A value written by [body], preceded by its Value-length. */
    fun lengthPrefixed(body: WspWriter.() -> Unit): WspWriter {
        val inner = WspWriter().apply(body).toByteArray()
        return valueLength(inner.size).bytes(inner)
    }
}

/** Charsets by IANA MIBenum, as WSP encodes them (§8.4.2.8, Table 42). */
object WspCharsets {
    /** UTF-8's MIBenum. */
    const val UTF_8 = 106

    private val names = mapOf(
        3 to "US-ASCII",
        4 to "ISO-8859-1",
        5 to "ISO-8859-2",
        6 to "ISO-8859-3",
        7 to "ISO-8859-4",
        8 to "ISO-8859-5",
        9 to "ISO-8859-6",
        10 to "ISO-8859-7",
        11 to "ISO-8859-8",
        12 to "ISO-8859-9",
        17 to "Shift_JIS",
        18 to "EUC-JP",
        36 to "EUC-KR",
        39 to "ISO-2022-JP",
        106 to "UTF-8",
        109 to "ISO-8859-13",
        111 to "ISO-8859-15",
        1000 to "UTF-16BE", // ISO-10646-UCS-2: big-endian without a byte-order mark
        1013 to "UTF-16BE",
        1014 to "UTF-16LE",
        1015 to "UTF-16",
        2025 to "GB2312",
        2026 to "Big5",
        2084 to "KOI8-R",
        2252 to "windows-1252",
    )

    /**
     * Decodes [bytes] in the charset [mib]. A text with no charset, an
     * unknown one, or one the JVM lacks is read as UTF-8 (which US-ASCII,
     * the spec's default, is a subset of); malformed octets become U+FFFD,
     * so a bad charset loses characters, never the message.
     */
    fun decode(bytes: ByteArray, mib: Int?): String {
        val charset = mib?.let { names[it] }?.let { runCatching { Charset.forName(it) }.getOrNull() } ?: Charsets.UTF_8
        return charset.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE)
            .onUnmappableCharacter(CodingErrorAction.REPLACE)
            .decode(java.nio.ByteBuffer.wrap(bytes))
            .toString()
    }
}
