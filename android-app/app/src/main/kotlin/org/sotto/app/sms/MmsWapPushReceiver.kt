package org.sotto.app.sms

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.provider.Telephony
import org.sotto.app.sotto

/**
 * The system calls this with `WAP_PUSH_DELIVER` (MIME
 * `application/vnd.wap.mms-message`) when an MMS notification arrives and
 * Sotto is the default SMS app; the role requires the receiver. Downloading
 * and parsing MMS is not built yet, so it tells the user an MMS arrived
 * instead of dropping it silently (see docs/android.md).
 */
class MmsWapPushReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        if (intent.action != Telephony.Sms.Intents.WAP_PUSH_DELIVER_ACTION) return
        context.sotto.notifications.mmsNotSupported()
    }
}
