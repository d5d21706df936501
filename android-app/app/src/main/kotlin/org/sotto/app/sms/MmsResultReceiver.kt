package org.sotto.app.sms

import android.app.Activity
import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.net.Uri
import android.telephony.SmsManager
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import org.sotto.app.sotto
import org.sotto.logic.mms.MmsPdu
import org.sotto.logic.mms.MmsPduException
import org.sotto.logic.sms.MessageSendStatus

/**
 * `SmsManager` fires this (through the `PendingIntent`s [MmsTransfers]
 * made) when an MMS download, an MMS send, or our acknowledgement to the
 * carrier finished. `goAsync`, finished in `finally`.
 */
class MmsResultReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        val graph = context.sotto
        val transfers = MmsTransfers(context)
        val file = intent.getStringExtra(EXTRA_FILE)?.let { transfers.cacheFile(it) } ?: return
        val ok = resultCode == Activity.RESULT_OK
        val sendConf = intent.getByteArrayExtra(SmsManager.EXTRA_MMS_DATA)
        val pending = goAsync()
        graph.scope.launch(Dispatchers.IO) {
            try {
                when (intent.action) {
                    ACTION_DOWNLOADED -> if (ok) {
                        transfers.downloaded(graph, file, intent.getStringExtra(EXTRA_TRANSACTION_ID))
                    } else {
                        file.delete()
                        graph.notifications.mmsFailed()
                    }
                    ACTION_SENT -> {
                        file.delete()
                        // Sent only when the MMS centre said Ok in its m-send-conf.
                        val conf = if (ok && sendConf != null) {
                            try {
                                MmsPdu.parseSendConf(sendConf)
                            } catch (e: MmsPduException) {
                                null
                            }
                        } else {
                            null
                        }
                        val accepted = conf?.accepted == true
                        intent.getStringExtra(EXTRA_PROVIDER_ROW)?.let {
                            TelephonyProviderWriter(context).markMmsSent(Uri.parse(it), accepted)
                        }
                        val id = intent.getStringExtra(EXTRA_MMS_ID)
                        if (id != null) {
                            // The delivery report will name the MMS by the centre's Message-ID.
                            if (accepted) conf?.messageId?.let { MmsSentIndex(context).remember(it, id) }
                            graph.coreOrOpen()?.mmsSendStatus(id, if (accepted) MessageSendStatus.SENT else MessageSendStatus.FAILED)
                            graph.conversationChanges.value++
                        }
                    }
                    ACTION_ACKNOWLEDGED -> file.delete()
                }
            } finally {
                pending.finish()
            }
        }
    }

    companion object {
        const val ACTION_DOWNLOADED = "org.sotto.app.MMS_DOWNLOADED"
        const val ACTION_SENT = "org.sotto.app.MMS_SENT"
        const val ACTION_ACKNOWLEDGED = "org.sotto.app.MMS_ACKNOWLEDGED"
        const val EXTRA_FILE = "file"
        const val EXTRA_TRANSACTION_ID = "transaction"
        const val EXTRA_MMS_ID = "mms"
        const val EXTRA_PROVIDER_ROW = "row"
    }
}
