package org.sotto.app.sms

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.provider.Telephony
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import org.sotto.app.sotto
import org.sotto.logic.mms.MmsDeliveryReport
import org.sotto.logic.mms.MmsPdu
import org.sotto.logic.mms.MmsPduException
import org.sotto.logic.sms.MessageSendStatus

/**
 * The system calls this with `WAP_PUSH_DELIVER` (MIME
 * `application/vnd.wap.mms-message`) when an MMS notification arrives and
 * Sotto is the default SMS app; the role requires the receiver. The push
 * body (`data`) is an `m-notification-ind`: `:logic` reads it and
 * [MmsTransfers] asks the platform to download the MMS; the result comes to
 * [MmsResultReceiver]. A delivery report (`m-delivery-ind`) moves the MMS
 * it names (through [MmsSentIndex]) to delivered or failed; other push
 * PDUs (read reports) are ignored.
 */
class MmsWapPushReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        if (intent.action != Telephony.Sms.Intents.WAP_PUSH_DELIVER_ACTION) return
        val pdu = intent.getByteArrayExtra("data") ?: return
        val graph = context.sotto
        val notification = try {
            when (MmsPdu.messageType(pdu)) {
                MmsPdu.NOTIFICATION_IND -> MmsPdu.parseNotification(pdu)
                MmsPdu.DELIVERY_IND -> return deliveryReport(context, MmsPdu.parseDeliveryInd(pdu))
                else -> return
            }
        } catch (e: MmsPduException) {
            graph.notifications.mmsFailed()
            return
        }
        val pending = goAsync()
        graph.scope.launch(Dispatchers.IO) {
            try {
                MmsTransfers(context).download(notification)
            } finally {
                pending.finish()
            }
        }
    }

    private fun deliveryReport(context: Context, report: MmsDeliveryReport) {
        if (!report.delivered && !report.failed) return // deferred, indeterminate: not final
        val graph = context.sotto
        val pending = goAsync()
        graph.scope.launch(Dispatchers.IO) {
            try {
                val id = MmsSentIndex(context).take(report.messageId) ?: return@launch
                val status = if (report.delivered) MessageSendStatus.DELIVERED else MessageSendStatus.DELIVERY_FAILED
                graph.coreOrOpen()?.mmsSendStatus(id, status)
                graph.conversationChanges.value++
            } finally {
                pending.finish()
            }
        }
    }
}
