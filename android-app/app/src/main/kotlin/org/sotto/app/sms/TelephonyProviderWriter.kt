package org.sotto.app.sms

import android.content.ContentValues
import android.content.Context
import android.net.Uri
import android.provider.Telephony
import org.sotto.logic.mms.MmsPart

/**
 * Writes plain SMS and MMS to the system's Telephony provider. Only the default SMS
 * app may write there, and it must: other apps (backup, the system's own
 * threads) read the provider, and the platform no longer writes SMS it
 * delivers to the default app. Encrypted Sotto SMS are never written here:
 * the provider would hold and show ciphertext.
 */
class TelephonyProviderWriter(private val context: Context) {
    /** Stores a received plain SMS in the inbox; returns its row, or null if the provider refused. */
    fun insertReceived(sender: String, body: String, sentAtMillis: Long, receivedAtMillis: Long): Uri? =
        context.contentResolver.insert(
            Telephony.Sms.Inbox.CONTENT_URI,
            ContentValues().apply {
                put(Telephony.Sms.ADDRESS, sender)
                put(Telephony.Sms.BODY, body)
                put(Telephony.Sms.DATE, receivedAtMillis)
                put(Telephony.Sms.DATE_SENT, sentAtMillis)
                put(Telephony.Sms.READ, 0)
                put(Telephony.Sms.SEEN, 0)
            },
        )

    /** Stores a plain SMS we are sending, as pending in the outbox; returns its row. */
    fun insertOutgoing(destination: String, body: String, atMillis: Long): Uri? =
        context.contentResolver.insert(
            Telephony.Sms.Outbox.CONTENT_URI,
            ContentValues().apply {
                put(Telephony.Sms.ADDRESS, destination)
                put(Telephony.Sms.BODY, body)
                put(Telephony.Sms.DATE, atMillis)
                put(Telephony.Sms.READ, 1)
                put(Telephony.Sms.SEEN, 1)
                put(Telephony.Sms.STATUS, Telephony.Sms.STATUS_PENDING)
            },
        )

    /** Moves a sent SMS to the sent box or the failed box. */
    fun markSent(row: Uri, ok: Boolean) {
        context.contentResolver.update(
            row,
            ContentValues().apply {
                put(Telephony.Sms.TYPE, if (ok) Telephony.Sms.MESSAGE_TYPE_SENT else Telephony.Sms.MESSAGE_TYPE_FAILED)
            },
            null,
            null,
        )
    }

    /** Records the delivery report of a sent SMS. */
    fun markDelivered(row: Uri, ok: Boolean) {
        context.contentResolver.update(
            row,
            ContentValues().apply {
                put(Telephony.Sms.STATUS, if (ok) Telephony.Sms.STATUS_COMPLETE else Telephony.Sms.STATUS_FAILED)
            },
            null,
            null,
        )
    }

    /** Where an MMS row goes. */
    enum class MmsBox(internal val code: Int, internal val messageType: Int) {
        /** Received: an m-retrieve-conf (132). */
        INBOX(Telephony.Mms.MESSAGE_BOX_INBOX, 132),

        /** Being sent: an m-send-req (128). */
        OUTBOX(Telephony.Mms.MESSAGE_BOX_OUTBOX, 128),
    }

    /**
     * Stores an MMS: the row, its addresses ([address] is the sender of a
     * received MMS or the recipient of a sent one; [others] the rest of a
     * group), its text part and its media parts. Returns the row, or null
     * if the provider refused.
     */
    fun insertMms(
        box: MmsBox,
        address: String,
        others: List<String>,
        subject: String?,
        text: String,
        parts: List<MmsPart>,
        atMillis: Long,
    ): Uri? {
        val resolver = context.contentResolver
        val thread = Telephony.Threads.getOrCreateThreadId(context, (listOf(address) + others).toSet())
        val row = resolver.insert(
            if (box == MmsBox.INBOX) Telephony.Mms.Inbox.CONTENT_URI else Telephony.Mms.Outbox.CONTENT_URI,
            ContentValues().apply {
                put(Telephony.Mms.THREAD_ID, thread)
                put(Telephony.Mms.MESSAGE_BOX, box.code)
                put(Telephony.Mms.MESSAGE_TYPE, box.messageType)
                put(Telephony.Mms.MMS_VERSION, 0x12)
                put(Telephony.Mms.CONTENT_TYPE, "application/vnd.wap.multipart.mixed")
                put(Telephony.Mms.DATE, atMillis / 1000) // the MMS table counts seconds
                put(Telephony.Mms.READ, if (box == MmsBox.INBOX) 0 else 1)
                put(Telephony.Mms.SEEN, if (box == MmsBox.INBOX) 0 else 1)
                put(Telephony.Mms.TEXT_ONLY, if (parts.isEmpty()) 1 else 0)
                subject?.let {
                    put(Telephony.Mms.SUBJECT, it)
                    put(Telephony.Mms.SUBJECT_CHARSET, UTF_8_MIB)
                }
            },
        ) ?: return null
        val id = row.lastPathSegment ?: return row
        val addresses = Uri.parse("content://mms/$id/addr")
        fun addr(value: String, type: Int) = resolver.insert(
            addresses,
            ContentValues().apply {
                put(Telephony.Mms.Addr.ADDRESS, value)
                put(Telephony.Mms.Addr.TYPE, type)
                put(Telephony.Mms.Addr.CHARSET, UTF_8_MIB)
            },
        )
        if (box == MmsBox.INBOX) {
            addr(address, ADDR_FROM)
            others.forEach { addr(it, ADDR_TO) }
        } else {
            addr(address, ADDR_TO)
        }
        val partsUri = Uri.parse("content://mms/$id/part")
        if (text.isNotEmpty()) {
            resolver.insert(
                partsUri,
                ContentValues().apply {
                    put(Telephony.Mms.Part.CONTENT_TYPE, "text/plain")
                    put(Telephony.Mms.Part.CHARSET, UTF_8_MIB)
                    put(Telephony.Mms.Part.TEXT, text)
                },
            )
        }
        for (part in parts) {
            val partRow = resolver.insert(
                partsUri,
                ContentValues().apply {
                    put(Telephony.Mms.Part.CONTENT_TYPE, part.contentType)
                    part.name?.let { put(Telephony.Mms.Part.NAME, it) }
                },
            ) ?: continue
            resolver.openOutputStream(partRow)?.use { it.write(part.data) }
        }
        return row
    }

    /** Moves a sent MMS to the sent box or the failed box. */
    fun markMmsSent(row: Uri, ok: Boolean) {
        context.contentResolver.update(
            row,
            ContentValues().apply {
                put(Telephony.Mms.MESSAGE_BOX, if (ok) Telephony.Mms.MESSAGE_BOX_SENT else Telephony.Mms.MESSAGE_BOX_FAILED)
            },
            null,
            null,
        )
    }

    private companion object {
        const val UTF_8_MIB = 106

        /** Address types of the MMS addr table: the PDU header codes of From and To. */
        const val ADDR_FROM = 0x89
        const val ADDR_TO = 0x97
    }
}
