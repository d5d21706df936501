/**
 * The core as `:app` sees it, in `:logic` types. `:app`'s `BindingsAdapter`
 * implements it on top of the generated UniFFI bindings (`sotto-ffi`); the
 * screens, receivers and services use only this interface, so the generated
 * code is referenced in exactly one file and a change of the bindings' API is
 * one file's work. Every call may block on the store: `:app` makes them off
 * the main thread.
 */
package org.sotto.logic.core

import org.sotto.logic.call.CallEvent
import org.sotto.logic.calllog.CallLogRecord
import org.sotto.logic.conversation.ConversationRecord
import org.sotto.logic.conversation.MessageRecord
import org.sotto.logic.conversation.Transport
import org.sotto.logic.mms.MmsPart
import org.sotto.logic.settings.HostPort
import org.sotto.logic.settings.ProxySetting
import org.sotto.logic.sms.MessageSendStatus

/** A safety number to compare: 60 digits for reading aloud, and the QR payload. */
class SafetyNumber(
    val displayDigits: String,
    val qrPayload: ByteArray,
    val verified: Boolean,
    /**
     * Set while a new identity key is offered in the contact's name: these digits are then that key's (the ones the
     * contact's phone shows if the change is real), and trusting passes this key back, so exactly it is trusted.
     */
    val offeredKey: ByteArray? = null,
    /** More than one new key is offered in the contact's name: at most one is theirs. */
    val conflict: Boolean = false,
) {
    override fun toString(): String = "SafetyNumber(verified=$verified, offered=${offeredKey != null}, conflict=$conflict)"
}

/** The result of scanning the other phone's safety-number QR code. */
enum class ScanResult { MATCH, MISMATCH, NOT_A_SAFETY_NUMBER }

/** What the core made of an incoming SMS. */
sealed interface IncomingSms {
    /** An ordinary SMS, stored in [conversationId]; the app also writes it to the Telephony provider. */
    data class Plain(val conversationId: String) : IncomingSms

    /** An encrypted Sotto SMS, decrypted and stored; never written anywhere as ciphertext. */
    data class Encrypted(val conversationId: String) : IncomingSms

    /** One part of an encrypted message whose other parts have not arrived yet. */
    data object PartOfEncrypted : IncomingSms

    /**
     * A number whose key is unknown wants to talk by Sotto (a hello, or a first encrypted message). Nothing was
     * answered or trusted: ask the user ([SottoCore.acceptStranger] or [SottoCore.declineStranger]). The sender
     * number of an SMS can be forged, so show it as a request, never as that number's conversation.
     */
    data class StrangerWaiting(val number: String) : IncomingSms

    /**
     * A Sotto SMS with no message to show: a discovery handshake, a receipt
     * or timer change, a held message of a changed identity, a group text
     * (groups are not in the app yet), or a damaged part. Never written
     * anywhere; [conversationId] is the conversation it concerns, if any.
     */
    data class SottoControl(val conversationId: String?) : IncomingSms
}

/**
 * An SMS the core wants sent: a text SMS ([body]; plain, or a part of
 * encrypted SMS ciphertext), or, when the user turned data SMS on, a data
 * SMS of [data] to [dataPort] ([body] is then empty).
 */
class OutgoingSms(
    val id: String,
    val destination: String,
    val body: String,
    val encrypted: Boolean,
    val dataPort: Int? = null,
    val data: ByteArray? = null,
) {
    override fun toString(): String = "OutgoingSms(id=$id, encrypted=$encrypted, data=${data != null})"
}

/** Passed to [CoreListener.onConversationChanged] when any conversation may have changed. */
const val ALL_CONVERSATIONS: String = "*"

/** Events from the core. Called on a core thread; `:app` posts them to the main thread. */
interface CoreListener {
    /**
     * Messages of [conversationId] were added or changed (received, delivery
     * state, disappeared); [ALL_CONVERSATIONS] when any may have.
     */
    fun onConversationChanged(conversationId: String)

    /** A call event for the call state machine. */
    fun onCallEvent(event: CallEvent)

    /** The contact of [conversationId] has a new identity key; their messages are held. */
    fun onIdentityChanged(conversationId: String)

    /** The relay connection came up or went down. */
    fun onRelayConnection(connected: Boolean)

    /** The core has SMS to send (see [SottoCore.takeOutgoingSms]). */
    fun onOutgoingSms()

    /** The call log changed: a secure call ended or was missed ([SottoCore.callLog]). */
    fun onCallLogChanged() {}

    /**
     * A secure call from the contact of [conversationId] was missed: it rang
     * and nobody answered, the caller gave up, or ([whileBusy]) it came
     * during another call and was answered busy. For the missed-call
     * notification; [onCallLogChanged] follows.
     */
    fun onMissedCall(conversationId: String, whileBusy: Boolean) {}
}

/** The errors a caller can act on; messages are fixed texts with no user data. */
sealed class CoreException(message: String) : Exception(message) {
    /** The store key is wrong, or the file is not a Sotto store. Nothing was changed. */
    class WrongKey : CoreException("wrong store key")

    /** The store is open elsewhere (another process or handle). */
    class StoreInUse : CoreException("the store is already open")

    /** The store is damaged or from a newer Sotto. */
    class StoreUnusable : CoreException("the store cannot be used")

    /** Reading or writing the store failed (disk full, I/O). */
    class Storage : CoreException("storage failure")

    /** The relay could not be reached; the core retries on its own. */
    class Network : CoreException("network unavailable")

    /** The relay refused, or does not match its invite: check the relay setting. */
    class Relay : CoreException("the relay refused")

    /** The contact's identity changed; check the safety number first. */
    class UntrustedIdentity : CoreException("untrusted identity")

    /** There is no session with the contact yet. */
    class NoSession : CoreException("no session with this contact")

    /** The contact cannot be reached by any allowed route (not on Sotto, no number, SMS-only settings). */
    class NotDeliverable : CoreException("the contact cannot be reached this way")

    /** The input was refused (stale id, malformed scan, bad argument). */
    class InvalidInput(what: String) : CoreException("invalid input: $what")

    /** A bug in Sotto or in the app's use of it (a closed account, an internal error). */
    class Internal : CoreException("internal error")
}

/** The Sotto core, opened on one store. Close it to lock the app. */
interface SottoCore : AutoCloseable {
    /** All conversations. */
    fun conversations(): List<ConversationRecord>

    /** One conversation's record. */
    fun conversation(conversationId: String): ConversationRecord

    /** The conversation with the phone number [number], made if there is none (SENDTO, a contact picked). */
    fun conversationForNumber(number: String, displayName: String?): String

    /**
     * The newest [limit] messages stored before [before] (a record of the
     * previous page, normally its last; null: the newest), newest first.
     */
    fun messages(conversationId: String, limit: Int, before: MessageRecord?): List<MessageRecord>

    /** Sends [body] through [transport]; returns the message id. */
    fun sendText(conversationId: String, body: String, transport: Transport): String

    /** Marks everything in [conversationId] read (and sends read receipts to Sotto contacts). */
    fun markRead(conversationId: String)

    /** Sets the disappearing-messages timer, in seconds (0: off); the other side is told. */
    fun setDisappearingTimer(conversationId: String, seconds: Long)

    /** Keeps no history for a conversation (turning it on deletes what is stored), or keeps it again. */
    fun setKeepNoHistory(conversationId: String, keepNoHistory: Boolean)

    /** The safety number with the contact of [conversationId]: of the offered key while one is offered. */
    fun safetyNumber(conversationId: String): SafetyNumber

    /** Compares a scanned QR payload with the safety number; a match marks the contact verified. */
    fun checkScannedSafetyNumber(conversationId: String, payload: ByteArray): ScanResult

    /** Marks the contact verified or not after a spoken comparison. */
    fun setVerified(conversationId: String, verified: Boolean)

    /**
     * Trusts [offeredKey] (a [SafetyNumber.offeredKey] whose digits the user compared) as the contact's new identity
     * and decrypts the messages held for it; refused while another key is offered too.
     */
    fun trustNewIdentity(conversationId: String, offeredKey: ByteArray)

    /** The numbers whose Sotto request ([IncomingSms.StrangerWaiting]) waits for the user. */
    fun strangersWaiting(): List<String>

    /** The user agrees to talk to [number] by Sotto; its conversation stays plain until the handshake completes. */
    fun acceptStranger(number: String, name: String)

    /** Forgets [number]'s request without answering it. */
    fun declineStranger(number: String)

    /** The public key SMS are sealed to while locked (kept beside the database in the clear; it opens nothing). */
    fun lockedInboxKey(): ByteArray

    /** Opens one SMS record sealed to [lockedInboxKey] while the app was locked. */
    fun openLockedInbox(sealed: ByteArray): ByteArray

    /** Hands in an SMS the phone received. */
    fun smsReceived(sender: String, body: String, receivedAtMillis: Long): IncomingSms

    /** Takes the SMS the core wants sent; each is reported back with [smsSendStatus]. */
    fun takeOutgoingSms(): List<OutgoingSms>

    /** Reports what became of an SMS from [takeOutgoingSms]. */
    fun smsSendStatus(id: String, status: MessageSendStatus)

    /**
     * Hands in an MMS the phone downloaded (its text and media parts, see
     * `mms.MmsPdu`); it is stored in the sender's plain thread. Returns
     * [IncomingSms.Plain]. An MMS over the core's limit (4 MiB) is refused.
     */
    fun mmsReceived(sender: String, text: String, attachments: List<MmsPart>): IncomingSms

    /**
     * Stores an MMS to [number] in its plain thread as pending and returns
     * its id; the app then sends it and reports with [mmsSendStatus].
     */
    fun sendMms(number: String, text: String, attachments: List<MmsPart>): String

    /** Reports what became of an MMS from [sendMms]. */
    fun mmsSendStatus(id: String, status: MessageSendStatus)

    /** The parts of MMS [messageId] in [conversationId], in order; empty for any other message. */
    fun attachments(conversationId: String, messageId: String): List<MmsPart>

    /** Connects to [relay] (null: disconnect) through [proxy]. */
    fun applyNetwork(relay: HostPort?, proxy: ProxySetting)

    /**
     * Places a secure call to the contact of [conversationId] with the
     * phone's microphone and speaker; returns the call id. The core runs one
     * call at a time and answers a second caller busy on its own.
     */
    fun placeCall(conversationId: String): String

    /** Answers the incoming secure call [callId]; a call that is no longer ringing is an error. */
    fun answerCall(callId: String)

    /** Declines the incoming secure call [callId]. */
    fun rejectCall(callId: String)

    /** Hangs up [callId]; nothing happens when it is not the core's current call (it ended, or was answered busy). */
    fun hangUp(callId: String)

    /** Mutes or unmutes the microphone of the secure call [callId]. */
    fun setMuted(callId: String, muted: Boolean)

    /**
     * The call log: the newest [limit] secure calls that started before
     * [beforeMillis] (null: the newest), newest first. The next page starts
     * before the last record's `startedAtMillis`. Calls with a conversation
     * that keeps no history are not logged.
     */
    fun callLog(limit: Int, beforeMillis: Long?): List<CallLogRecord>

    /** Deletes one call log entry (nothing happens if it is gone already). */
    fun deleteCallLogEntry(id: Long)

    /** Deletes the whole call log. */
    fun clearCallLog()

    /** Whether secure calls always go through the relay (the other phone never learns this one's address). */
    fun relayOnlyCalls(): Boolean

    /** Saves "always relay calls" in the store; it applies to the running connection at once. */
    fun setRelayOnlyCalls(relayOnly: Boolean)

    /**
     * Rotates and replenishes prekeys and deletes expired disappearing
     * messages now. The core also does this on its own timer while the
     * process lives; this is for the periodic job that runs while it sleeps.
     */
    fun runMaintenance()

    /** Subscribes [listener]; closing the handle unsubscribes. */
    fun subscribe(listener: CoreListener): AutoCloseable

    /**
     * Re-encrypts the store under [newKey] (32 bytes; the caller wipes it)
     * and stays open on it: from then on only [newKey] opens the store
     * (`keys.DatabaseKeyVault.changePassphrase`). On an error the old key
     * normally still opens it; after [CoreException.Storage] it may already
     * be under [newKey], so the caller closes the core and opens it again
     * through the vault, which tries both keys.
     */
    fun rekey(newKey: ByteArray)
}
