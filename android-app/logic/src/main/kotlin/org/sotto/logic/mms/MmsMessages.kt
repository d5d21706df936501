package org.sotto.logic.mms

import org.sotto.logic.core.CoreException

/*
 * What the MMS PDUs this app reads and writes say, in plain Kotlin types.
 * None of them prints a number, a text or an attachment in toString():
 * they end up in logs.
 */

/** One media part of an MMS: a picture, a sound, a video, a vCard, … */
class MmsPart(
    /** Its media type as the MMS declared it, lower case (`image/jpeg`). */
    val contentType: String,
    /** Its file name, if the MMS gave one. */
    val name: String?,
    /** Its bytes. */
    val data: ByteArray,
) {
    override fun equals(other: Any?): Boolean =
        other is MmsPart && contentType == other.contentType && name == other.name && data.contentEquals(other.data)

    override fun hashCode(): Int = (contentType.hashCode() * 31 + name.hashCode()) * 31 + data.contentHashCode()

    override fun toString(): String = "MmsPart($contentType, ${data.size} bytes)"
}

/** When an MMS waiting at the carrier expires (X-Mms-Expiry). */
sealed class MmsExpiry {
    /** At this time, in seconds since the epoch. */
    data class At(val epochSeconds: Long) : MmsExpiry()

    /** This many seconds after the notification arrived. */
    data class After(val seconds: Long) : MmsExpiry()
}

/**
 * An `m-notification-ind` (OMA-MMS-ENC §6.2): the WAP push saying an MMS
 * waits at the carrier's MMS centre, to be downloaded from [contentLocation].
 */
class MmsNotification(
    /** The transaction this notification starts; answered in `m-notifyresp-ind`. */
    val transactionId: String,
    /** The URL to download the `m-retrieve-conf` from. */
    val contentLocation: String,
    /** The sender's address (a phone number or an e-mail address), if not hidden. */
    val from: String?,
    /** The size of the message in octets, as the carrier announced it. */
    val messageSize: Long,
    /** When the carrier drops the message, if it said. */
    val expiry: MmsExpiry?,
    /** The subject, if any. */
    val subject: String?,
) {
    override fun toString(): String = "MmsNotification(size=$messageSize, expiry=$expiry)"
}

/**
 * An `m-retrieve-conf` (OMA-MMS-ENC §6.3): a downloaded MMS. The text is
 * its text/plain parts joined; the SMIL presentation is dropped.
 */
class RetrievedMms(
    /** The sender's address, if the carrier gave it. */
    val from: String?,
    /** The To addresses: more than one (or any [cc]) makes it a group MMS. */
    val to: List<String>,
    /** The Cc addresses. */
    val cc: List<String>,
    /** When it was sent, in seconds since the epoch, if said. */
    val dateSeconds: Long?,
    /** The subject, if any. */
    val subject: String?,
    /** The Message-ID, if any. */
    val messageId: String?,
    /** The transaction id, present when the carrier wants an `m-acknowledge-ind`. */
    val transactionId: String?,
    /** The text/plain parts, in order, joined by new lines. */
    val text: String,
    /** Every other part but the SMIL, in order. */
    val attachments: List<MmsPart>,
    /** Parts left out: nested multiparts (rare, and not shown by other apps either). */
    val skippedParts: Int,
) {
    /** What the conversation shows as its text: the subject (if any) on its own line, then the text. */
    val displayText: String
        get() = listOfNotNull(subject?.takeIf { it.isNotBlank() }, text.takeIf { it.isNotEmpty() }).joinToString("\n")

    override fun toString(): String =
        "RetrievedMms(to=${to.size}, cc=${cc.size}, text=${text.length} chars, attachments=$attachments, skipped=$skippedParts)"
}

/** What an MMS to send holds (becomes an `m-send-req`). */
class MmsSendRequest(
    /** The recipients: phone numbers (E.164 or national) or e-mail addresses. */
    val to: List<String>,
    /** The text; empty for none. */
    val text: String,
    /** The media parts. */
    val attachments: List<MmsPart>,
    /** The subject, if any. */
    val subject: String? = null,
    /** A transaction id unique to this phone (the composer does not make one up). */
    val transactionId: String,
    /** Whether to ask the carrier for a delivery report. */
    val deliveryReport: Boolean = true,
) {
    override fun toString(): String = "MmsSendRequest(to=${to.size}, attachments=$attachments)"
}

/** An `m-send-conf`: the MMS centre's answer to an `m-send-req`. */
class MmsSendConf(
    /** X-Mms-Response-Status as a code (128 = Ok; §7.3.48). */
    val responseStatus: Int,
    /** The Message-ID the centre gave the MMS, if any. */
    val messageId: String?,
) {
    /** Whether the centre accepted the MMS. */
    val accepted: Boolean get() = responseStatus == MmsPdu.RESPONSE_OK

    override fun toString(): String = "MmsSendConf(status=$responseStatus)"
}

/**
 * An `m-delivery-ind`: what became of an MMS we sent at one recipient,
 * found by the [messageId] the MMS centre gave in its `m-send-conf`.
 */
class MmsDeliveryReport(
    /** The Message-ID of the MMS. */
    val messageId: String,
    /** X-Mms-Status as a code (§7.3.54). */
    val status: Int,
) {
    /** Whether it reached the recipient (Retrieved, or Forwarded on). */
    val delivered: Boolean get() = status == 0x81 || status == 0x86

    /** Whether it never will (Expired, Rejected, Unrecognised, Unreachable); neither this nor [delivered] means "not yet". */
    val failed: Boolean get() = status == 0x80 || status == 0x82 || status == 0x84 || status == 0x87

    override fun toString(): String = "MmsDeliveryReport(status=$status)"
}

/** X-Mms-Status values of an `m-notifyresp-ind` (§7.3.54). */
enum class MmsStatus(internal val code: Int) {
    /** The message expired before it was fetched. */
    EXPIRED(0x80),

    /** Downloaded. */
    RETRIEVED(0x81),

    /** The user or the app refused it. */
    REJECTED(0x82),

    /** It will be fetched later. */
    DEFERRED(0x83),

    /** The notification could not be understood. */
    UNRECOGNISED(0x84),
}

/**
 * What became of a downloaded `m-retrieve-conf` here. It decides what the
 * MMS centre is told ([MmsPdu.downloadAnswer]) and whether the downloaded
 * file is deleted ([deletesFile]). The rule: the centre hears Retrieved
 * only once our copy is safe (in the core, or kept whole for the next
 * unlock); a message we refuse for good is answered as such and its file
 * deleted (the same octets would be refused again); when nothing of it
 * could be kept, the centre hears nothing and keeps the message.
 */
enum class MmsDownloadOutcome(
    /** Whether the downloaded file is deleted afterwards (else it was moved to the pending directory). */
    val deletesFile: Boolean,
) {
    /** The core stored it. Told Retrieved (or `m-acknowledge-ind`). */
    STORED(deletesFile = true),

    /**
     * Kept whole under the pending directory for the core at the next
     * unlock (the passphrase lock is on, or the store failed this time).
     * Told Retrieved (or `m-acknowledge-ind`): our copy is safe.
     */
    KEPT_FOR_LATER(deletesFile = false),

    /**
     * Read, but refused for good: no sender, a sender the core takes for
     * no phone number (an e-mail address), or over the core's size limit.
     * Told Rejected.
     */
    REFUSED(deletesFile = true),

    /** Not an `m-retrieve-conf` that can be read. Told Unrecognised. */
    UNREADABLE(deletesFile = true),

    /**
     * Neither stored nor kept: the MMS centre sent its own error instead of
     * the message, the file could not be read, or the pending copy could
     * not be written. Told nothing, so the centre keeps the message.
     */
    NOT_KEPT(deletesFile = true),
    ;

    companion object {
        /**
         * The outcome a downloaded file of [length] octets has before it is
         * read, or null to read it: nothing came (the centre keeps the
         * message), or more than any PDU read ([MmsPdu.MAX_PDU_BYTES]:
         * refused, as the codec would).
         */
        fun ofFileLength(length: Long): MmsDownloadOutcome? = when {
            length <= 0 -> NOT_KEPT
            length > MmsPdu.MAX_PDU_BYTES -> REFUSED
            else -> null
        }

        /**
         * [REFUSED] for a message the core certainly refuses, checked before
         * it is kept for the unlock, so that the centre is not told
         * Retrieved for a message dropped later: no sender (no thread to put
         * it in), or an e-mail sender (the core keeps plain threads by phone
         * number). Null otherwise: the core decides the rest (its size limit).
         */
        fun ofMessage(mms: RetrievedMms): MmsDownloadOutcome? {
            val from = mms.from
            return if (from.isNullOrBlank() || '@' in from) REFUSED else null
        }

        /** The outcome when [MmsPdu.parseRetrieveConf] refused the download with [e]. */
        fun ofUnreadable(e: MmsPduException): MmsDownloadOutcome = if (e.centreStatus != null) NOT_KEPT else UNREADABLE

        /**
         * The outcome when the core would not store it and threw [e]:
         * [REFUSED] for input it will always refuse ([CoreException.InvalidInput]:
         * a sender that is no phone number, over its size limit); null for a
         * failure that may pass (storage, a closed store), when the file is
         * kept for the next unlock ([KEPT_FOR_LATER], or [NOT_KEPT] if it
         * cannot be).
         */
        fun ofCoreFailure(e: CoreException): MmsDownloadOutcome? = if (e is CoreException.InvalidInput) REFUSED else null
    }
}
