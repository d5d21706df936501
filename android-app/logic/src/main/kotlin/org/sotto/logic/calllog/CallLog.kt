/**
 * The dialer's call log: the records the core keeps of secure calls (one per
 * call that ended or was not rung), what each row of the log screen shows,
 * and what a missed-call notification may show. The rules (what counts as
 * missed or declined, how a duration reads, paging) live here; `:app` turns
 * the structured values into localized strings and icons.
 */
package org.sotto.logic.calllog

import org.sotto.logic.format.TimeLabel
import org.sotto.logic.format.TimestampFormatter
import org.sotto.logic.settings.NotificationPrivacy

/** Who placed a call. */
enum class CallDirection { INCOMING, OUTGOING }

/** Why a call ended, as the core says (`CallEndReason` of the bindings). */
enum class CallEndCause {
    HUNG_UP_HERE,
    HUNG_UP_THERE,
    DECLINED_HERE,
    DECLINED_THERE,
    BUSY_THERE,
    NO_ANSWER,

    /** An incoming call not answered: it timed out or the caller gave up. */
    MISSED,
    CONNECT_TIMEOUT,
    MEDIA_FAILED,

    /** Never rung: it came while another call was in progress, or its offer came too late. */
    NOT_RUNG,
}

/** What became of a call, as the log shows it (one icon and label each). */
enum class CallOutcome {
    /** It connected (either way). */
    ANSWERED,

    /** Incoming and not answered here (timed out, the caller gave up, or not rung). */
    MISSED,

    /** Incoming and declined here. */
    DECLINED,

    /** Outgoing and not answered there (no answer, declined, busy). */
    NOT_ANSWERED,

    /** Outgoing and cancelled here before an answer. */
    CANCELLED,

    /** It was answered but media never flowed. */
    FAILED,
    ;

    companion object {
        /**
         * The outcome of a call that went [direction], [connected] or not,
         * ended by [cause], and that the core says was [missed] or not.
         * Missed is the core's word (the log screen, the notification and
         * the core must agree): an incoming call nobody answered here (it
         * timed out, the caller gave up, or it was never rung). An incoming
         * call that was neither missed nor declined was answered here and
         * never connected (the caller hung up while it was connecting): failed.
         */
        fun of(direction: CallDirection, connected: Boolean, cause: CallEndCause, missed: Boolean): CallOutcome = when {
            connected -> ANSWERED
            missed -> MISSED
            cause == CallEndCause.CONNECT_TIMEOUT || cause == CallEndCause.MEDIA_FAILED -> FAILED
            direction == CallDirection.INCOMING -> when (cause) {
                // Hung up here while ringing is declining.
                CallEndCause.DECLINED_HERE, CallEndCause.HUNG_UP_HERE -> DECLINED
                else -> FAILED
            }
            cause == CallEndCause.HUNG_UP_HERE -> CANCELLED
            else -> NOT_ANSWERED
        }
    }
}

/** One call in the log, in `:logic` types (the adapter maps the bindings' `CallLogEntry`). */
data class CallLogRecord(
    /** The core's id of the entry, for deleting it. */
    val id: Long,
    /** The conversation (the contact) the call was with. */
    val conversationId: String,
    /** The contact's name, or null if the contact is gone. */
    val title: String?,
    val direction: CallDirection,
    val cause: CallEndCause,
    /** When it started ringing, ms since the epoch; the paging cursor. */
    val startedAtMillis: Long,
    /** When media first flowed, or null. */
    val connectedAtMillis: Long?,
    val endedAtMillis: Long,
    /** Not rung because another call was in progress. */
    val whileBusy: Boolean,
    /** The core's word: an incoming call nobody answered here (timed out, the caller gave up, or never rung). */
    val missed: Boolean,
) {
    /** What became of the call. */
    val outcome: CallOutcome get() = CallOutcome.of(direction, connectedAtMillis != null, cause, missed)

    /** How long it was connected (0 if it never was). */
    val durationMillis: Long get() = connectedAtMillis?.let { (endedAtMillis - it).coerceAtLeast(0) } ?: 0

    override fun toString(): String = "CallLogRecord(id=$id, direction=$direction, cause=$cause)"
}

/** One row of the call log screen. */
data class CallLogRow(
    val id: Long,
    val conversationId: String,
    /** The contact's name; null: `:app` shows its "unknown contact" text. */
    val title: String?,
    val direction: CallDirection,
    val outcome: CallOutcome,
    /** When, as the conversation list labels times. */
    val time: TimeLabel,
    /** "m:ss" or "h:mm:ss" for an answered call, else null. */
    val duration: String?,
    /** How many calls this row stands for (consecutive calls with one contact, same kind). */
    val count: Int,
) {
    /** Missed calls are drawn in the error colour. */
    val highlighted: Boolean get() = outcome == CallOutcome.MISSED

    override fun toString(): String = "CallLogRow(id=$id, outcome=$outcome, count=$count)"
}

/** Builds the call log screen's rows, in one zone and locale. */
class CallLogPresenter(private val formatter: TimestampFormatter) {
    /**
     * The rows for [records] (newest first, as the core returns them).
     * Consecutive unanswered calls of one kind with one contact fold into one
     * row with a count ("Alice (3)", as dialers show repeated missed calls);
     * answered calls each keep their own row, for their durations.
     */
    fun rows(records: List<CallLogRecord>, nowMillis: Long): List<CallLogRow> {
        val rows = mutableListOf<CallLogRow>()
        for (record in records) {
            val last = rows.lastOrNull()
            val outcome = record.outcome
            if (last != null && outcome != CallOutcome.ANSWERED && last.outcome == outcome &&
                last.conversationId == record.conversationId && last.direction == record.direction
            ) {
                rows[rows.size - 1] = last.copy(count = last.count + 1)
                continue
            }
            rows += CallLogRow(
                id = record.id,
                conversationId = record.conversationId,
                title = record.title,
                direction = record.direction,
                outcome = outcome,
                time = formatter.listLabel(record.startedAtMillis, nowMillis),
                duration = if (outcome == CallOutcome.ANSWERED) formatDuration(record.durationMillis) else null,
                count = 1,
            )
        }
        return rows
    }

    companion object {
        /** "0:07", "12:03", "1:02:03": whole seconds, rounded down. */
        fun formatDuration(millis: Long): String {
            val seconds = millis.coerceAtLeast(0) / 1000
            val h = seconds / 3600
            val m = (seconds % 3600) / 60
            val s = seconds % 60
            return if (h > 0) "%d:%02d:%02d".format(h, m, s) else "%d:%02d".format(m, s)
        }

        /** The cursor for the page after [page]: the start of its last record (null: no more pages). */
        fun nextPageCursor(page: List<CallLogRecord>, pageSize: Int): Long? =
            if (page.size < pageSize) null else page.lastOrNull()?.startedAtMillis
    }
}

/** What a missed-call notification may show; null fields use the generic localized text. */
data class MissedCallContent(
    /** The caller's name, or null for "Missed call". */
    val caller: String?,
    /** Tapping it opens the caller's conversation (its secure call button calls back). */
    val opensConversation: Boolean,
) {
    override fun toString(): String = "MissedCallContent(caller=${caller != null}, opensConversation=$opensConversation)"

    companion object {
        /**
         * The content for a missed call from [caller] (null if unknown).
         * The privacy setting that hides senders hides callers too; while the
         * app is locked the store is closed, so only "missed call" is shown
         * and tapping it opens the app (to unlock) rather than the conversation.
         */
        fun of(privacy: NotificationPrivacy, appLocked: Boolean, caller: String?): MissedCallContent = when {
            appLocked -> MissedCallContent(null, opensConversation = false)
            privacy == NotificationPrivacy.NOTHING -> MissedCallContent(null, opensConversation = true)
            else -> MissedCallContent(caller, opensConversation = true)
        }
    }
}
