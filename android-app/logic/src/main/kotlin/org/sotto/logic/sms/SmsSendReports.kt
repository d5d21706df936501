/**
 * Sent and delivered reports of a plain multipart SMS, as `SmsManager` hands
 * them back through the `PendingIntent`s (one per part), folded into one
 * status per message. The receiver in `:app` only decodes the intent and
 * calls [MultipartSendTracker]; the result goes to the core and the Telephony
 * provider.
 */
package org.sotto.logic.sms

/** A part's send result, from the sent `PendingIntent`'s result code. */
enum class SendResult {
    OK,

    /** The radio is off (airplane mode); worth retrying later. */
    RADIO_OFF,

    /** No service; worth retrying later. */
    NO_SERVICE,

    /** Anything else the carrier or modem refused. */
    FAILED,
    ;

    /** True when the same message may succeed later without a change. */
    val retryable: Boolean get() = this == RADIO_OFF || this == NO_SERVICE

    companion object {
        /** `Activity.RESULT_OK`. */
        private const val RESULT_OK = -1

        /** `SmsManager.RESULT_ERROR_RADIO_OFF`. */
        private const val RESULT_ERROR_RADIO_OFF = 2

        /** `SmsManager.RESULT_ERROR_NO_SERVICE`. */
        private const val RESULT_ERROR_NO_SERVICE = 4

        /** Maps the result code of a sent `PendingIntent` (the values are the platform's stable API constants). */
        fun fromResultCode(code: Int): SendResult = when (code) {
            RESULT_OK -> OK
            RESULT_ERROR_RADIO_OFF -> RADIO_OFF
            RESULT_ERROR_NO_SERVICE -> NO_SERVICE
            else -> FAILED
        }
    }
}

/** A part's delivery report, from the TP-Status of the status report (3GPP TS 23.040 §9.2.3.15). */
enum class DeliveryResult {
    DELIVERED,

    /** The network still tries (temporary error, 0x20..0x3F). */
    PENDING,

    /** The network gave up (permanent error 0x40..0x5F, or temporary with no more tries 0x60..0x7F). */
    FAILED,
    ;

    companion object {
        /** Maps a TP-Status octet (`SmsMessage.getStatus()` for 3GPP). */
        fun fromTpStatus(status: Int): DeliveryResult = when (status and 0x7F) {
            in 0x00..0x1F -> DELIVERED
            in 0x20..0x3F -> PENDING
            else -> FAILED
        }
    }
}

/** The status of a whole message, once the parts say enough. */
enum class MessageSendStatus { SENT, FAILED_RETRYABLE, FAILED, DELIVERED, DELIVERY_FAILED }

/**
 * Folds per-part reports of one message. A message is sent when every part
 * is, failed as soon as any part fails, delivered when every part is; each
 * status is reported once. Reports for a part already reported (a duplicate
 * broadcast) are ignored. The tracker lives in memory: if the process dies
 * between parts, the remaining parts' reports start a fresh tracker and the
 * message stays "pending" in the core until the user retries, which is the
 * safe side (nothing is shown as sent that may not be).
 */
class MultipartSendTracker(val parts: Int) {
    init {
        require(parts >= 1) { "a message has at least one part" }
    }

    private val sent = arrayOfNulls<SendResult>(parts)
    private val delivered = arrayOfNulls<DeliveryResult>(parts)
    private var sendStatusReported = false
    private var deliveryStatusReported = false

    /** Records part [index]'s send result; returns the message status if this report decides it. */
    fun onSent(index: Int, result: SendResult): MessageSendStatus? {
        if (index !in 0 until parts || sent[index] != null || sendStatusReported) return null
        sent[index] = result
        if (result != SendResult.OK) {
            sendStatusReported = true
            return if (result.retryable) MessageSendStatus.FAILED_RETRYABLE else MessageSendStatus.FAILED
        }
        if (sent.all { it == SendResult.OK }) {
            sendStatusReported = true
            return MessageSendStatus.SENT
        }
        return null
    }

    /** Records part [index]'s delivery report; returns the message status if this report decides it. */
    fun onDelivered(index: Int, result: DeliveryResult): MessageSendStatus? {
        if (index !in 0 until parts || deliveryStatusReported) return null
        if (delivered[index] != null && delivered[index] != DeliveryResult.PENDING) return null
        delivered[index] = result
        if (result == DeliveryResult.FAILED) {
            deliveryStatusReported = true
            return MessageSendStatus.DELIVERY_FAILED
        }
        if (delivered.all { it == DeliveryResult.DELIVERED }) {
            deliveryStatusReported = true
            return MessageSendStatus.DELIVERED
        }
        return null
    }
}
