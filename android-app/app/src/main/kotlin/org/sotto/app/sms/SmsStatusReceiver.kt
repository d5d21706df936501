package org.sotto.app.sms

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.telephony.SmsMessage
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import org.sotto.app.sotto
import org.sotto.logic.sms.DeliveryResult
import org.sotto.logic.sms.MessageSendStatus
import org.sotto.logic.sms.SendResult

/**
 * `SmsManager` fires this (through the `PendingIntent`s [SmsSender] made) once
 * per part when it was sent, and again when the carrier's status report
 * arrives. It decodes the report, folds it into the message's status with
 * `MultipartSendTracker`, and hands the status to the core and the Telephony
 * provider.
 */
class SmsStatusReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        val id = intent.getStringExtra(EXTRA_ID) ?: return
        val part = intent.getIntExtra(EXTRA_PART, -1)
        val parts = intent.getIntExtra(EXTRA_PARTS, 0)
        if (parts < 1) return
        val graph = context.sotto
        val sender = graph.smsSender
        val tracker = sender.tracker(id, parts)
        val status = when (intent.action) {
            ACTION_SENT -> tracker.onSent(part, SendResult.fromResultCode(resultCode))
            ACTION_DELIVERED -> {
                val pdu = intent.getByteArrayExtra("pdu") ?: return
                val format = intent.getStringExtra("format")
                val report = SmsMessage.createFromPdu(pdu, format) ?: return
                tracker.onDelivered(part, DeliveryResult.fromTpStatus(report.status))
            }
            else -> null
        } ?: return
        val pending = goAsync()
        graph.scope.launch(Dispatchers.IO) {
            try {
                sender.providerRow(id)?.let { row ->
                    when (status) {
                        MessageSendStatus.SENT -> TelephonyProviderWriter(context).markSent(row, ok = true)
                        MessageSendStatus.FAILED, MessageSendStatus.FAILED_RETRYABLE ->
                            TelephonyProviderWriter(context).markSent(row, ok = false)
                        MessageSendStatus.DELIVERED -> TelephonyProviderWriter(context).markDelivered(row, ok = true)
                        MessageSendStatus.DELIVERY_FAILED -> TelephonyProviderWriter(context).markDelivered(row, ok = false)
                    }
                }
                if (!id.startsWith("untracked-")) graph.coreOrOpen()?.smsSendStatus(id, status)
                if (status != MessageSendStatus.SENT) sender.forget(id)
            } finally {
                pending.finish()
            }
        }
    }

    companion object {
        const val ACTION_SENT = "org.sotto.app.SMS_SENT"
        const val ACTION_DELIVERED = "org.sotto.app.SMS_DELIVERED"
        const val EXTRA_ID = "id"
        const val EXTRA_PART = "part"
        const val EXTRA_PARTS = "parts"
    }
}
