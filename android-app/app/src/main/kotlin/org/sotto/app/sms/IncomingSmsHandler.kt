package org.sotto.app.sms

import android.content.Context
import android.util.Log
import org.sotto.app.AppGraph
import org.sotto.app.core.BindingsAdapter
import org.sotto.logic.core.IncomingSms
import org.sotto.logic.sms.PendingSmsQueue
import org.sotto.logic.sms.ReceivedSms
import java.io.File
import java.io.FileNotFoundException
import java.io.FileOutputStream

/**
 * Where an incoming SMS goes: to the core's SMS bridge when the app is
 * unlocked (it tells plain from encrypted), else, sealed to the account's
 * locked-inbox key, into the pending spool until the next unlock
 * ([PendingSmsQueue]). Plain SMS are also written to the Telephony
 * provider; encrypted ones never are.
 */
class IncomingSmsHandler(private val context: Context, private val graph: AppGraph) {
    private val provider = TelephonyProviderWriter(context)
    private val pendingFile = File(context.noBackupFilesDir, "pending-sms.bin")
    private val lockedInboxKey = File(context.noBackupFilesDir, LOCKED_INBOX_KEY_FILE)

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
        val core = graph.core.value ?: return
        val read = PendingSmsQueue.decode(bytes)
        for (sealed in read.sealed) {
            // A record that does not open (sealed to a key from before the
            // account was made again, say) is skipped: it can never open.
            val plain = runCatching { core.openLockedInbox(sealed) }.getOrNull() ?: continue
            val sms = PendingSmsQueue.decodeSms(plain) ?: continue
            deliver(sms, sms.receivedAtMillis)
        }
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
            // Asked, never answered on its own: the sender may be forged.
            is IncomingSms.StrangerWaiting -> graph.notifications.strangerRequest(result.number)
            // Never written to the provider: they were Sotto ciphertext or control data.
            IncomingSms.PartOfEncrypted, is IncomingSms.SottoControl -> Unit
        }
    }

    private fun appendPending(sms: ReceivedSms) {
        // Written at every unlock (AppGraph); an install never unlocked has
        // no account to hand the SMS to.
        val key = try {
            lockedInboxKey.readBytes()
        } catch (e: FileNotFoundException) {
            Log.w(TAG, "an SMS came before the first unlock; not stored")
            return
        }
        // Sealed before it touches the disk: no number, no text in the clear.
        val record = PendingSmsQueue.record(BindingsAdapter.sealForLockedInbox(key, PendingSmsQueue.encodeSms(sms)))
        synchronized(LOCK) {
            if (!PendingSmsQueue.fits(pendingFile.length(), record.size)) {
                Log.w(TAG, "the locked spool is full; an SMS was dropped")
                return
            }
            // Append-only: a crash mid-write costs at most this record (see PendingSmsQueue).
            FileOutputStream(pendingFile, true).use { out ->
                out.write(record)
                out.fd.sync()
            }
        }
    }

    companion object {
        /** The locked-inbox public key, in no-backup storage beside the database; it opens nothing. */
        const val LOCKED_INBOX_KEY_FILE = "locked-inbox.pub"
        private const val TAG = "SottoSms"
        private val LOCK = Any()
    }
}
