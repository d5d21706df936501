package org.sotto.app.sms

import android.app.PendingIntent
import android.content.Context
import android.content.Intent
import android.net.Uri
import android.os.Build
import android.telephony.SmsManager
import android.util.Log
import androidx.core.content.FileProvider
import org.sotto.app.AppGraph
import org.sotto.logic.core.CoreException
import org.sotto.logic.core.IncomingSms
import org.sotto.logic.core.SottoCore
import org.sotto.logic.mms.MmsDownloadOutcome
import org.sotto.logic.mms.MmsNotification
import org.sotto.logic.mms.MmsPart
import org.sotto.logic.mms.MmsPdu
import org.sotto.logic.mms.MmsPduException
import org.sotto.logic.mms.MmsSendRequest
import org.sotto.logic.mms.PendingMmsFiles
import org.sotto.logic.mms.RetrievedMms
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
 * closed (or that the store failed to take) waits, whole and in plaintext,
 * in `noBackupFilesDir/pending-mms/` until [drainPending] at the next
 * unlock.
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
     * provider, notifies, and tells the carrier what became of it. The
     * carrier may drop its copy once told Retrieved, so it is told that
     * only when ours is safe ([MmsDownloadOutcome] has the whole rule).
     */
    suspend fun downloaded(graph: AppGraph, file: File, notificationTransactionId: String?) {
        val read = read(file)
        val mms = read.mms
        val outcome = if (mms == null) {
            read.failure ?: MmsDownloadOutcome.UNREADABLE
        } else if (MmsDownloadOutcome.ofMessage(mms) != null) {
            MmsDownloadOutcome.REFUSED // no sender, or an e-mail one: never kept
        } else {
            // A receiver in a cold process opens the core itself when no passphrase is needed.
            val core = graph.coreOrOpen()
            if (core == null) {
                keepForLater(file).also { if (it == MmsDownloadOutcome.KEPT_FOR_LATER) graph.notifications.lockedMessage() }
            } else {
                // A failure that may pass (storage): kept and tried again at the next unlock.
                deliver(graph, core, mms) ?: keepForLater(file)
            }
        }
        if (outcome.deletesFile) file.delete()
        if (outcome != MmsDownloadOutcome.STORED && outcome != MmsDownloadOutcome.KEPT_FOR_LATER) graph.notifications.mmsFailed()
        MmsPdu.downloadAnswer(outcome, mms, notificationTransactionId)?.let(::answer)
    }

    /** Moves [file] to the pending directory: [MmsDownloadOutcome.KEPT_FOR_LATER], or NOT_KEPT if it could not be moved. */
    private fun keepForLater(file: File): MmsDownloadOutcome {
        pendingDir.mkdirs()
        return if (file.renameTo(File(pendingDir, file.name))) MmsDownloadOutcome.KEPT_FOR_LATER else MmsDownloadOutcome.NOT_KEPT
    }

    /**
     * Hands the MMS kept while locked (or after a storage failure) to the
     * core; call right after unlocking. Each file is claimed by a rename
     * before it is read, so no file is handed over twice
     * ([PendingMmsFiles] has the names and what a dead drain left).
     */
    fun drainPending(graph: AppGraph) {
        val core = graph.core.value ?: return
        // One drain at a time in this process: a claim seen at the start was left by a dead one.
        synchronized(DRAIN_LOCK) {
            for (file in pendingDir.listFiles().orEmpty().sortedBy { it.name }) {
                when (PendingMmsFiles.atStart(file.name)) {
                    PendingMmsFiles.AtStart.DELIVER -> drainOne(graph, core, file)
                    PendingMmsFiles.AtStart.DELETE -> file.delete()
                    PendingMmsFiles.AtStart.DROP_INTERRUPTED -> {
                        file.delete()
                        graph.notifications.mmsFailed()
                    }
                    PendingMmsFiles.AtStart.IGNORE -> Unit
                }
            }
        }
    }

    private fun drainOne(graph: AppGraph, core: SottoCore, file: File) {
        val claimed = File(pendingDir, PendingMmsFiles.claimed(file.name))
        if (!file.renameTo(claimed)) return // gone meanwhile
        val stored = File(pendingDir, PendingMmsFiles.stored(file.name))
        val read = read(claimed)
        val mms = read.mms
        val outcome = if (mms == null) {
            read.failure ?: MmsDownloadOutcome.UNREADABLE
        } else {
            try {
                deliver(graph, core, mms) { claimed.renameTo(stored) }
            } catch (e: RuntimeException) {
                // Whether the core kept it is unknown: it is not handed over again.
                Log.w(TAG, "a pending MMS failed: " + e.javaClass.simpleName)
                MmsDownloadOutcome.REFUSED
            }
        }
        when (outcome) {
            // Not read this time, or the store failed: it waits for the next unlock.
            null, MmsDownloadOutcome.NOT_KEPT -> claimed.renameTo(File(pendingDir, PendingMmsFiles.waiting(file.name)))
            MmsDownloadOutcome.STORED -> {
                stored.delete()
                claimed.delete() // if the rename to .stored failed
            }
            else -> {
                claimed.delete()
                stored.delete()
                graph.notifications.mmsFailed()
            }
        }
    }

    /**
     * Hands [mms] to the core, then to the Telephony provider, and
     * notifies. Returns [MmsDownloadOutcome.STORED] once the core stored it
     * ([onStored] runs right then), [MmsDownloadOutcome.REFUSED] when it
     * never will, or null for a core failure that may pass.
     */
    private fun deliver(graph: AppGraph, core: SottoCore, mms: RetrievedMms, onStored: () -> Unit = {}): MmsDownloadOutcome? {
        MmsDownloadOutcome.ofMessage(mms)?.let { return it }
        val from = mms.from ?: return MmsDownloadOutcome.REFUSED
        // Group MMS: the core keeps threads by one number, so the sender's thread gets it.
        val result = try {
            core.mmsReceived(from, mms.displayText, mms.attachments)
        } catch (e: CoreException) {
            // InvalidInput: over the core's 4 MiB, or a sender that is no phone number (an e-mail address).
            Log.w(TAG, "the core did not store an MMS: " + e.javaClass.simpleName)
            return MmsDownloadOutcome.ofCoreFailure(e)
        }
        onStored()
        // The core has it: nothing after this may undo that or stop the caller.
        try {
            provider.insertMms(TelephonyProviderWriter.MmsBox.INBOX, from, mms.to + mms.cc, mms.subject, mms.text, mms.attachments, System.currentTimeMillis())
        } catch (e: RuntimeException) {
            Log.w(TAG, "an MMS was not written to the Telephony provider: " + e.javaClass.simpleName)
        }
        graph.conversationChanges.value++
        try {
            if (result is IncomingSms.Plain) graph.notifications.message(result.conversationId)
        } catch (e: RuntimeException) {
            Log.w(TAG, "an MMS notification failed: " + e.javaClass.simpleName)
        }
        return MmsDownloadOutcome.STORED
    }

    /** What [read] found in a downloaded file: the message, or the outcome that says why not. */
    private class Read(val mms: RetrievedMms?, val failure: MmsDownloadOutcome?)

    private fun read(file: File): Read {
        val bytes = try {
            MmsDownloadOutcome.ofFileLength(file.length())?.let { return Read(null, it) }
            file.readBytes()
        } catch (e: IOException) {
            return Read(null, MmsDownloadOutcome.NOT_KEPT)
        }
        return try {
            Read(MmsPdu.parseRetrieveConf(bytes), null)
        } catch (e: MmsPduException) {
            Read(null, MmsDownloadOutcome.ofUnreadable(e))
        }
    }

    /** Sends [pdu], an answer to the carrier's MMS centre. */
    private fun answer(pdu: ByteArray) {
        val file = newFile("ack").apply { writeBytes(pdu) }
        try {
            smsManager().sendMultimediaMessage(context, uriFor(file), null, null, pending(resultIntent(MmsResultReceiver.ACTION_ACKNOWLEDGED, file)))
        } catch (e: RuntimeException) {
            // The platform refused at once (no SIM): the centre simply hears nothing.
            file.delete()
            Log.w(TAG, "an MMS answer was not sent: " + e.javaClass.simpleName)
        }
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
        const val TAG = "Sotto"

        /** Held by [drainPending]: drains in one process never overlap. */
        val DRAIN_LOCK = Any()

        /** The FileProvider's authority is the package name and this (AndroidManifest.xml). */
        const val AUTHORITY_SUFFIX = ".mmsfiles"
        val random = SecureRandom()

        /** A transaction id: the core's id and random hex, printable ASCII as the PDU needs. */
        fun transactionId(id: String): String =
            "sotto" + id.filter { it.isLetterOrDigit() } + "x" + java.lang.Long.toHexString(random.nextLong())
    }
}
