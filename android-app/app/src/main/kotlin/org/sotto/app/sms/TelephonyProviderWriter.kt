package org.sotto.app.sms

import android.content.ContentValues
import android.content.Context
import android.net.Uri
import android.provider.Telephony

/**
 * Writes plain SMS to the system's Telephony provider. Only the default SMS
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
}
