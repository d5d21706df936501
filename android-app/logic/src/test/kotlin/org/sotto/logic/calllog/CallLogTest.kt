package org.sotto.logic.calllog

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.sotto.logic.format.TimeLabel
import org.sotto.logic.format.TimestampFormatter
import org.sotto.logic.settings.NotificationPrivacy
import java.time.LocalDateTime
import java.time.ZoneId
import java.util.Locale

class CallLogTest {
    private val zone = ZoneId.of("Europe/London")
    private val presenter = CallLogPresenter(TimestampFormatter(zone, Locale.UK, use24Hour = true))
    private fun at(h: Int, mi: Int) = LocalDateTime.of(2025, 3, 12, h, mi).atZone(zone).toInstant().toEpochMilli()
    private val now = at(15, 30)

    private fun record(
        id: Long,
        who: String = "alice",
        direction: CallDirection = CallDirection.INCOMING,
        cause: CallEndCause = CallEndCause.MISSED,
        startedAt: Long = at(9, 0),
        connectedFor: Long? = null,
        // What the core's CallLogEntry::is_missed says for these.
        missed: Boolean = direction == CallDirection.INCOMING && connectedFor == null &&
            (cause == CallEndCause.MISSED || cause == CallEndCause.NOT_RUNG),
    ) = CallLogRecord(
        id = id,
        conversationId = who,
        title = who.replaceFirstChar { it.uppercase() },
        direction = direction,
        cause = cause,
        startedAtMillis = startedAt,
        connectedAtMillis = connectedFor?.let { startedAt + 5_000 },
        endedAtMillis = startedAt + 5_000 + (connectedFor ?: 0),
        whileBusy = false,
        missed = missed,
    )

    @Test
    fun `outcomes follow direction, connection, cause and the core's missed`() {
        val i = CallDirection.INCOMING
        val o = CallDirection.OUTGOING
        assertEquals(CallOutcome.ANSWERED, CallOutcome.of(i, connected = true, CallEndCause.HUNG_UP_THERE, missed = false))
        assertEquals(CallOutcome.ANSWERED, CallOutcome.of(o, connected = true, CallEndCause.MEDIA_FAILED, missed = false))
        assertEquals(CallOutcome.MISSED, CallOutcome.of(i, connected = false, CallEndCause.MISSED, missed = true))
        assertEquals(CallOutcome.MISSED, CallOutcome.of(i, connected = false, CallEndCause.NOT_RUNG, missed = true))
        assertEquals(CallOutcome.DECLINED, CallOutcome.of(i, connected = false, CallEndCause.DECLINED_HERE, missed = false))
        assertEquals(CallOutcome.DECLINED, CallOutcome.of(i, connected = false, CallEndCause.HUNG_UP_HERE, missed = false))
        assertEquals(CallOutcome.CANCELLED, CallOutcome.of(o, connected = false, CallEndCause.HUNG_UP_HERE, missed = false))
        for (cause in listOf(CallEndCause.NO_ANSWER, CallEndCause.DECLINED_THERE, CallEndCause.BUSY_THERE)) {
            assertEquals(CallOutcome.NOT_ANSWERED, CallOutcome.of(o, connected = false, cause, missed = false), cause.name)
        }
        assertEquals(CallOutcome.FAILED, CallOutcome.of(i, connected = false, CallEndCause.CONNECT_TIMEOUT, missed = false))
    }

    @Test
    fun `the screen calls missed exactly what the core calls missed`() {
        // Answered here, and the caller hung up while it was still connecting:
        // the core says not missed, so the log must not show (and highlight) it as missed.
        val answeredThenDropped = record(1, cause = CallEndCause.HUNG_UP_THERE)
        assertFalse(answeredThenDropped.missed)
        assertEquals(CallOutcome.FAILED, answeredThenDropped.outcome)
        assertFalse(presenter.rows(listOf(answeredThenDropped), now).single().highlighted)
        // Whatever the cause, the core's word decides.
        assertEquals(CallOutcome.MISSED, record(2, cause = CallEndCause.HUNG_UP_THERE, missed = true).outcome)
        assertEquals(CallOutcome.MISSED, record(3).outcome)
        assertEquals(CallOutcome.MISSED, record(4, cause = CallEndCause.NOT_RUNG).outcome)
    }

    @Test
    fun `durations read as minutes and seconds, hours when there are some`() {
        assertEquals("0:00", CallLogPresenter.formatDuration(0))
        assertEquals("0:07", CallLogPresenter.formatDuration(7_999))
        assertEquals("12:03", CallLogPresenter.formatDuration((12 * 60 + 3) * 1000L))
        assertEquals("1:02:03", CallLogPresenter.formatDuration((3600 + 2 * 60 + 3) * 1000L))
        assertEquals("0:00", CallLogPresenter.formatDuration(-5), "a skewed clock is not a negative duration")
    }

    @Test
    fun `answered calls show their duration and missed ones are highlighted`() {
        val rows = presenter.rows(
            listOf(
                record(3, cause = CallEndCause.HUNG_UP_THERE, startedAt = at(15, 0), connectedFor = 65_000),
                record(2, startedAt = at(9, 5)),
            ),
            now,
        )
        assertEquals(listOf(3L, 2L), rows.map { it.id })
        assertEquals(CallOutcome.ANSWERED, rows[0].outcome)
        assertEquals("1:05", rows[0].duration)
        assertEquals(TimeLabel.MinutesAgo(30), rows[0].time)
        assertFalse(rows[0].highlighted)
        assertNull(rows[1].duration)
        assertEquals(TimeLabel.Text("09:05"), rows[1].time)
        assertTrue(rows[1].highlighted)
    }

    @Test
    fun `consecutive unanswered calls of one kind with one contact fold into one row`() {
        val rows = presenter.rows(
            listOf(
                record(6, startedAt = at(12, 0)),
                record(5, startedAt = at(11, 0)),
                record(4, who = "bob", startedAt = at(10, 0)),
                record(3, startedAt = at(9, 0)),
                record(2, cause = CallEndCause.DECLINED_HERE, startedAt = at(8, 0)),
                record(1, direction = CallDirection.OUTGOING, cause = CallEndCause.HUNG_UP_HERE, startedAt = at(7, 0), connectedFor = 1_000),
                record(0, direction = CallDirection.OUTGOING, cause = CallEndCause.HUNG_UP_HERE, startedAt = at(6, 0), connectedFor = 2_000),
            ),
            now,
        )
        assertEquals(listOf(6L, 4L, 3L, 2L, 1L, 0L), rows.map { it.id })
        assertEquals(listOf(2, 1, 1, 1, 1, 1), rows.map { it.count })
        assertEquals(TimeLabel.Text("12:00"), rows[0].time, "a folded row shows its newest call")
    }

    @Test
    fun `a full page has a next page cursor, a short one has none`() {
        val page = listOf(record(2, startedAt = at(10, 0)), record(1, startedAt = at(9, 0)))
        assertEquals(at(9, 0), CallLogPresenter.nextPageCursor(page, pageSize = 2))
        assertNull(CallLogPresenter.nextPageCursor(page, pageSize = 3))
        assertNull(CallLogPresenter.nextPageCursor(emptyList(), pageSize = 0))
    }

    @Test
    fun `a missed call notification hides the caller as the privacy setting says`() {
        assertEquals(MissedCallContent("Alice", true), MissedCallContent.of(NotificationPrivacy.NAME_AND_MESSAGE, false, "Alice"))
        assertEquals(MissedCallContent("Alice", true), MissedCallContent.of(NotificationPrivacy.NAME_ONLY, false, "Alice"))
        assertEquals(MissedCallContent(null, true), MissedCallContent.of(NotificationPrivacy.NOTHING, false, "Alice"))
        assertEquals(MissedCallContent(null, false), MissedCallContent.of(NotificationPrivacy.NAME_ONLY, true, "Alice"))
    }

    @Test
    fun `records never print names`() {
        assertFalse(record(1).toString().contains("Alice"))
        assertFalse(presenter.rows(listOf(record(1)), now).single().toString().contains("Alice"))
    }
}
