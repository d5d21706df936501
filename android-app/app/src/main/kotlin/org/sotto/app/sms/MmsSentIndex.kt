package org.sotto.app.sms

import android.content.Context

/**
 * Which MMS of the core each Message-ID the MMS centre gave (in its
 * `m-send-conf`) belongs to, so a later delivery report (`m-delivery-ind`,
 * which names only the Message-ID) reaches the right message. Kept for
 * [KEEP_MILLIS]: a report later than that is dropped and the MMS stays sent.
 */
class MmsSentIndex(context: Context) {
    private val prefs = context.getSharedPreferences("mms-sent", Context.MODE_PRIVATE)

    /** Remembers that the centre named MMS [coreId] [messageId]. */
    fun remember(messageId: String, coreId: String, nowMillis: Long = System.currentTimeMillis()) {
        val edit = prefs.edit()
        for ((key, value) in prefs.all) {
            val at = (value as? String)?.substringAfter('|')?.toLongOrNull() ?: 0
            if (nowMillis - at > KEEP_MILLIS) edit.remove(key)
        }
        edit.putString(messageId, "$coreId|$nowMillis").apply()
    }

    /** The core's id of the MMS the centre named [messageId], forgotten once taken. */
    fun take(messageId: String): String? {
        val value = prefs.getString(messageId, null) ?: return null
        prefs.edit().remove(messageId).apply()
        return value.substringBefore('|')
    }

    private companion object {
        const val KEEP_MILLIS = 7L * 24 * 60 * 60 * 1000
    }
}
