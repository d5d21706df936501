/**
 * Which path a text takes, and how the composer presents it. The core sends;
 * this decides what the user is offered and what happens when the relay is
 * out of reach, following the user's SMS fallback setting. One rule is fixed:
 * a text to a Sotto contact never silently becomes a plain SMS — that is a
 * downgrade only the user can choose, message by message, after a warning.
 */
package org.sotto.logic.transport

import org.sotto.logic.conversation.Transport

/** What to do with a text to a Sotto contact when the relay cannot be reached. */
enum class SmsFallbackPolicy {
    /** Keep it in the outbox until the relay is back. */
    WAIT_FOR_RELAY,

    /** Ask each time: wait, or send as encrypted SMS. */
    ASK,

    /** Send as encrypted SMS (costs SMS, works without data). */
    ENCRYPTED_SMS,
}

/** What is known right now about reaching a contact. */
data class Reachability(
    val isSottoContact: Boolean,
    val relayConnected: Boolean,
    /** The contact has a phone number to text. */
    val hasNumber: Boolean,
    /** This phone can send SMS now: telephony present, default SMS app, SEND_SMS granted. */
    val canSendSms: Boolean,
)

/** The decision for the next text. */
sealed interface TransportDecision {
    /** Send through [transport] now. */
    data class Send(val transport: Transport) : TransportDecision

    /** Queue it in the core's outbox; the relay agent sends it when connected. */
    data object QueueForRelay : TransportDecision

    /** Ask the user: queue for the relay, or send as encrypted SMS. */
    data object AskRelayOrEncryptedSms : TransportDecision

    /** It cannot go anywhere; [reason] says why. */
    data class Unavailable(val reason: UnavailableReason) : TransportDecision
}

/** Why a text cannot be sent. */
enum class UnavailableReason {
    /** A plain-SMS contact, and SMS is not possible (no telephony, not the default SMS app, or no permission). */
    SMS_UNAVAILABLE,

    /** A plain-SMS contact without a number. */
    NO_NUMBER,
}

/** What the send button and the hint under the text field show. */
data class ComposerPresentation(
    val decision: TransportDecision,
    /** The lock on the send button. */
    val encrypted: Boolean,
    /** Show "plain SMS, readable by your carrier". */
    val plainSmsNotice: Boolean,
    /** Offer "send as plain SMS (not encrypted)" in the send button's long-press menu. */
    val offerPlainSmsDowngrade: Boolean,
)

/** The transport rules. */
object TransportPolicy {
    /** Decides the path for the next text to a contact in [reach], under [policy]. */
    fun decide(reach: Reachability, policy: SmsFallbackPolicy): TransportDecision {
        if (!reach.isSottoContact) {
            return when {
                !reach.hasNumber -> TransportDecision.Unavailable(UnavailableReason.NO_NUMBER)
                !reach.canSendSms -> TransportDecision.Unavailable(UnavailableReason.SMS_UNAVAILABLE)
                else -> TransportDecision.Send(Transport.PLAIN_SMS)
            }
        }
        if (reach.relayConnected) return TransportDecision.Send(Transport.RELAY)
        val smsPossible = reach.hasNumber && reach.canSendSms
        return when {
            !smsPossible -> TransportDecision.QueueForRelay
            policy == SmsFallbackPolicy.ENCRYPTED_SMS -> TransportDecision.Send(Transport.ENCRYPTED_SMS)
            policy == SmsFallbackPolicy.ASK -> TransportDecision.AskRelayOrEncryptedSms
            else -> TransportDecision.QueueForRelay
        }
    }

    /**
     * The transport for a text sent where nobody can be asked (a notification's
     * direct reply, the phone app's quick reply): a question becomes "wait for
     * the relay" (the outbox), never a silent SMS. Null when it cannot be sent.
     */
    fun headless(decision: TransportDecision): Transport? = when (decision) {
        is TransportDecision.Send -> decision.transport
        TransportDecision.QueueForRelay, TransportDecision.AskRelayOrEncryptedSms -> Transport.RELAY
        is TransportDecision.Unavailable -> null
    }

    /** The composer for a contact in [reach], under [policy]. */
    fun present(reach: Reachability, policy: SmsFallbackPolicy): ComposerPresentation {
        val decision = decide(reach, policy)
        val plain = decision == TransportDecision.Send(Transport.PLAIN_SMS)
        return ComposerPresentation(
            decision = decision,
            encrypted = reach.isSottoContact,
            plainSmsNotice = plain,
            offerPlainSmsDowngrade = reach.isSottoContact && reach.hasNumber && reach.canSendSms,
        )
    }
}
