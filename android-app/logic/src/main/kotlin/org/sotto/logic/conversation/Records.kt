/**
 * The conversation data `:logic` works on, independent of the generated
 * bindings: `:app`'s adapter (`BindingsAdapter.kt`) builds these from the
 * core's records, so the view-state rules below are testable on any JVM.
 * `toString` never prints message text or numbers.
 */
package org.sotto.logic.conversation

/** How a message travelled. */
enum class Transport {
    /** End-to-end encrypted, through a Sotto relay. */
    RELAY,

    /** End-to-end encrypted, Signal ciphertext carried inside ordinary SMS. */
    ENCRYPTED_SMS,

    /** An ordinary SMS, readable by the carrier. */
    PLAIN_SMS,

    /** An ordinary MMS, readable by the carrier. */
    PLAIN_MMS,
    ;

    /** True when only the two phones can read it. */
    val encrypted: Boolean get() = this == RELAY || this == ENCRYPTED_SMS
}

/** Where an outgoing message is on its way; incoming messages have [RECEIVED]. */
enum class DeliveryState { PENDING, SENT, DELIVERED, READ, FAILED, RECEIVED }

/** Which side wrote a message. */
enum class Direction { INCOMING, OUTGOING }

/** What the app knows about a contact's identity key. */
enum class IdentityState {
    /** Not a Sotto contact: there is no key. */
    NONE,

    /** A key is trusted on first use but the safety number was not compared. */
    UNVERIFIED,

    /** The safety number was compared (QR scan or by reading it). */
    VERIFIED,

    /** The contact's key changed; messages are held until the user checks the new safety number. */
    CHANGED,
}

/**
 * One message as the core stores it. [storedAtMillis] is when this phone
 * stored it: the order of a conversation's pages and their cursor.
 */
class MessageRecord(
    val id: String,
    val direction: Direction,
    val body: String,
    /** When it was sent (the sender's clock), epoch millis. */
    val sentAtMillis: Long,
    val transport: Transport,
    val delivery: DeliveryState,
    /** When a disappearing message goes, epoch millis; null if it stays. */
    val expiresAtMillis: Long?,
    val storedAtMillis: Long = sentAtMillis,
) {
    override fun toString(): String = "MessageRecord(id=$id, $direction, $transport, $delivery)"
}

/** One conversation as the core lists it. */
class ConversationRecord(
    val id: String,
    val title: String,
    val isSottoContact: Boolean,
    val identity: IdentityState,
    val lastMessage: MessageRecord?,
    val unreadCount: Int,
    /** The disappearing-messages timer; 0 when off. */
    val disappearingSeconds: Long,
    /** Messages waiting because the contact's identity key changed. */
    val heldForIdentityChange: Int,
    /** The conversation keeps no history: messages are shown once and not stored. */
    val keepsNoHistory: Boolean = false,
) {
    override fun toString(): String = "ConversationRecord(id=$id)"
}
