package org.sotto.app.sms

import android.app.PendingIntent
import android.content.Context
import android.content.Intent
import android.net.Uri
import android.os.Build
import android.telephony.SmsManager
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.sotto.app.AppGraph
import org.sotto.logic.sms.MultipartSendTracker
import java.util.concurrent.ConcurrentHashMap

/**
 * Sends the SMS the core hands out (plain texts, and the parts of encrypted
 * SMS) with `SmsManager`, multipart, with one sent and one delivered
 * `PendingIntent` per part. [SmsStatusReceiver] feeds the reports back
 * through [MultipartSendTracker] to the core and, for plain SMS, to the
 * Telephony provider.
 */
class SmsSender(private val context: Context) {
    private val provider = TelephonyProviderWriter(context)
    private val trackers = ConcurrentHashMap<String, MultipartSendTracker>()
    private val rows = ConcurrentHashMap<String, Uri>()

    /** Takes what the core wants sent and sends it. */
    suspend fun sendPending(graph: AppGraph) = withContext(Dispatchers.IO) {
        val core = graph.core.value ?: return@withContext
        for (sms in core.takeOutgoingSms()) {
            val data = sms.data
            val port = sms.dataPort
            if (data != null && port != null) {
                sendData(sms.id, sms.destination, port, data)
                continue
            }
            val row = if (sms.encrypted) null else provider.insertOutgoing(sms.destination, sms.body, System.currentTimeMillis())
            send(sms.id, sms.destination, sms.body, row)
        }
    }

    /** Sends a plain SMS the core does not know about (a reply while locked); [body] is written to the provider. */
    fun sendPlainUntracked(destination: String, body: String) {
        val row = provider.insertOutgoing(destination, body, System.currentTimeMillis())
        send("untracked-" + System.nanoTime(), destination, body, row)
    }

    private fun send(id: String, destination: String, body: String, row: Uri?) {
        val manager = smsManager()
        val parts = manager.divideMessage(body)
        trackers[id] = MultipartSendTracker(parts.size)
        row?.let { rows[id] = it }
        val sent = ArrayList<PendingIntent>(parts.size)
        val delivered = ArrayList<PendingIntent>(parts.size)
        for (i in parts.indices) {
            sent += statusIntent(SmsStatusReceiver.ACTION_SENT, id, i, parts.size)
            delivered += statusIntent(SmsStatusReceiver.ACTION_DELIVERED, id, i, parts.size)
        }
        manager.sendMultipartTextMessage(destination, null, parts, sent, delivered)
    }

    /** Sends a data SMS (Sotto ciphertext, never written to the provider) as one part. */
    private fun sendData(id: String, destination: String, port: Int, data: ByteArray) {
        trackers[id] = MultipartSendTracker(1)
        smsManager().sendDataMessage(
            destination,
            null,
            port.toShort(),
            data,
            statusIntent(SmsStatusReceiver.ACTION_SENT, id, 0, 1),
            statusIntent(SmsStatusReceiver.ACTION_DELIVERED, id, 0, 1),
        )
    }

    /** The tracker of message [id], made anew if the process restarted since sending. */
    fun tracker(id: String, parts: Int): MultipartSendTracker = trackers.getOrPut(id) { MultipartSendTracker(parts) }

    /** The provider row of a plain SMS, if it has one. */
    fun providerRow(id: String): Uri? = rows[id]

    /** Forgets message [id] once its final status is known. */
    fun forget(id: String) {
        trackers.remove(id)
        rows.remove(id)
    }

    private fun statusIntent(action: String, id: String, part: Int, parts: Int): PendingIntent {
        val intent = Intent(action, Uri.fromParts("sotto-sms", "$id/$part", null), context, SmsStatusReceiver::class.java)
            .putExtra(SmsStatusReceiver.EXTRA_ID, id)
            .putExtra(SmsStatusReceiver.EXTRA_PART, part)
            .putExtra(SmsStatusReceiver.EXTRA_PARTS, parts)
        // Mutable: the platform adds the PDU of the status report to the delivered intent.
        val flags = PendingIntent.FLAG_UPDATE_CURRENT or
            if (Build.VERSION.SDK_INT >= 31) PendingIntent.FLAG_MUTABLE else 0
        return PendingIntent.getBroadcast(context, 0, intent, flags)
    }

    @Suppress("DEPRECATION")
    private fun smsManager(): SmsManager =
        if (Build.VERSION.SDK_INT >= 31) context.getSystemService(SmsManager::class.java) else SmsManager.getDefault()
}
