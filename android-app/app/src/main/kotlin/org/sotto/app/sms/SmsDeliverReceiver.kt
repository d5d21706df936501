package org.sotto.app.sms

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.provider.Telephony
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import org.sotto.app.sotto
import org.sotto.logic.sms.ReceivedSms

/**
 * The system calls this with `SMS_DELIVER` when an SMS arrives and Sotto is
 * the default SMS app (only the default app gets it; others get
 * `SMS_RECEIVED` and cannot abort it). It joins the PDUs of one message and
 * hands it to [IncomingSmsHandler]; it decides nothing itself. `goAsync`
 * keeps the process alive while the core commits, and the broadcast is
 * finished in `finally` so a failure can never leave it hanging.
 */
class SmsDeliverReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        if (intent.action != Telephony.Sms.Intents.SMS_DELIVER_ACTION) return
        val parts = Telephony.Sms.Intents.getMessagesFromIntent(intent) ?: return
        if (parts.isEmpty()) return
        val first = parts[0]
        val sms = ReceivedSms(
            sender = first.displayOriginatingAddress ?: first.originatingAddress ?: return,
            body = parts.joinToString(separator = "") { it.displayMessageBody ?: it.messageBody ?: "" },
            receivedAtMillis = System.currentTimeMillis(),
        )
        val sentAt = first.timestampMillis
        val pending = goAsync()
        val graph = context.sotto
        graph.scope.launch(Dispatchers.IO) {
            try {
                IncomingSmsHandler(context, graph).handle(sms, sentAt)
            } finally {
                pending.finish()
            }
        }
    }
}
