package org.sotto.logic.mms

/**
 * Reads and writes the MMS PDUs a default SMS app handles, per
 * OMA-WAP-MMS-ENC-V1_3 (headers, §7) over the WSP encodings of
 * WAP-230-WSP ([WspReader]):
 *
 * - read `m-notification-ind` (the WAP push), `m-retrieve-conf` (the
 *   downloaded MMS), `m-send-conf` (the answer to a send) and
 *   `m-delivery-ind` (the delivery report, also a WAP push);
 * - write `m-send-req`, `m-notifyresp-ind` and `m-acknowledge-ind`.
 *
 * No published JVM library does this (Android's own codec,
 * `com.google.android.mms.pdu`, is hidden platform code that apps copy in
 * whole); this one reads only what Sotto needs and skips the rest by its
 * generic WSP shape. Hostile input fails with [MmsPduException]: every
 * length is checked against the octets left, and a PDU, its headers and
 * its parts are bounded ([MAX_PDU_BYTES], [MAX_HEADERS], [MAX_PARTS]).
 */
object MmsPdu {
    /** The largest PDU read: the core keeps MMS up to 4 MiB, plus room for headers. */
    const val MAX_PDU_BYTES = 5 * 1024 * 1024

    /** The most headers read from one PDU or one part. */
    const val MAX_HEADERS = 256

    /** The most parts in one MMS (real ones have a handful). */
    const val MAX_PARTS = 64

    /** X-Mms-Message-Type values (§7.3.30). */
    const val SEND_REQ = 0x80
    const val SEND_CONF = 0x81
    const val NOTIFICATION_IND = 0x82
    const val NOTIFYRESP_IND = 0x83
    const val RETRIEVE_CONF = 0x84
    const val ACKNOWLEDGE_IND = 0x85
    const val DELIVERY_IND = 0x86

    /** X-Mms-Response-Status Ok. */
    const val RESPONSE_OK = 0x80

    // Header field codes (§7.4, Table 12), without the short-integer bit.
    private const val BCC = 0x01
    private const val CC = 0x02
    private const val CONTENT_LOCATION = 0x03
    private const val CONTENT_TYPE = 0x04
    private const val DATE = 0x05
    private const val DELIVERY_REPORT = 0x06
    private const val EXPIRY = 0x08
    private const val FROM = 0x09
    private const val MESSAGE_CLASS = 0x0A
    private const val MESSAGE_ID = 0x0B
    private const val MESSAGE_TYPE = 0x0C
    private const val MMS_VERSION = 0x0D
    private const val MESSAGE_SIZE = 0x0E
    private const val READ_REPORT = 0x10
    private const val REPORT_ALLOWED = 0x11
    private const val RESPONSE_STATUS = 0x12
    private const val STATUS = 0x15
    private const val SUBJECT = 0x16
    private const val TO = 0x17
    private const val TRANSACTION_ID = 0x18
    private const val RETRIEVE_STATUS = 0x19

    // Part header codes (WSP Table 39).
    private const val PART_CONTENT_LOCATION = 0x0E
    private const val PART_CONTENT_ID = 0x40

    /** MMS version 1.2, which every MMS centre takes (major 1, minor 2). */
    private const val VERSION_1_2 = 0x12

    private const val YES = 0x80
    private const val NO = 0x81
    private const val MESSAGE_CLASS_PERSONAL = 0x80
    private const val ADDRESS_PRESENT = 0x80
    private const val INSERT_ADDRESS = 0x81

    /** The X-Mms-Message-Type of [pdu] (the first header, always). */
    fun messageType(pdu: ByteArray): Int {
        val r = WspReader(checkSize(pdu))
        if (r.octet("message type") != (0x80 or MESSAGE_TYPE)) throw MmsPduException("the PDU does not start with its message type")
        val type = r.octet("message type")
        if (type < 0x80) throw MmsPduException("bad message type")
        return type
    }

    /** Reads an `m-notification-ind`. */
    fun parseNotification(pdu: ByteArray): MmsNotification {
        val h = readHeaders(WspReader(checkSize(pdu)), NOTIFICATION_IND)
        return MmsNotification(
            transactionId = h.transactionId ?: throw MmsPduException("notification without a transaction id"),
            contentLocation = h.contentLocation?.ifEmpty { null } ?: throw MmsPduException("notification without a content location"),
            from = h.from,
            messageSize = h.messageSize ?: 0,
            expiry = h.expiry,
            subject = h.subject,
        )
    }

    /** Reads an `m-retrieve-conf`. */
    fun parseRetrieveConf(pdu: ByteArray): RetrievedMms = parseMessage(pdu, RETRIEVE_CONF)

    /**
     * Reads a PDU of [expected] type that carries a message body (an
     * `m-retrieve-conf`; the tests also read back an `m-send-req` with it).
     */
    internal fun parseMessage(pdu: ByteArray, expected: Int): RetrievedMms {
        val r = WspReader(checkSize(pdu))
        val h = readHeaders(r, expected)
        // X-Mms-Retrieve-Status (§7.3.50): anything but Ok means the body is no message.
        h.retrieveStatus?.let { if (it != RESPONSE_OK) throw MmsPduException("the MMS centre could not give the message (status $it)", centreStatus = it) }
        val contentType = h.contentType ?: throw MmsPduException("MMS without a content type")
        val parts = if (isMultipart(contentType.mediaType)) {
            readMultipart(r)
        } else {
            listOf(RawPart(contentType, null, r.bytes(r.remaining, "body")))
        }
        val text = StringBuilder()
        val attachments = ArrayList<MmsPart>()
        var skipped = 0
        for (part in parts) {
            val media = part.type.mediaType
            when {
                media == "text/plain" -> {
                    if (text.isNotEmpty()) text.append('\n')
                    text.append(WspCharsets.decode(part.data, part.type.charset))
                }
                media == "application/smil" -> Unit // layout only
                isMultipart(media) -> skipped++
                else -> attachments += MmsPart(media, part.type.name ?: part.location, part.data)
            }
        }
        return RetrievedMms(
            from = h.from,
            to = h.to,
            cc = h.cc,
            dateSeconds = h.date,
            subject = h.subject,
            messageId = h.messageId,
            transactionId = h.transactionId,
            text = text.toString(),
            attachments = attachments,
            skippedParts = skipped,
        )
    }

    /** Reads an `m-send-conf`. */
    fun parseSendConf(pdu: ByteArray): MmsSendConf {
        val h = readHeaders(WspReader(checkSize(pdu)), SEND_CONF)
        return MmsSendConf(
            responseStatus = h.responseStatus ?: throw MmsPduException("send confirmation without a response status"),
            // An empty Message-ID names nothing a delivery report could find.
            messageId = h.messageId?.ifEmpty { null },
        )
    }

    /** Reads an `m-delivery-ind`. */
    fun parseDeliveryInd(pdu: ByteArray): MmsDeliveryReport {
        val h = readHeaders(WspReader(checkSize(pdu)), DELIVERY_IND)
        return MmsDeliveryReport(
            messageId = h.messageId?.ifEmpty { null } ?: throw MmsPduException("delivery report without a message id"),
            status = h.status ?: throw MmsPduException("delivery report without a status"),
        )
    }

    /**
     * Writes an `m-send-req`: an `application/vnd.wap.multipart.related`
     * body whose first part is a SMIL presentation (one slide per
     * attachment, the text on the first), then the text as a UTF-8
     * text/plain part, then the attachments, each named by a unique
     * Content-Location that the SMIL refers to. This is the shape MMS
     * clients expect (OMA-MMS-CONF); receivers that ignore SMIL show the
     * parts in order.
     */
    fun encodeSendRequest(request: MmsSendRequest): ByteArray {
        if (request.to.isEmpty()) throw MmsPduException("an MMS needs a recipient")
        if (request.text.isEmpty() && request.attachments.isEmpty()) throw MmsPduException("an MMS needs a text or an attachment")
        if (request.attachments.size + 2 > MAX_PARTS) throw MmsPduException("too many attachments")
        val w = WspWriter()
        startPdu(w, SEND_REQ, request.transactionId)
        w.shortInt(FROM).lengthPrefixed { octet(INSERT_ADDRESS) } // the MMS centre fills in our number
        for (address in request.to) {
            w.shortInt(TO)
            encodedString(w, recipientAddress(address))
        }
        request.subject?.takeIf { it.isNotEmpty() }?.let {
            w.shortInt(SUBJECT)
            encodedString(w, it)
        }
        w.shortInt(MESSAGE_CLASS).octet(MESSAGE_CLASS_PERSONAL)
        w.shortInt(DELIVERY_REPORT).octet(if (request.deliveryReport) YES else NO)
        w.shortInt(READ_REPORT).octet(NO)
        w.shortInt(CONTENT_TYPE)
        WspContentType("application/vnd.wap.multipart.related", type = SMIL, start = SMIL_ID).writeTo(w)

        val media = ArrayList<OutPart>()
        // Every part's Content-Location is unique: the SMIL and receivers find parts by it.
        val used = hashSetOf(SMIL_NAME)
        if (request.text.isNotEmpty()) {
            media += OutPart(WspContentType("text/plain", charset = WspCharsets.UTF_8), TEXT_NAME, request.text.toByteArray(Charsets.UTF_8))
            used += TEXT_NAME
        }
        request.attachments.forEachIndexed { i, part ->
            val name = uniqueName(safeName(part.name) ?: "part$i", i, used)
            used += name
            media += OutPart(WspContentType(part.contentType.lowercase(), name = name), name, part.data)
        }
        val smil = OutPart(WspContentType(SMIL), SMIL_NAME, smil(media).toByteArray(Charsets.UTF_8))
        val parts = listOf(smil) + media
        w.uintvar(parts.size)
        parts.forEachIndexed { i, part ->
            val headers = WspWriter()
            part.type.writeTo(headers)
            headers.shortInt(PART_CONTENT_LOCATION).text(part.name)
            headers.shortInt(PART_CONTENT_ID).octet('"'.code).text(if (i == 0) SMIL_ID else "<p$i>")
            val headerBytes = headers.toByteArray()
            w.uintvar(headerBytes.size).uintvar(part.data.size).bytes(headerBytes).bytes(part.data)
        }
        return w.toByteArray().also { checkSize(it) }
    }

    private class OutPart(val type: WspContentType, val name: String, val data: ByteArray)

    private const val SMIL = "application/smil"
    private const val SMIL_ID = "<smil>"
    private const val SMIL_NAME = "smil.xml"
    private const val TEXT_NAME = "text.txt"

    /**
     * [name] if no part has it yet, else the first of `i-name`, `i-2-name`,
     * `i-3-name`, … that none has ([index] is the attachment's).
     */
    private fun uniqueName(name: String, index: Int, used: Set<String>): String {
        if (name !in used) return name
        var candidate = "$index-$name"
        var n = 1
        while (candidate in used) candidate = "$index-${++n}-$name"
        return candidate
    }

    /**
     * The SMIL presentation: an image region above a text region, one
     * slide per attachment, the text on the first. Names are [safeName]s,
     * so they need no XML escaping.
     */
    private fun smil(parts: List<OutPart>): String {
        val text = parts.firstOrNull { it.type.mediaType == "text/plain" }
        val slides = parts.filter { it !== text }.ifEmpty { listOf(null) }
        val body = slides.mapIndexed { i, part ->
            val element = part?.let {
                val tag = when (it.type.mediaType.substringBefore('/')) {
                    "image" -> "img"
                    "audio" -> "audio"
                    "video" -> "video"
                    else -> "ref"
                }
                """<$tag src="${it.name}" region="Image"/>"""
            } ?: ""
            val caption = if (i == 0 && text != null) """<text src="${text.name}" region="Text"/>""" else ""
            """<par dur="5000ms">$element$caption</par>"""
        }.joinToString("")
        return "<smil><head><layout><root-layout/>" +
            """<region id="Image" fit="meet" top="0" left="0" height="80%" width="100%"/>""" +
            """<region id="Text" top="80%" left="0" height="20%" width="100%" fit="scroll"/>""" +
            "</layout></head><body>$body</body></smil>"
    }

    /**
     * What to tell the MMS centre about a download that ended in
     * [outcome] (OMA-MMS-CTR §6.3; status values OMA-MMS-ENC §7.3.54):
     *
     * - kept ([MmsDownloadOutcome.STORED], [MmsDownloadOutcome.KEPT_FOR_LATER]):
     *   an `m-acknowledge-ind` with the retrieve-conf's transaction id when
     *   it carries a usable one (the centre asked for it), otherwise an
     *   `m-notifyresp-ind` Retrieved for the notification's transaction;
     * - refused: `m-notifyresp-ind` Rejected; unreadable: Unrecognised
     *   (an `m-acknowledge-ind` has no status, so these always answer the
     *   notification);
     * - not kept: nothing, so the centre keeps the message.
     *
     * Null also when no usable transaction id is known ([retrieved] is
     * null when the PDU could not be read).
     */
    fun downloadAnswer(outcome: MmsDownloadOutcome, retrieved: RetrievedMms?, notificationTransactionId: String?): ByteArray? {
        val status = when (outcome) {
            MmsDownloadOutcome.STORED, MmsDownloadOutcome.KEPT_FOR_LATER -> {
                retrieved?.transactionId?.takeIf(::usableTransactionId)?.let { return encodeAcknowledge(it) }
                MmsStatus.RETRIEVED
            }
            MmsDownloadOutcome.REFUSED -> MmsStatus.REJECTED
            MmsDownloadOutcome.UNREADABLE -> MmsStatus.UNRECOGNISED
            MmsDownloadOutcome.NOT_KEPT -> return null
        }
        return notificationTransactionId?.takeIf(::usableTransactionId)?.let { encodeNotifyResponse(it, status) }
    }

    /** Writes an `m-notifyresp-ind`: the answer to a notification ([status] says what became of it). */
    fun encodeNotifyResponse(transactionId: String, status: MmsStatus, reportAllowed: Boolean = false): ByteArray {
        val w = WspWriter()
        startPdu(w, NOTIFYRESP_IND, transactionId)
        w.shortInt(STATUS).octet(status.code)
        w.shortInt(REPORT_ALLOWED).octet(if (reportAllowed) YES else NO)
        return w.toByteArray()
    }

    /** Writes an `m-acknowledge-ind`: the receipt for an MMS downloaded, with the retrieve-conf's [transactionId]. */
    fun encodeAcknowledge(transactionId: String, reportAllowed: Boolean = false): ByteArray {
        val w = WspWriter()
        startPdu(w, ACKNOWLEDGE_IND, transactionId)
        w.shortInt(REPORT_ALLOWED).octet(if (reportAllowed) YES else NO)
        return w.toByteArray()
    }

    /**
     * The address in an MMS header as a plain number or e-mail address:
     * the `/TYPE=PLMN` suffix (§8) removed.
     */
    fun plainAddress(address: String): String {
        val cut = address.indexOf("/TYPE=", ignoreCase = true)
        return (if (cut >= 0) address.substring(0, cut) else address).trim()
    }

    // --- reading -------------------------------------------------------------

    private class Headers {
        var transactionId: String? = null
        var contentLocation: String? = null
        var from: String? = null
        val to = ArrayList<String>()
        val cc = ArrayList<String>()
        var date: Long? = null
        var subject: String? = null
        var messageId: String? = null
        var messageSize: Long? = null
        var expiry: MmsExpiry? = null
        var responseStatus: Int? = null
        var status: Int? = null
        var retrieveStatus: Int? = null
        var contentType: WspContentType? = null
    }

    private class RawPart(val type: WspContentType, val location: String?, val data: ByteArray)

    private fun checkSize(pdu: ByteArray): ByteArray {
        if (pdu.size > MAX_PDU_BYTES) throw MmsPduException("the PDU is larger than ${MAX_PDU_BYTES / 1024} KiB")
        if (pdu.isEmpty()) throw MmsPduException("empty PDU")
        return pdu
    }

    /**
     * Reads the headers up to the end or to Content-Type (always the last
     * header; the body follows it), checking the message type is [expected].
     */
    private fun readHeaders(r: WspReader, expected: Int): Headers {
        if (r.octet("message type") != (0x80 or MESSAGE_TYPE)) throw MmsPduException("the PDU does not start with its message type")
        val type = r.octet("message type")
        if (type != expected) throw MmsPduException("unexpected message type $type")
        val h = Headers()
        var count = 0
        while (!r.atEnd) {
            if (++count > MAX_HEADERS) throw MmsPduException("too many headers")
            val field = r.octet("header")
            if (field < 0x80) {
                // An application header: Token-text (its first octet just read)
                // then Application-specific-value, both NUL-terminated.
                r.textBytes("header name")
                r.textBytes("header value")
                continue
            }
            val code = field and 0x7F
            if (code == CONTENT_TYPE) {
                h.contentType = WspContentType.read(r)
                break
            }
            val value = r.value("header value")
            when (code) {
                TRANSACTION_ID -> h.transactionId = ascii(value, "transaction id")
                CONTENT_LOCATION -> h.contentLocation = ascii(value, "content location")
                MESSAGE_ID -> h.messageId = ascii(value, "message id")
                FROM -> h.from = fromAddress(value)
                TO -> h.to += plainAddress(encodedString(value, "to"))
                CC -> h.cc += plainAddress(encodedString(value, "cc"))
                BCC -> Unit
                SUBJECT -> h.subject = encodedString(value, "subject")
                DATE -> h.date = longValue(value, "date")
                MESSAGE_SIZE -> h.messageSize = longValue(value, "message size")
                EXPIRY -> h.expiry = expiry(value)
                RESPONSE_STATUS -> h.responseStatus = (value as? WspValue.Short)?.let { it.value or 0x80 }
                    ?: throw MmsPduException("bad response status")
                RETRIEVE_STATUS -> h.retrieveStatus = (value as? WspValue.Short)?.let { it.value or 0x80 }
                    ?: throw MmsPduException("bad retrieve status")
                STATUS -> h.status = (value as? WspValue.Short)?.let { it.value or 0x80 }
                    ?: throw MmsPduException("bad status")
                MMS_VERSION -> Unit
                else -> Unit // known to the spec, not needed here; skipped by its shape
            }
        }
        return h
    }

    private fun isMultipart(media: String) =
        media.startsWith("application/vnd.wap.multipart.") || media.startsWith("multipart/")

    /** The multipart body (WSP §8.5): nEntries, then per part HeadersLen DataLen ContentType Headers Data. */
    private fun readMultipart(r: WspReader): List<RawPart> {
        val count = r.uintvar("part count")
        if (count > MAX_PARTS) throw MmsPduException("too many parts")
        val parts = ArrayList<RawPart>(count)
        repeat(count) {
            val headersLength = r.uintvar("part headers length")
            val dataLength = r.uintvar("part data length")
            val headers = r.sub(headersLength, "part headers")
            val type = WspContentType.read(headers)
            var location: String? = null
            var seen = 0
            while (!headers.atEnd) {
                if (++seen > MAX_HEADERS) throw MmsPduException("too many part headers")
                if (headers.peek("part header") >= 0x80) {
                    val code = headers.octet() and 0x7F
                    val value = headers.value("part header")
                    if (code == PART_CONTENT_LOCATION && value is WspValue.Text) {
                        location = safeName(WspCharsets.decode(value.bytes, null))
                    }
                } else {
                    headers.textBytes("part header name")
                    headers.value("part header value")
                }
            }
            parts += RawPart(type, location, r.bytes(dataLength, "part data"))
        }
        return parts
    }

    private fun ascii(value: WspValue, what: String): String =
        String((value as? WspValue.Text ?: throw MmsPduException("bad $what")).bytes, Charsets.ISO_8859_1)

    /** Encoded-string-value (§7.2.9): a Text-string, or Value-length Char-set Text-string. */
    private fun encodedString(value: WspValue, what: String): String = when (value) {
        is WspValue.Text -> WspCharsets.decode(value.bytes, null)
        is WspValue.Long -> {
            val r = WspReader(value.bytes)
            val charset = if (r.peek(what) == 0x80) {
                r.octet()
                null
            } else {
                r.integer(what).takeIf { it <= Int.MAX_VALUE }?.toInt()
            }
            WspCharsets.decode(r.textBytes(what), charset)
        }
        is WspValue.Short -> throw MmsPduException("bad $what")
    }

    /** From (§7.3.21): Value-length (Address-present-token Encoded-string-value | Insert-address-token). */
    private fun fromAddress(value: WspValue): String? {
        val bytes = (value as? WspValue.Long ?: throw MmsPduException("bad from")).bytes
        val r = WspReader(bytes)
        return when (r.octet("from")) {
            INSERT_ADDRESS -> null
            ADDRESS_PRESENT -> plainAddress(encodedString(r.value("from"), "from")).ifEmpty { null }
            else -> throw MmsPduException("bad from")
        }
    }

    private fun longValue(value: WspValue, what: String): Long = when (value) {
        is WspValue.Long -> WspReader.longFrom(value.bytes, what)
        is WspValue.Short -> value.value.toLong()
        is WspValue.Text -> throw MmsPduException("bad $what")
    }

    /** Expiry (§7.3.20): Value-length (Absolute-token Date-value | Relative-token Delta-seconds-value). */
    private fun expiry(value: WspValue): MmsExpiry {
        val r = WspReader((value as? WspValue.Long ?: throw MmsPduException("bad expiry")).bytes)
        val token = r.octet("expiry")
        val seconds = r.integer("expiry")
        return when (token) {
            0x80 -> MmsExpiry.At(seconds)
            0x81 -> MmsExpiry.After(seconds)
            else -> throw MmsPduException("bad expiry")
        }
    }

    // --- writing -------------------------------------------------------------

    /** Whether [transactionId] can be written in a PDU: printable ASCII, not empty. */
    private fun usableTransactionId(transactionId: String): Boolean =
        transactionId.isNotEmpty() && transactionId.all { it.code in 0x21..0x7E }

    private fun startPdu(w: WspWriter, type: Int, transactionId: String) {
        if (!usableTransactionId(transactionId)) throw MmsPduException("a transaction id is printable ASCII")
        w.shortInt(MESSAGE_TYPE).octet(type)
        w.shortInt(TRANSACTION_ID).text(transactionId)
        w.shortInt(MMS_VERSION).shortInt(VERSION_1_2)
    }

    /** Encoded-string-value: plain ASCII as a Text-string, anything else tagged UTF-8. */
    private fun encodedString(w: WspWriter, value: String) {
        if (value.contains('\u0000')) throw MmsPduException("a header holds no NUL")
        if (value.all { it.code in 0x20..0x7E }) {
            w.text(value)
        } else {
            w.lengthPrefixed {
                shortInt(WspCharsets.UTF_8)
                text(value)
            }
        }
    }

    /** A recipient as the MMS header wants it: `+15551234/TYPE=PLMN`, or an e-mail address. */
    private fun recipientAddress(address: String): String {
        val trimmed = address.trim()
        if (EMAIL.matches(trimmed)) return trimmed
        val number = trimmed.filterNot { it == ' ' || it == '-' || it == '(' || it == ')' || it == '.' }
        if (!PHONE.matches(number)) throw MmsPduException("a recipient is no phone number or e-mail address")
        return "$number/TYPE=PLMN"
    }

    private val PHONE = Regex("\\+?[0-9*#]{1,20}")
    private val EMAIL = Regex("[^@\\s/]+@[^@\\s/]+")

    /** A part name safe for a header, a file and the SMIL: printable ASCII without quotes, path separators or markup. */
    private fun safeName(name: String?): String? =
        name?.filter { it.code in 0x21..0x7E && it !in "\"'/\\<>&" }?.take(64)?.ifEmpty { null }
}
