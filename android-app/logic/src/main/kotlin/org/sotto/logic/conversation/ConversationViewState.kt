/**
 * Turns conversation and message records into what the list and the
 * conversation screen draw: the encrypted-or-plain marker, previews, time
 * labels, delivery ticks, the disappearing timer and warnings. No Compose and
 * no strings: labels are structured and `:app` localizes them.
 */
package org.sotto.logic.conversation

import org.sotto.logic.format.DayLabel
import org.sotto.logic.format.DurationLabel
import org.sotto.logic.format.TimeLabel
import org.sotto.logic.format.TimestampFormatter
import org.sotto.logic.format.exactDurationLabel
import org.sotto.logic.format.remainingDurationLabel

/** The lock or open-padlock shown by a conversation and each bubble. */
enum class SecurityMarker { ENCRYPTED, PLAIN }

/** A banner above a conversation. */
enum class ConversationBanner {
    /** The contact's key changed: check the new safety number before messages are shown. */
    IDENTITY_CHANGED,

    /** Not a Sotto contact: texts go as plain SMS, readable by the carrier. */
    PLAIN_SMS_ONLY,
}

/** One row of the conversation list. */
data class ConversationListItem(
    val id: String,
    val title: String,
    /** One line: the newest message's text, whitespace folded, cut at [PREVIEW_MAX_CHARS]. */
    val preview: String,
    val previewFromMe: Boolean,
    val time: TimeLabel?,
    /** "1".."99" or "99+"; null when all is read. */
    val unreadBadge: String?,
    val marker: SecurityMarker,
    /** Delivery ticks of the newest message when it is ours. */
    val delivery: DeliveryState?,
    val disappearing: Boolean,
    val identityWarning: Boolean,
) {
    companion object {
        /** Longest preview, in characters (code points, so no emoji is cut in half). */
        const val PREVIEW_MAX_CHARS: Int = 80
    }
}

/** One item of a conversation: a day separator or a bubble. */
sealed interface ConversationItem {
    /** Starts a new local day. */
    data class DaySeparator(val label: DayLabel) : ConversationItem

    /** A message. */
    data class Bubble(
        val id: String,
        val outgoing: Boolean,
        val body: String,
        val time: String,
        val marker: SecurityMarker,
        val delivery: DeliveryState,
        /** Time left before it disappears; null when it stays. */
        val expiresIn: DurationLabel?,
        /** An MMS: its parts are shown with it (`SottoCore.attachments`). */
        val hasAttachments: Boolean = false,
    ) : ConversationItem {
        override fun toString(): String = "Bubble(id=$id)"
    }
}

/** The whole conversation screen. */
data class ConversationViewState(
    val title: String,
    val marker: SecurityMarker,
    val timer: DurationLabel,
    /** Show that nothing of this conversation is stored. */
    val keepsNoHistory: Boolean,
    val banner: ConversationBanner?,
    val items: List<ConversationItem>,
)

/** Maps records to view state, at one "now", in one zone and locale. */
class ConversationPresenter(private val time: TimestampFormatter) {
    /**
     * The conversation list, newest activity first. Conversations without a
     * visible message (empty, or whose newest message has disappeared) sort
     * last and show an empty preview.
     */
    fun list(records: List<ConversationRecord>, nowMillis: Long): List<ConversationListItem> =
        records
            .map { it to it.lastMessage?.takeIf { m -> !m.expired(nowMillis) } }
            .sortedWith(compareByDescending<Pair<ConversationRecord, MessageRecord?>> { it.second?.sentAtMillis ?: Long.MIN_VALUE }.thenBy { it.first.id })
            .map { (record, last) ->
                ConversationListItem(
                    id = record.id,
                    title = record.title,
                    preview = last?.body?.let(::preview) ?: "",
                    previewFromMe = last?.direction == Direction.OUTGOING,
                    time = last?.let { time.listLabel(it.sentAtMillis, nowMillis) },
                    unreadBadge = badge(record.unreadCount),
                    marker = conversationMarker(record),
                    delivery = last?.takeIf { it.direction == Direction.OUTGOING }?.delivery,
                    disappearing = record.disappearingSeconds > 0,
                    identityWarning = record.identity == IdentityState.CHANGED || record.heldForIdentityChange > 0,
                )
            }

    /**
     * One conversation, oldest message first, with a separator before each
     * new local day. Messages whose disappearing time has passed are left
     * out even if the core has not deleted them yet.
     */
    fun conversation(record: ConversationRecord, messages: List<MessageRecord>, nowMillis: Long): ConversationViewState {
        val items = mutableListOf<ConversationItem>()
        var lastDay: java.time.LocalDate? = null
        for (m in messages.filter { !it.expired(nowMillis) }.sortedWith(compareBy({ it.sentAtMillis }, { it.id }))) {
            val day = time.localDay(m.sentAtMillis)
            if (day != lastDay) {
                items += ConversationItem.DaySeparator(time.dayLabel(day, nowMillis))
                lastDay = day
            }
            items += ConversationItem.Bubble(
                id = m.id,
                outgoing = m.direction == Direction.OUTGOING,
                body = m.body,
                time = time.bubbleTime(m.sentAtMillis),
                marker = if (m.transport.encrypted) SecurityMarker.ENCRYPTED else SecurityMarker.PLAIN,
                delivery = m.delivery,
                expiresIn = m.expiresAtMillis?.let { remainingDurationLabel((it - nowMillis + 999) / 1000) },
                hasAttachments = m.transport == Transport.PLAIN_MMS,
            )
        }
        return ConversationViewState(
            title = record.title,
            marker = conversationMarker(record),
            timer = exactDurationLabel(record.disappearingSeconds),
            keepsNoHistory = record.keepsNoHistory,
            banner = when {
                record.identity == IdentityState.CHANGED || record.heldForIdentityChange > 0 ->
                    ConversationBanner.IDENTITY_CHANGED
                !record.isSottoContact -> ConversationBanner.PLAIN_SMS_ONLY
                else -> null
            },
            items = items,
        )
    }

    private fun conversationMarker(record: ConversationRecord) =
        if (record.isSottoContact) SecurityMarker.ENCRYPTED else SecurityMarker.PLAIN

    private fun MessageRecord.expired(nowMillis: Long) = expiresAtMillis != null && expiresAtMillis <= nowMillis

    private fun badge(unread: Int): String? = when {
        unread <= 0 -> null
        unread > 99 -> "99+"
        else -> unread.toString()
    }

    private fun preview(body: String): String {
        val oneLine = body.trim().replace(Regex("\\s+"), " ")
        val max = ConversationListItem.PREVIEW_MAX_CHARS
        if (oneLine.codePointCount(0, oneLine.length) <= max) return oneLine
        val end = oneLine.offsetByCodePoints(0, max - 1)
        return oneLine.substring(0, end).trimEnd() + "…"
    }
}
