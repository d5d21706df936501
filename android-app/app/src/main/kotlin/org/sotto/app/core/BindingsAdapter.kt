package org.sotto.app.core

import java.util.concurrent.ConcurrentHashMap
import org.sotto.ffi.Account
import org.sotto.ffi.AccountEvent
import org.sotto.ffi.AccountListener
import org.sotto.ffi.AccountOptions
import org.sotto.ffi.CallAudioSpec
import org.sotto.ffi.CallEndReason
import org.sotto.ffi.CallLogEntry
import org.sotto.ffi.CallPhase
import org.sotto.ffi.ConversationSummary
import org.sotto.ffi.Message
import org.sotto.ffi.MessageTransport
import org.sotto.ffi.MmsAttachment
import org.sotto.ffi.NumberConversation
import org.sotto.ffi.PlainMessage
import org.sotto.ffi.PlainState
import org.sotto.ffi.PlainThread
import org.sotto.ffi.SentText
import org.sotto.ffi.SmsContent
import org.sotto.ffi.SmsStatus
import org.sotto.ffi.SottoException
import org.sotto.logic.call.CallEvent
import org.sotto.logic.call.CallKind
import org.sotto.logic.call.CallPeer
import org.sotto.logic.calllog.CallDirection
import org.sotto.logic.calllog.CallEndCause
import org.sotto.logic.calllog.CallLogRecord
import org.sotto.logic.conversation.ConversationRecord
import org.sotto.logic.conversation.DeliveryState
import org.sotto.logic.conversation.Direction
import org.sotto.logic.conversation.IdentityState
import org.sotto.logic.conversation.MessageRecord
import org.sotto.logic.conversation.Transport
import org.sotto.logic.core.ALL_CONVERSATIONS
import org.sotto.logic.core.CoreException
import org.sotto.logic.core.CoreListener
import org.sotto.logic.core.IncomingSms
import org.sotto.logic.core.OutgoingSms
import org.sotto.logic.core.SafetyNumber
import org.sotto.logic.core.ScanResult
import org.sotto.logic.core.SottoCore
import org.sotto.logic.mms.MmsPart
import org.sotto.logic.settings.HostPort
import org.sotto.logic.settings.ProxySetting
import org.sotto.logic.sms.MessageSendStatus
import org.sotto.ffi.DeliveryState as FfiDeliveryState
import org.sotto.ffi.IncomingSms as FfiIncomingSms

/**
 * The one place where `:app` touches the generated UniFFI bindings (package
 * `org.sotto.ffi`, set in android-bindings/uniffi.toml, generated into build/
 * by `generateUniffiBindings`). It turns binding types into `:logic` types and
 * `SottoException` into [CoreException]; nothing else in the app imports the
 * bindings. docs/ffi.md describes the API it uses and has the table of how
 * [SottoCore] maps onto it.
 *
 * **What is verified where.** `scripts/android-adapter-check.sh` (part of
 * `scripts/test.sh`) compiles this file with kotlinc against the Kotlin that
 * uniffi-bindgen generates from the host build of `sotto-ffi` and against
 * `:logic`, on the JVM: every binding name and type used here exists. The
 * calls themselves are exercised by the bindings' own JUnit tests
 * (tests/kotlin: texts through a relay, the SMS bridge, calls with WAV
 * files). This file has never run on Android, and the microphone and
 * speaker path of calls (`CallAudioSpec.Device`, AAudio through cpal) has
 * never run on a phone.
 *
 * Conversation ids: a Sotto contact's conversation is the contact's id (32
 * hex digits); a plain SMS thread is [PLAIN_PREFIX] followed by its number
 * (E.164 or a short code), so the two can never be confused.
 *
 * Every method blocks on the store or the network; callers are on a
 * background dispatcher, never on the thread of a [CoreListener] callback.
 */
class BindingsAdapter private constructor(private val account: Account) : SottoCore {
    companion object {
        /** The conversation id of a plain SMS thread is this prefix and the number. */
        const val PLAIN_PREFIX = "sms:"

        /**
         * Opens the account in the data directory [path] with the
         * Keystore-unwrapped [key] (32 bytes). The caller wipes [key] afterwards.
         */
        fun open(path: String, key: ByteArray): BindingsAdapter = mapErrors {
            // Maintenance runs on the core's own timer while the app is open,
            // and from MaintenanceJobService while it sleeps.
            BindingsAdapter(Account.openWithKey(path, key, AccountOptions()))
        }

        /**
         * Seals [record] to the account's locked-inbox [publicKey] while the
         * account is locked (no core is open then); see PendingSmsQueue.
         */
        fun sealForLockedInbox(publicKey: ByteArray, record: ByteArray): ByteArray = mapErrors {
            org.sotto.ffi.sealForLockedInbox(publicKey, record)
        }

        private inline fun <T> mapErrors(block: () -> T): T = try {
            block()
        } catch (e: SottoException) {
            throw mapException(e)
        }

        /** The single mapping from binding errors to the errors the app acts on (docs/ffi.md, "Errors"). */
        private fun mapException(e: SottoException): CoreException = when (e) {
            is SottoException.WrongKey -> CoreException.WrongKey()
            is SottoException.StoreLocked -> CoreException.StoreInUse()
            is SottoException.StoreUnusable -> CoreException.StoreUnusable()
            is SottoException.Storage -> CoreException.Storage()
            is SottoException.Network, is SottoException.NotConnected -> CoreException.Network()
            is SottoException.Relay -> CoreException.Relay()
            is SottoException.UntrustedIdentity -> CoreException.UntrustedIdentity()
            is SottoException.NoSession -> CoreException.NoSession()
            is SottoException.NotDeliverable -> CoreException.NotDeliverable()
            is SottoException.UnknownContact -> CoreException.InvalidInput("unknown contact")
            is SottoException.UnknownMessage -> CoreException.InvalidInput("unknown message")
            is SottoException.InvalidInput -> CoreException.InvalidInput("refused by the core")
            is SottoException.Undecryptable -> CoreException.InvalidInput("undecryptable message")
            is SottoException.NoSuchCall -> CoreException.InvalidInput("no such call")
            is SottoException.CallInProgress -> CoreException.InvalidInput("another call is in progress")
            // Groups are not in `SottoCore` yet; these come only from a stale id.
            is SottoException.UnknownGroup -> CoreException.InvalidInput("unknown group")
            is SottoException.NotGroupMember -> CoreException.InvalidInput("not a group member")
            is SottoException.TooManyMembers -> CoreException.InvalidInput("too many group members")
            is SottoException.NoAccount, is SottoException.AccountExists -> CoreException.StoreUnusable()
            // A closed account, a network call from a callback thread, a bug.
            is SottoException.AccountClosed, is SottoException.CalledFromCallback,
            is SottoException.Internal,
            -> CoreException.Internal()
        }

        private fun isPlain(conversationId: String) = conversationId.startsWith(PLAIN_PREFIX)

        private fun phoneOf(conversationId: String) = conversationId.removePrefix(PLAIN_PREFIX)

        private fun plainId(phone: String) = PLAIN_PREFIX + phone

        private fun message(m: Message): MessageRecord = MessageRecord(
            id = m.id,
            direction = if (m.outgoing) Direction.OUTGOING else Direction.INCOMING,
            body = m.body,
            sentAtMillis = m.sentAtMs.toLong(),
            transport = when (m.transport) {
                MessageTransport.RELAY -> Transport.RELAY
                MessageTransport.ENCRYPTED_SMS -> Transport.ENCRYPTED_SMS
            },
            delivery = when (m.state) {
                FfiDeliveryState.PENDING -> DeliveryState.PENDING
                FfiDeliveryState.SENT -> DeliveryState.SENT
                FfiDeliveryState.DELIVERED -> DeliveryState.DELIVERED
                FfiDeliveryState.READ -> DeliveryState.READ
                FfiDeliveryState.RECEIVED -> DeliveryState.RECEIVED
                // Its encrypted SMS failed; `retryFailedSms` sends it again.
                FfiDeliveryState.FAILED -> DeliveryState.FAILED
            },
            expiresAtMillis = m.expiresAtMs?.toLong(),
            storedAtMillis = m.storedAtMs.toLong(),
        )

        private fun callLogRecord(e: CallLogEntry): CallLogRecord = CallLogRecord(
            id = e.id,
            conversationId = e.contactId,
            title = e.contactName,
            direction = if (e.outgoing) CallDirection.OUTGOING else CallDirection.INCOMING,
            cause = when (e.endReason) {
                null -> CallEndCause.NOT_RUNG
                CallEndReason.HUNG_UP_HERE -> CallEndCause.HUNG_UP_HERE
                CallEndReason.HUNG_UP_THERE -> CallEndCause.HUNG_UP_THERE
                CallEndReason.DECLINED_HERE -> CallEndCause.DECLINED_HERE
                CallEndReason.DECLINED_THERE -> CallEndCause.DECLINED_THERE
                CallEndReason.BUSY_THERE -> CallEndCause.BUSY_THERE
                CallEndReason.NO_ANSWER -> CallEndCause.NO_ANSWER
                CallEndReason.MISSED -> CallEndCause.MISSED
                CallEndReason.CONNECT_TIMEOUT -> CallEndCause.CONNECT_TIMEOUT
                CallEndReason.MEDIA_FAILED -> CallEndCause.MEDIA_FAILED
            },
            startedAtMillis = e.startedAtMs.toLong(),
            connectedAtMillis = e.connectedAtMs?.toLong(),
            endedAtMillis = e.endedAtMs.toLong(),
            whileBusy = e.whileBusy,
            missed = e.missed,
        )

        private fun plainMessage(m: PlainMessage): MessageRecord = MessageRecord(
            id = m.id.toString(),
            direction = if (m.outgoing) Direction.OUTGOING else Direction.INCOMING,
            body = m.body,
            sentAtMillis = m.atMs.toLong(),
            transport = if (m.attachmentCount > 0u) Transport.PLAIN_MMS else Transport.PLAIN_SMS,
            delivery = when (m.state) {
                PlainState.PENDING -> DeliveryState.PENDING
                PlainState.SENT -> DeliveryState.SENT
                PlainState.DELIVERED -> DeliveryState.DELIVERED
                PlainState.FAILED -> DeliveryState.FAILED
                PlainState.RECEIVED -> DeliveryState.RECEIVED
            },
            expiresAtMillis = null,
            storedAtMillis = m.atMs.toLong(),
        )
    }

    private inline fun <T> call(block: () -> T): T = mapErrors(block)

    private fun requireContact(conversationId: String): String {
        if (isPlain(conversationId)) throw CoreException.InvalidInput("not a Sotto conversation")
        return conversationId
    }

    private fun contactRecord(summary: ConversationSummary): ConversationRecord {
        val c = summary.contact
        val held = summary.heldMessageCount.toInt()
        return ConversationRecord(
            id = c.id,
            title = c.name,
            isSottoContact = true,
            identity = when {
                held > 0 -> IdentityState.CHANGED
                c.verified -> IdentityState.VERIFIED
                else -> IdentityState.UNVERIFIED
            },
            lastMessage = summary.lastMessage?.let(::message),
            unreadCount = summary.unreadCount.toInt(),
            disappearingSeconds = c.disappearingTimerSecs.toLong(),
            heldForIdentityChange = held,
            keepsNoHistory = c.keepNoHistory,
        )
    }

    /** A plain thread; the core keeps no names for plain numbers (the app's Contacts lookup does). */
    private fun plainRecord(thread: PlainThread): ConversationRecord = ConversationRecord(
        id = plainId(thread.phone),
        title = thread.phone,
        isSottoContact = false,
        identity = IdentityState.NONE,
        lastMessage = account.plainMessages(thread.phone, 1u, null).firstOrNull()?.let(::plainMessage),
        unreadCount = thread.unreadCount.toInt(),
        disappearingSeconds = 0,
        heldForIdentityChange = 0,
    )

    /** Sotto conversations and plain threads, most recent first; conversations without messages last. */
    override fun conversations(): List<ConversationRecord> = call {
        val all = account.conversations().map(::contactRecord) + account.plainThreads().map(::plainRecord)
        all.sortedByDescending { it.lastMessage?.storedAtMillis ?: Long.MIN_VALUE }
    }

    override fun conversation(conversationId: String): ConversationRecord = call {
        if (isPlain(conversationId)) {
            val phone = phoneOf(conversationId)
            // A thread with no message yet (just opened by number) is not listed.
            plainRecord(account.plainThreads().firstOrNull { it.phone == phone } ?: PlainThread(phone, 0uL, 0u, 0u))
        } else {
            account.conversations().firstOrNull { it.contact.id == conversationId }?.let(::contactRecord)
                ?: throw CoreException.InvalidInput("unknown conversation")
        }
    }

    /** [displayName] is not kept: the core names only Sotto contacts, and plain threads show their number. */
    override fun conversationForNumber(number: String, displayName: String?): String = call {
        when (val c = account.conversationForNumber(number)) {
            is NumberConversation.Contact -> c.contactId
            is NumberConversation.Plain -> plainId(c.phone)
        }
    }

    override fun messages(conversationId: String, limit: Int, before: MessageRecord?): List<MessageRecord> = call {
        val count = limit.coerceAtLeast(0).toUInt()
        val cursor = before?.storedAtMillis?.toULong()
        if (isPlain(conversationId)) {
            account.plainMessages(phoneOf(conversationId), count, cursor).map(::plainMessage)
        } else {
            account.messages(conversationId, count, cursor).map(::message)
        }
    }

    override fun sendText(conversationId: String, body: String, transport: Transport): String = call {
        val sent = when {
            isPlain(conversationId) -> account.sendTextToNumber(phoneOf(conversationId), body)
            // The user chose plain SMS for this one message after a warning.
            !transport.encrypted -> {
                val phone = account.contactPhones(conversationId).firstOrNull()
                    ?: throw CoreException.NotDeliverable()
                account.sendTextToNumber(phone, body)
            }
            // Relay only: queued until the relay is reachable.
            transport == Transport.RELAY -> return@call account.sendText(conversationId, body)
            // Encrypted SMS allowed: the core takes the relay when connected,
            // else encrypted SMS, within the user's SMS settings.
            else -> account.sendTextRouted(conversationId, body)
        }
        when (sent) {
            is SentText.Encrypted -> sent.messageId
            is SentText.Plain -> sent.plainId.toString()
        }
    }

    override fun markRead(conversationId: String) = call {
        if (isPlain(conversationId)) {
            account.markPlainThreadRead(phoneOf(conversationId))
        } else {
            account.markConversationRead(conversationId)
        }
        Unit
    }

    override fun setDisappearingTimer(conversationId: String, seconds: Long) = call {
        account.setDisappearingTimer(requireContact(conversationId), seconds.coerceIn(0, UInt.MAX_VALUE.toLong()).toUInt())
    }

    override fun setKeepNoHistory(conversationId: String, keepNoHistory: Boolean) = call {
        account.setKeepNoHistory(requireContact(conversationId), keepNoHistory)
    }

    override fun safetyNumber(conversationId: String): SafetyNumber = call {
        val contact = requireContact(conversationId)
        // While a new key is offered, its number is the one to compare, never the trusted key's.
        val offered = account.offeredIdentities(contact)
        val first = offered.firstOrNull()
        if (first != null) {
            val n = first.safetyNumber
            SafetyNumber(n.grouped, n.qrPayload, verified = false, offeredKey = first.identityKey, conflict = offered.size > 1)
        } else {
            val n = account.contactSafetyNumber(contact)
            val verified = account.contacts().firstOrNull { it.id == conversationId }?.verified ?: false
            SafetyNumber(n.grouped, n.qrPayload, verified)
        }
    }

    override fun checkScannedSafetyNumber(conversationId: String, payload: ByteArray): ScanResult = try {
        if (account.verifyContactCode(requireContact(conversationId), payload)) ScanResult.MATCH else ScanResult.MISMATCH
    } catch (e: SottoException.InvalidInput) {
        ScanResult.NOT_A_SAFETY_NUMBER
    } catch (e: SottoException) {
        throw mapException(e)
    }

    override fun setVerified(conversationId: String, verified: Boolean) = call {
        val contact = requireContact(conversationId)
        if (verified) account.markContactVerified(contact) else account.clearContactVerified(contact)
    }

    override fun trustNewIdentity(conversationId: String, offeredKey: ByteArray) = call {
        // The released texts are also published as MessageReceived events.
        account.trustNewIdentity(requireContact(conversationId), offeredKey)
        Unit
    }

    override fun strangersWaiting(): List<String> = call { account.smsStrangersWaiting() }

    override fun acceptStranger(number: String, name: String) = call {
        account.acceptSmsStranger(number, name)
        Unit
    }

    override fun declineStranger(number: String) = call { account.declineSmsStranger(number) }

    override fun lockedInboxKey(): ByteArray = call { account.lockedInboxKey() }

    override fun openLockedInbox(sealed: ByteArray): ByteArray = call { account.openLockedInbox(sealed) }

    /** The core stamps the time itself ([receivedAtMillis] is for the Telephony provider row). */
    override fun smsReceived(sender: String, body: String, receivedAtMillis: Long): IncomingSms = call {
        when (val r = account.smsReceived(sender, body)) {
            is FfiIncomingSms.Plain -> IncomingSms.Plain(plainId(r.phone))
            is FfiIncomingSms.Encrypted -> IncomingSms.Encrypted(r.message.contactId)
            FfiIncomingSms.PartOfEncrypted -> IncomingSms.PartOfEncrypted
            is FfiIncomingSms.Handshake -> IncomingSms.SottoControl(r.contactId)
            is FfiIncomingSms.IdentityChanged -> IncomingSms.SottoControl(r.contactId)
            // A stranger's request waits for the user; no conversation exists for it yet.
            is FfiIncomingSms.StrangerWaiting -> IncomingSms.StrangerWaiting(r.phone)
            // Groups are not in `SottoCore` yet: stored in the core, nothing to show here.
            is FfiIncomingSms.Group, FfiIncomingSms.Control, FfiIncomingSms.Unusable -> IncomingSms.SottoControl(null)
        }
    }

    override fun takeOutgoingSms(): List<OutgoingSms> = call {
        account.takeOutgoingSms().map {
            when (val content = it.content) {
                is SmsContent.Text -> OutgoingSms(it.id.toString(), it.destination, content.text, it.encrypted)
                is SmsContent.Data -> OutgoingSms(
                    it.id.toString(),
                    it.destination,
                    body = "",
                    encrypted = it.encrypted,
                    dataPort = content.port.toInt(),
                    data = content.bytes,
                )
            }
        }
    }

    override fun smsSendStatus(id: String, status: MessageSendStatus) = call {
        val smsId = id.toLongOrNull() ?: throw CoreException.InvalidInput("not an SMS id of the core")
        account.reportSmsStatus(
            smsId,
            when (status) {
                MessageSendStatus.SENT -> SmsStatus.SENT
                MessageSendStatus.DELIVERED -> SmsStatus.DELIVERED
                // The core keeps failed SMS until retryFailedSms (the user's "retry").
                MessageSendStatus.FAILED_RETRYABLE, MessageSendStatus.FAILED, MessageSendStatus.DELIVERY_FAILED ->
                    SmsStatus.FAILED
            },
        )
    }

    // MMS parts cross as (type, bytes): the core keeps no file names.
    override fun mmsReceived(sender: String, text: String, attachments: List<MmsPart>): IncomingSms = call {
        val r = account.mmsReceived(sender, text, attachments.map { MmsAttachment(it.contentType, it.data) })
        when (r) {
            is FfiIncomingSms.Plain -> IncomingSms.Plain(plainId(r.phone))
            else -> IncomingSms.SottoControl(null)
        }
    }

    override fun sendMms(number: String, text: String, attachments: List<MmsPart>): String = call {
        account.sendPlainMms(number, text, attachments.map { MmsAttachment(it.contentType, it.data) }).toString()
    }

    override fun mmsSendStatus(id: String, status: MessageSendStatus) = call {
        val mmsId = id.toLongOrNull() ?: throw CoreException.InvalidInput("not an MMS id of the core")
        account.reportMmsStatus(
            mmsId,
            when (status) {
                MessageSendStatus.SENT -> SmsStatus.SENT
                MessageSendStatus.DELIVERED -> SmsStatus.DELIVERED
                MessageSendStatus.FAILED_RETRYABLE, MessageSendStatus.FAILED, MessageSendStatus.DELIVERY_FAILED ->
                    SmsStatus.FAILED
            },
        )
        Unit
    }

    override fun attachments(conversationId: String, messageId: String): List<MmsPart> = call {
        val id = messageId.toLongOrNull()
        if (!isPlain(conversationId) || id == null) return@call emptyList()
        account.plainAttachments(id).map { MmsPart(it.mime, null, it.data) }
    }

    /**
     * Applies the proxy and (re)connects. The relay itself comes from the
     * account's invite: the bindings do not export changing it, so [relay]
     * only says whether to be connected.
     */
    override fun applyNetwork(relay: HostPort?, proxy: ProxySetting) = call {
        account.setSocks5Proxy(
            when (proxy) {
                ProxySetting.Direct -> null
                ProxySetting.Tor -> ProxySetting.TOR_DEFAULT.toString()
                is ProxySetting.Socks5 -> proxy.endpoint.toString()
            },
        )
        // The proxy applies from the next connection.
        account.disconnect()
        if (relay != null) account.connect()
    }

    override fun placeCall(conversationId: String): String = call {
        account.placeCall(requireContact(conversationId), CallAudioSpec.Device)
    }

    /** The core has one call at a time; [callId] guards against acting on a call that already changed. */
    private fun currentCall(callId: String, vararg phases: CallPhase): Boolean {
        val status = account.callStatus()
        return status.callId == callId && status.phase in phases
    }

    override fun answerCall(callId: String) = call {
        if (!currentCall(callId, CallPhase.INCOMING_RINGING)) throw CoreException.InvalidInput("the call no longer rings")
        account.answerCall(CallAudioSpec.Device)
        Unit
    }

    override fun rejectCall(callId: String) = call {
        if (!currentCall(callId, CallPhase.INCOMING_RINGING)) throw CoreException.InvalidInput("the call no longer rings")
        account.rejectCall()
    }

    override fun hangUp(callId: String) = call {
        val live = arrayOf(CallPhase.OUTGOING_RINGING, CallPhase.INCOMING_RINGING, CallPhase.CONNECTING, CallPhase.CONNECTED)
        if (currentCall(callId, *live)) {
            try {
                account.hangUpCall()
            } catch (e: SottoException.NoSuchCall) {
                // It ended between the check and the hang-up.
            }
        }
    }

    override fun setMuted(callId: String, muted: Boolean) = call {
        if (account.callStatus().callId == callId) account.setCallMuted(muted)
    }

    override fun callLog(limit: Int, beforeMillis: Long?): List<CallLogRecord> = call {
        account.callLog(limit.coerceAtLeast(0).toUInt(), beforeMillis?.coerceAtLeast(0)?.toULong()).map(::callLogRecord)
    }

    override fun deleteCallLogEntry(id: Long) = call {
        account.deleteCallLogEntry(id)
        Unit
    }

    override fun clearCallLog() = call {
        account.clearCallLog()
        Unit
    }

    override fun relayOnlyCalls(): Boolean = call { account.relayOnlyCalls() }

    override fun setRelayOnlyCalls(relayOnly: Boolean) = call { account.setRelayOnlyCalls(relayOnly) }

    override fun runMaintenance() {
        call { account.runMaintenance() }
    }

    override fun rekey(newKey: ByteArray) = call { account.rekey(newKey) }

    override fun subscribe(listener: CoreListener): AutoCloseable {
        val forwarder = Forwarder(listener)
        val subscription = account.subscribe(forwarder)
        return AutoCloseable { subscription.close() }
    }

    /**
     * Maps binding events to [CoreListener] calls. It runs on the bindings'
     * callback thread, where only store calls may be made (network calls
     * throw `CalledFromCallback`). Unknown (newer) events are ignored, as the
     * bindings ask.
     */
    private inner class Forwarder(private val to: CoreListener) : AccountListener {
        /** The authentication words of calls not yet connected, by call id (they come before `CONNECTED`). */
        private val words = ConcurrentHashMap<String, String>()

        override fun onEvent(event: AccountEvent) {
            when (event) {
                is AccountEvent.MessageReceived -> to.onConversationChanged(event.message.contactId)
                is AccountEvent.DeliveryStateChanged -> to.onConversationChanged(event.contactId)
                is AccountEvent.DisappearingTimerChanged -> to.onConversationChanged(event.contactId)
                is AccountEvent.MessageSent, is AccountEvent.SendFailed, is AccountEvent.MessagesExpired,
                is AccountEvent.EventsMissed,
                -> to.onConversationChanged(ALL_CONVERSATIONS)
                is AccountEvent.IdentityChanged -> to.onIdentityChanged(event.contactId)
                AccountEvent.Connected -> to.onRelayConnection(true)
                is AccountEvent.Disconnected -> to.onRelayConnection(false)
                is AccountEvent.OutgoingSmsWaiting -> to.onOutgoingSms()
                is AccountEvent.CallStateChanged -> callState(event)
                is AccountEvent.CallSas -> words[event.callId] = event.words.joinToString(" ")
                is AccountEvent.CallEnded -> callEnded(event)
                // The core answered a second caller busy, or an offer came too
                // late to ring: the machine has no event for it, but the call
                // log and the missed-call notification do.
                is AccountEvent.CallMissed -> {
                    to.onMissedCall(event.contactId, event.whileBusy)
                    to.onCallLogChanged()
                }
                else -> Unit
            }
        }

        private fun callState(event: AccountEvent.CallStateChanged) {
            val id = event.callId
            when (event.phase) {
                CallPhase.INCOMING_RINGING -> {
                    // A store call, allowed on this thread.
                    val name = runCatching { account.contacts().firstOrNull { it.id == event.contactId }?.name }
                        .getOrNull() ?: "?"
                    to.onCallEvent(CallEvent.IncomingCall(id, CallPeer(name, null), CallKind.SECURE))
                }
                // The offer is out; the core has no separate "ringing there" signal.
                CallPhase.OUTGOING_RINGING -> to.onCallEvent(CallEvent.RemoteRinging(id))
                // For an incoming call the machine is already connecting and ignores it.
                CallPhase.CONNECTING -> to.onCallEvent(CallEvent.RemoteAnswered(id))
                // Without words the machine ends the call as not authenticated.
                CallPhase.CONNECTED -> to.onCallEvent(CallEvent.MediaConnected(id, words[id]))
                CallPhase.IDLE, CallPhase.ENDED -> Unit
            }
        }

        private fun callEnded(event: AccountEvent.CallEnded) {
            val id = event.callId
            words.remove(id)
            val mapped = when (event.reason) {
                CallEndReason.HUNG_UP_THERE, CallEndReason.DECLINED_THERE, CallEndReason.MISSED ->
                    CallEvent.RemoteHungUp(id)
                CallEndReason.BUSY_THERE -> CallEvent.RemoteBusy(id)
                CallEndReason.NO_ANSWER -> CallEvent.RingTimeout(id)
                CallEndReason.CONNECT_TIMEOUT, CallEndReason.MEDIA_FAILED -> CallEvent.Failed(id)
                // The machine ended these itself; this only reaches a machine
                // that did not (the core hung up as the connection closed).
                CallEndReason.HUNG_UP_HERE, CallEndReason.DECLINED_HERE -> CallEvent.Failed(id)
            }
            to.onCallEvent(mapped)
            // The core logged the call before reporting its end.
            if (event.reason == CallEndReason.MISSED) to.onMissedCall(event.contactId, whileBusy = false)
            to.onCallLogChanged()
        }
    }

    override fun close() = account.close()
}
