package org.sotto.app.sms

import android.app.PendingIntent
import android.content.Context
import android.content.Intent
import android.net.Uri
import android.os.Build
import android.telephony.SmsManager
import androidx.core.content.FileProvider
import org.sotto.app.AppGraph
import org.sotto.logic.core.CoreException
import org.sotto.logic.core.IncomingSms
import org.sotto.logic.core.SottoCore
import org.sotto.logic.mms.MmsNotification
import org.sotto.logic.mms.MmsPart
import org.sotto.logic.mms.MmsPdu
import org.sotto.logic.mms.MmsPduException
import org.sotto.logic.mms.MmsSendRequest
import org.sotto.logic.sms.MessageSendStatus
import java.io.File
import java.io.IOException
import java.security.SecureRandom
import java.util.UUID

/**
 * MMS in and out through `SmsManager`, which does the carrier's HTTP
 * (APN, proxy) itself: the platform reads and writes the PDU through a
 * `content://` URI of our FileProvider (`cache/mms/`). Decoding and
 * encoding is `:logic`'s [MmsPdu]; what an MMS means is the core's (it
 * stores it in the plain thread, parts as blobs). Results come back to
 * [MmsResultReceiver].
 *
 * A downloaded PDU that arrives while the passphrase lock keeps the core
 * closed waits in `noBackupFilesDir/pending-mms/` until [drainPending] at
 * the next unlock.
 */
class MmsTransfers(private val context: Context) {
    private val cache = File(context.cacheDir, "mms")
    private val pendingDir = File(context.noBackupFilesDir, "pending-mms")
    private val provider = TelephonyProviderWriter(context)

    /** Asks the platform to fetch the MMS [notification] announced. */
    fun download(notification: MmsNotification) {
        val file = newFile("in")
        val intent = resultIntent(MmsResultReceiver.ACTION_DOWNLOADED, file)
            .putExtra(MmsResultReceiver.EXTRA_TRANSACTION_ID, notification.transactionId)
        smsManager().downloadMultimediaMessage(context, notification.contentLocation, uriFor(file), null, pending(intent))
    }

    /**
     * Handles a downloaded `m-retrieve-conf` in [file]: hands it to the
     * core (or keeps it for the unlock), writes it to the Telephony
     * provider, notifies, and tells the carrier it arrived.
     */
    suspend fun downloaded(graph: AppGraph, file: File, notificationTransactionId: String?) {
        val pdu = readBounded(file) ?: return graph.notifications.mmsFailed()
        // A receiver in a cold process opens the core itself when no passphrase is needed.
        val core = graph.coreOrOpen()
        // The carrier may drop its copy once told, so tell it only when ours is safe.
        if (core == null) {
            keepForUnlock(file)
            graph.notifications.lockedMessage()
        } else {
            try {
                deliver(graph, core, pdu)
            } catch (e: CoreException) {
                keepForUnlock(file) // a storage failure: tried again at the next unlock
                throw e
            }
            file.delete()
        }
        acknowledge(pdu, notificationTransactionId)
    }

    private fun keepForUnlock(file: File) {
        pendingDir.mkdirs()
        if (!file.renameTo(File(pendingDir, file.name))) file.delete()
    }

    /** Hands the MMS downloaded while locked to the core; call right after unlocking. */
    fun drainPending(graph: AppGraph) {
        val core = graph.core.value ?: return
        // A file whose delivery throws (storage) stays for the next unlock; the rest go on.
        for (file in pendingDir.listFiles().orEmpty().sortedBy { it.name }) {
            try {
                readBounded(file)?.let { deliver(graph, core, it) }
                file.delete()
            } catch (e: CoreException) {
                continue
            }
        }
    }

    private fun deliver(graph: AppGraph, core: SottoCore, pdu: ByteArray) {
        val mms = try {
            MmsPdu.parseRetrieveConf(pdu)
        } catch (e: MmsPduException) {
            return graph.notifications.mmsFailed()
        }
        val from = mms.from ?: return graph.notifications.mmsFailed()
        // Group MMS: the core keeps threads by one number, so the sender's thread gets it.
        val result = try {
            core.mmsReceived(from, mms.displayText, mms.attachments)
        } catch (e: CoreException.InvalidInput) {
            return graph.notifications.mmsFailed() // over the core's 4 MiB, or no usable sender
        }
        provider.insertMms(TelephonyProviderWriter.MmsBox.INBOX, from, mms.to + mms.cc, mms.subject, mms.text, mms.attachments, System.currentTimeMillis())
        graph.conversationChanges.value++
        if (result is IncomingSms.Plain) graph.notifications.message(result.conversationId)
    }

    /** Tells the carrier the MMS arrived ([MmsPdu.downloadAnswer] says how). */
    private fun acknowledge(pdu: ByteArray, notificationTransactionId: String?) {
        val retrieved = try {
            MmsPdu.parseRetrieveConf(pdu)
        } catch (e: MmsPduException) {
            return
        }
        val answer = MmsPdu.downloadAnswer(retrieved, notificationTransactionId) ?: return
        val file = newFile("ack").apply { writeBytes(answer) }
        smsManager().sendMultimediaMessage(context, uriFor(file), null, null, pending(resultIntent(MmsResultReceiver.ACTION_ACKNOWLEDGED, file)))
    }

    /**
     * Sends an MMS to [number]: stored by the core first (pending), then
     * encoded and handed to the platform. Throws [MmsPduException] for what
     * cannot be encoded, or the platform's exception when it refuses at
     * once; the core's row is then marked failed.
     */
    fun send(core: SottoCore, number: String, text: String, attachments: List<MmsPart>) {
        val id = core.sendMms(number, text, attachments)
        val pdu = try {
            MmsPdu.encodeSendRequest(MmsSendRequest(listOf(number), text, attachments, transactionId = transactionId(id)))
        } catch (e: MmsPduException) {
            core.mmsSendStatus(id, MessageSendStatus.FAILED)
            throw e
        }
        val row = provider.insertMms(TelephonyProviderWriter.MmsBox.OUTBOX, number, emptyList(), null, text, attachments, System.currentTimeMillis())
        val file = newFile("out").apply { writeBytes(pdu) }
        val intent = resultIntent(MmsResultReceiver.ACTION_SENT, file)
            .putExtra(MmsResultReceiver.EXTRA_MMS_ID, id)
            .putExtra(MmsResultReceiver.EXTRA_PROVIDER_ROW, row?.toString())
        try {
            smsManager().sendMultimediaMessage(context, uriFor(file), null, null, pending(intent))
        } catch (e: RuntimeException) {
            // The platform refused at once (no SIM, no MMS support): failed, not pending forever.
            file.delete()
            core.mmsSendStatus(id, MessageSendStatus.FAILED)
            row?.let { provider.markMmsSent(it, ok = false) }
            throw e
        }
    }

    /** The carrier's largest MMS, from its configuration (a common 300 KiB if it says nothing). */
    fun carrierMaxBytes(): Int =
        smsManager().carrierConfigValues.getInt(SmsManager.MMS_CONFIG_MAX_MESSAGE_SIZE, 300 * 1024)
            .coerceIn(30 * 1024, MmsPdu.MAX_PDU_BYTES)

    /** A file of the transfer cache, by the name a result intent carries (never a path). */
    fun cacheFile(name: String): File? =
        name.takeIf { it.matches(Regex("[a-z]+-[0-9a-f-]{36}\\.pdu")) }?.let { File(cache, it) }

    private fun readBounded(file: File): ByteArray? = try {
        if (file.length() in 1..MmsPdu.MAX_PDU_BYTES.toLong()) file.readBytes() else null
    } catch (e: IOException) {
        null
    }

    private fun newFile(kind: String): File {
        cache.mkdirs()
        return File(cache, "$kind-${UUID.randomUUID()}.pdu").apply { createNewFile() }
    }

    private fun uriFor(file: File): Uri = FileProvider.getUriForFile(context, context.packageName + AUTHORITY_SUFFIX, file)

    private fun resultIntent(action: String, file: File): Intent =
        Intent(action, Uri.fromParts("sotto-mms", file.name, null), context, MmsResultReceiver::class.java)
            .putExtra(MmsResultReceiver.EXTRA_FILE, file.name)

    private fun pending(intent: Intent): PendingIntent {
        // Mutable: the platform adds the result (the m-send-conf, the HTTP status) to it.
        val flags = PendingIntent.FLAG_UPDATE_CURRENT or
            if (Build.VERSION.SDK_INT >= 31) PendingIntent.FLAG_MUTABLE else 0
        return PendingIntent.getBroadcast(context, 0, intent, flags)
    }

    @Suppress("DEPRECATION")
    private fun smsManager(): SmsManager =
        if (Build.VERSION.SDK_INT >= 31) context.getSystemService(SmsManager::class.java) else SmsManager.getDefault()

    private companion object {
        /** The FileProvider's authority is the package name and this (AndroidManifest.xml). */
        const val AUTHORITY_SUFFIX = ".mmsfiles"
        val random = SecureRandom()

        /** A transaction id: the core's id and random hex, printable ASCII as the PDU needs. */
        fun transactionId(id: String): String =
            "sotto" + id.filter { it.isLetterOrDigit() } + "x" + java.lang.Long.toHexString(random.nextLong())
    }
}
