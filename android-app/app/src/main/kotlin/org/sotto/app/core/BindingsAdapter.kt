package org.sotto.app.core

import org.sotto.logic.call.CallEvent
import org.sotto.logic.call.CallKind
import org.sotto.logic.call.CallPeer
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
import org.sotto.logic.settings.HostPort
import org.sotto.logic.settings.ProxySetting
import org.sotto.logic.sms.MessageSendStatus
import org.sotto.ffi.Account
import org.sotto.ffi.AccountEvent
import org.sotto.ffi.AccountListener
import org.sotto.ffi.AccountOptions
import org.sotto.ffi.SottoException

/**
 * The one place where `:app` touches the generated UniFFI bindings (package
 * `org.sotto.ffi`, set in android-bindings/uniffi.toml, generated into build/
 * by `generateUniffiBindings`). It turns binding types into `:logic` types and
 * `SottoException` into [CoreException]; nothing else in the app imports the
 * bindings. See docs/ffi.md for the API it uses.
 *
 * **Verified only on a machine with the Android SDK.** This file cannot be
 * compiled where the project's CI runs (no android.jar, no Gradle), and the
 * bindings are still growing (issue 5). It was written against `sotto-ffi`
 * at ffi-branch commit 74b850c:
 *
 * | used here | in sotto-ffi then |
 * |---|---|
 * | `Account.openWithKey`, `contacts`, `contactSafetyNumber`, `verifyContactCode`, `markContactVerified`, `setKeepNoHistory`, `runMaintenance`, `subscribe`/`AccountListener`/`Subscription`, `AccountEvent.MessagesExpired`/`EventsMissed`, every `SottoException` | yes |
 * | `messages`, `unreadCount`, `heldMessageCount`, `conversationForNumber`, `sendText`, `markRead`, `setDisappearingTimer`, `clearContactVerified`, `trustNewIdentity`, the SMS bridge (`smsReceived`, `takeOutgoingSms`, `reportSmsStatus`), relay and proxy control, calls, and the message/call/identity/relay events | listed under "What is still to come" in docs/ffi.md; the names here are placeholders to match to the real ones when they land |
 *
 * Until those land, `:app` does not compile; this file is the only one to change.
 * Every method blocks on the store; callers are on a background dispatcher.
 */
class BindingsAdapter private constructor(private val account: Account) : SottoCore {
    companion object {
        /**
         * Opens the store at [path] with the Keystore-unwrapped [key] (32
         * bytes). The caller wipes [key] afterwards.
         */
        fun open(path: String, key: ByteArray): BindingsAdapter = mapErrors {
            // Maintenance runs on the core's own timer while the app is open;
            // WorkManager is not used, so the default interval stays.
            BindingsAdapter(Account.openWithKey(path, key, AccountOptions()))
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
            is SottoException.Network -> CoreException.Network()
            is SottoException.Relay -> CoreException.Relay()
            is SottoException.UntrustedIdentity -> CoreException.UntrustedIdentity()
            is SottoException.NoSession -> CoreException.NoSession()
            is SottoException.UnknownContact -> CoreException.InvalidInput("unknown contact")
            is SottoException.UnknownMessage -> CoreException.InvalidInput("unknown message")
            is SottoException.InvalidInput -> CoreException.InvalidInput("refused by the core")
            is SottoException.Undecryptable -> CoreException.InvalidInput("undecryptable message")
            is SottoException.AccountClosed, is SottoException.Internal -> CoreException.Internal()
            // Variants added to the bindings later land here until they get their own mapping.
            else -> CoreException.Internal()
        }
    }

    private inline fun <T> call(block: () -> T): T = mapErrors(block)

    override fun conversations(): List<ConversationRecord> = call {
        account.contacts().map { c ->
            ConversationRecord(
                id = c.id,
                title = c.name,
                isSottoContact = true,
                identity = if (c.verified) IdentityState.VERIFIED else IdentityState.UNVERIFIED,
                lastMessage = account.messages(c.id, 1u, null).firstOrNull()?.let(::message),
                unreadCount = account.unreadCount(c.id).toInt(),
                disappearingSeconds = c.disappearingTimerSecs.toLong(),
                heldForIdentityChange = account.heldMessageCount(c.id).toInt(),
                keepsNoHistory = c.keepNoHistory,
            )
        }
    }

    override fun conversation(conversationId: String): ConversationRecord =
        conversations().firstOrNull { it.id == conversationId } ?: throw CoreException.InvalidInput("unknown conversation")

    override fun conversationForNumber(number: String, displayName: String?): String = call {
        account.conversationForNumber(number, displayName)
    }

    override fun messages(conversationId: String, limit: Int, beforeMessageId: String?): List<MessageRecord> = call {
        account.messages(conversationId, limit.toUInt(), beforeMessageId).map(::message)
    }

    private fun message(m: org.sotto.ffi.MessageSummary): MessageRecord = MessageRecord(
        id = m.id,
        direction = if (m.outgoing) Direction.OUTGOING else Direction.INCOMING,
        body = m.body,
        sentAtMillis = m.sentAtMs.toLong(),
        transport = when (m.transport) {
            org.sotto.ffi.MessageTransport.RELAY -> Transport.RELAY
            org.sotto.ffi.MessageTransport.ENCRYPTED_SMS -> Transport.ENCRYPTED_SMS
            org.sotto.ffi.MessageTransport.PLAIN_SMS -> Transport.PLAIN_SMS
            else -> Transport.PLAIN_MMS
        },
        delivery = when (m.delivery) {
            org.sotto.ffi.DeliveryState.PENDING -> DeliveryState.PENDING
            org.sotto.ffi.DeliveryState.SENT -> DeliveryState.SENT
            org.sotto.ffi.DeliveryState.DELIVERED -> DeliveryState.DELIVERED
            org.sotto.ffi.DeliveryState.READ -> DeliveryState.READ
            org.sotto.ffi.DeliveryState.FAILED -> DeliveryState.FAILED
            else -> DeliveryState.RECEIVED
        },
        expiresAtMillis = m.expiresAtMs?.toLong(),
    )

    override fun sendText(conversationId: String, body: String, transport: Transport): String = call {
        account.sendText(
            conversationId,
            body,
            when (transport) {
                Transport.RELAY -> org.sotto.ffi.MessageTransport.RELAY
                Transport.ENCRYPTED_SMS -> org.sotto.ffi.MessageTransport.ENCRYPTED_SMS
                Transport.PLAIN_SMS, Transport.PLAIN_MMS -> org.sotto.ffi.MessageTransport.PLAIN_SMS
            },
        )
    }

    override fun markRead(conversationId: String) = call { account.markRead(conversationId) }

    override fun setDisappearingTimer(conversationId: String, seconds: Long) = call {
        account.setDisappearingTimer(conversationId, seconds.coerceIn(0, UInt.MAX_VALUE.toLong()).toUInt())
    }

    override fun setKeepNoHistory(conversationId: String, keepNoHistory: Boolean) = call {
        account.setKeepNoHistory(conversationId, keepNoHistory)
    }

    override fun safetyNumber(conversationId: String): SafetyNumber = call {
        val n = account.contactSafetyNumber(conversationId)
        val verified = account.contacts().firstOrNull { it.id == conversationId }?.verified ?: false
        SafetyNumber(n.grouped, n.qrPayload, verified)
    }

    override fun checkScannedSafetyNumber(conversationId: String, payload: ByteArray): ScanResult = try {
        if (account.verifyContactCode(conversationId, payload)) ScanResult.MATCH else ScanResult.MISMATCH
    } catch (e: SottoException.InvalidInput) {
        ScanResult.NOT_A_SAFETY_NUMBER
    } catch (e: SottoException) {
        throw mapException(e)
    }

    override fun setVerified(conversationId: String, verified: Boolean) = call {
        if (verified) account.markContactVerified(conversationId) else account.clearContactVerified(conversationId)
    }

    override fun trustNewIdentity(conversationId: String) = call { account.trustNewIdentity(conversationId) }

    override fun smsReceived(sender: String, body: String, receivedAtMillis: Long): IncomingSms = call {
        when (val r = account.smsReceived(sender, body, receivedAtMillis.toULong())) {
            is org.sotto.ffi.SmsIncoming.Plain -> IncomingSms.Plain(r.contactId)
            is org.sotto.ffi.SmsIncoming.Encrypted -> IncomingSms.Encrypted(r.contactId)
            else -> IncomingSms.PartOfEncrypted
        }
    }

    override fun takeOutgoingSms(): List<OutgoingSms> = call {
        account.takeOutgoingSms().map { OutgoingSms(it.id, it.destination, it.body, it.encrypted) }
    }

    override fun smsSendStatus(id: String, status: MessageSendStatus) = call {
        account.reportSmsStatus(
            id,
            when (status) {
                MessageSendStatus.SENT -> org.sotto.ffi.SmsStatus.SENT
                MessageSendStatus.DELIVERED -> org.sotto.ffi.SmsStatus.DELIVERED
                MessageSendStatus.FAILED_RETRYABLE -> org.sotto.ffi.SmsStatus.FAILED_RETRYABLE
                MessageSendStatus.FAILED, MessageSendStatus.DELIVERY_FAILED -> org.sotto.ffi.SmsStatus.FAILED
            },
        )
    }

    override fun applyNetwork(relay: HostPort?, proxy: ProxySetting) = call {
        account.setProxy(
            when (proxy) {
                ProxySetting.Direct -> null
                ProxySetting.Tor -> ProxySetting.TOR_DEFAULT.toString()
                is ProxySetting.Socks5 -> proxy.endpoint.toString()
            },
        )
        if (relay == null) account.disconnectRelay() else account.connectRelay()
    }

    override fun placeCall(conversationId: String): String = call { account.placeCall(conversationId) }

    override fun answerCall(callId: String) = call { account.answerCall(callId) }

    override fun rejectCall(callId: String) = call { account.rejectCall(callId) }

    override fun hangUp(callId: String) = call { account.hangUp(callId) }

    override fun setMuted(callId: String, muted: Boolean) = call { account.setMuted(callId, muted) }

    override fun runMaintenance() {
        call { account.runMaintenance() }
    }

    override fun subscribe(listener: CoreListener): AutoCloseable {
        val subscription = account.subscribe(object : AccountListener {
            override fun onEvent(event: AccountEvent) = forward(event, listener)
        })
        return AutoCloseable { subscription.close() }
    }

    /** Maps one binding event; unknown (newer) events are ignored, as the bindings ask. */
    private fun forward(event: AccountEvent, to: CoreListener) {
        when (event) {
            is AccountEvent.MessagesExpired, is AccountEvent.EventsMissed -> to.onConversationChanged(ALL_CONVERSATIONS)
            is AccountEvent.MessageReceived -> to.onConversationChanged(event.contactId)
            is AccountEvent.DeliveryChanged -> to.onConversationChanged(event.contactId)
            is AccountEvent.IdentityChanged -> to.onIdentityChanged(event.contactId)
            is AccountEvent.RelayConnection -> to.onRelayConnection(event.connected)
            is AccountEvent.SmsToSend -> to.onOutgoingSms()
            is AccountEvent.CallIncoming -> to.onCallEvent(
                CallEvent.IncomingCall(event.callId, CallPeer(event.contactName, null), CallKind.SECURE),
            )
            is AccountEvent.CallRinging -> to.onCallEvent(CallEvent.RemoteRinging(event.callId))
            is AccountEvent.CallAnswered -> to.onCallEvent(CallEvent.RemoteAnswered(event.callId))
            is AccountEvent.CallConnected -> to.onCallEvent(CallEvent.MediaConnected(event.callId, event.authWords))
            is AccountEvent.CallEnded -> to.onCallEvent(
                if (event.busy) CallEvent.RemoteBusy(event.callId) else CallEvent.RemoteHungUp(event.callId),
            )
            is AccountEvent.CallFailed -> to.onCallEvent(CallEvent.Failed(event.callId))
            else -> Unit
        }
    }

    override fun close() = account.close()
}
