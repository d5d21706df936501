package org.sotto.app.sms

import android.content.Context
import org.sotto.app.AppGraph
import org.sotto.logic.core.IncomingSms
import org.sotto.logic.sms.PendingSmsQueue
import org.sotto.logic.sms.ReceivedSms
import java.io.File
import java.io.FileNotFoundException
import java.io.FileOutputStream

/**
 * Where an incoming SMS goes: to the core's SMS bridge when the app is
 * unlocked (it tells plain from encrypted), else into the pending file until
 * the next unlock ([PendingSmsQueue]). Plain SMS are also written to the
 * Telephony provider; encrypted ones never are.
 */
class IncomingSmsHandler(private val context: Context, private val graph: AppGraph) {
    private val provider = TelephonyProviderWriter(context)
    private val pendingFile = File(context.noBackupFilesDir, "pending-sms.bin")

    /** Hands [sms] on. */
    suspend fun handle(sms: ReceivedSms, sentAtMillis: Long) {
        val core = graph.coreOrOpen()
        if (core == null) {
            appendPending(sms)
            graph.notifications.lockedMessage()
            return
        }
        deliver(sms, sentAtMillis)
    }

    /** Hands the SMS that came while locked to the core; call right after unlocking. */
    fun drainPending() {
        // Take the file aside first, so an SMS arriving meanwhile starts a new one.
        val draining = File(context.noBackupFilesDir, "pending-sms.draining")
        synchronized(LOCK) {
            if (!draining.exists() && !pendingFile.renameTo(draining)) return
        }
        val bytes = try {
            draining.readBytes()
        } catch (e: FileNotFoundException) {
            return
        }
        val read = PendingSmsQueue.decode(bytes)
        for (sms in read.messages) deliver(sms, sms.receivedAtMillis)
        // Every whole record is now in the core's store (a crash before this
        // line hands them in again, and the core drops the repeats it has seen).
        draining.delete()
    }

    private fun deliver(sms: ReceivedSms, sentAtMillis: Long) {
        val core = graph.core.value ?: return appendPending(sms)
        when (val result = core.smsReceived(sms.sender, sms.body, sms.receivedAtMillis)) {
            is IncomingSms.Plain -> {
                provider.insertReceived(sms.sender, sms.body, sentAtMillis, sms.receivedAtMillis)
                graph.notifications.message(result.conversationId)
            }
            is IncomingSms.Encrypted -> graph.notifications.message(result.conversationId)
            // Never written to the provider: they were Sotto ciphertext or control data.
            IncomingSms.PartOfEncrypted, is IncomingSms.SottoControl -> Unit
        }
    }

    private fun appendPending(sms: ReceivedSms) {
        synchronized(LOCK) {
            // Append-only: a crash mid-write costs at most this record (see PendingSmsQueue).
            FileOutputStream(pendingFile, true).use { out ->
                out.write(PendingSmsQueue.encode(sms))
                out.fd.sync()
            }
        }
    }

    private companion object {
        val LOCK = Any()
    }
}
