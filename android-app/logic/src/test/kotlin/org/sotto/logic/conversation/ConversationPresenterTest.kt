package org.sotto.logic.conversation

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.sotto.logic.format.DayLabel
import org.sotto.logic.format.DurationLabel
import org.sotto.logic.format.DurationUnit
import org.sotto.logic.format.TimeLabel
import org.sotto.logic.format.TimestampFormatter
import java.time.ZoneOffset
import java.util.Locale

class ConversationPresenterTest {
    private val presenter = ConversationPresenter(TimestampFormatter(ZoneOffset.UTC, Locale.UK, use24Hour = true))
    private val day = 86_400_000L
    private val now = 20_000 * day + 12 * 3_600_000L // 12:00 UTC

    private fun msg(
        id: String,
        at: Long,
        body: String = "hi",
        dir: Direction = Direction.INCOMING,
        transport: Transport = Transport.RELAY,
        delivery: DeliveryState = DeliveryState.RECEIVED,
        expires: Long? = null,
    ) = MessageRecord(id, dir, body, at, transport, delivery, expires)

    private fun conv(
        id: String,
        last: MessageRecord?,
        sotto: Boolean = true,
        identity: IdentityState = IdentityState.VERIFIED,
        unread: Int = 0,
        timer: Long = 0,
        held: Int = 0,
        noHistory: Boolean = false,
    ) = ConversationRecord(id, "Title $id", sotto, identity, last, unread, timer, held, noHistory)

    @Test
    fun `list sorts by newest message and marks encrypted and plain conversations`() {
        val items = presenter.list(
            listOf(
                conv("old", msg("m1", now - day)),
                conv("sms", msg("m2", now - 30_000, transport = Transport.PLAIN_SMS), sotto = false, identity = IdentityState.NONE),
                conv("empty", null),
                conv("mid", msg("m3", now - 3_600_000, dir = Direction.OUTGOING, delivery = DeliveryState.DELIVERED)),
            ),
            now,
        )
        assertEquals(listOf("sms", "mid", "old", "empty"), items.map { it.id })
        assertEquals(SecurityMarker.PLAIN, items[0].marker)
        assertEquals(TimeLabel.JustNow, items[0].time)
        assertEquals(SecurityMarker.ENCRYPTED, items[1].marker)
        assertEquals(DeliveryState.DELIVERED, items[1].delivery)
        assertTrue(items[1].previewFromMe)
        assertNull(items[2].delivery, "no delivery ticks on someone else's message")
        assertEquals("", items[3].preview)
        assertNull(items[3].time)
    }

    @Test
    fun `preview is one line, cut by code points, and badges cap at 99+`() {
        val long = "😀".repeat(100)
        val items = presenter.list(
            listOf(
                conv("a", msg("m", now - 1000, body = "  line one\n\n line\ttwo  "), unread = 3),
                conv("b", msg("n", now - 2000, body = long), unread = 250),
                conv("c", msg("o", now - 3000), unread = 0),
            ),
            now,
        )
        assertEquals("line one line two", items[0].preview)
        assertEquals("3", items[0].unreadBadge)
        val cut = items[1].preview
        assertEquals(ConversationListItem.PREVIEW_MAX_CHARS, cut.codePointCount(0, cut.length))
        assertTrue(cut.endsWith("…"))
        assertFalse(cut.dropLast(1).last().isHighSurrogate(), "no emoji cut in half")
        assertEquals("99+", items[1].unreadBadge)
        assertNull(items[2].unreadBadge)
    }

    @Test
    fun `a disappeared last message is not previewed, and identity changes warn`() {
        val items = presenter.list(
            listOf(conv("x", msg("m", now - 5000, body = "secret", expires = now - 1), timer = 3600, held = 2)),
            now,
        )
        assertEquals("", items[0].preview)
        assertTrue(items[0].disappearing)
        assertTrue(items[0].identityWarning)
    }

    @Test
    fun `conversation groups by day, marks each bubble and shows timers`() {
        val messages = listOf(
            msg("b", now - 60_000, dir = Direction.OUTGOING, delivery = DeliveryState.READ, expires = now + 90_000),
            msg("a", now - day - 60_000, transport = Transport.ENCRYPTED_SMS),
            msg("gone", now - 120_000, expires = now - 1),
            msg("c", now - 30_000, transport = Transport.PLAIN_SMS),
            msg("d", now - 20_000, transport = Transport.PLAIN_MMS),
        )
        val view = presenter.conversation(conv("k", null, timer = 300), messages, now)
        assertEquals(DurationLabel.Amount(5, DurationUnit.MINUTES), view.timer)
        assertEquals(SecurityMarker.ENCRYPTED, view.marker)
        assertNull(view.banner)
        val kinds = view.items.map {
            when (it) {
                is ConversationItem.DaySeparator -> it.label.toString()
                is ConversationItem.Bubble -> it.id
            }
        }
        assertEquals(listOf(DayLabel.Yesterday.toString(), "a", DayLabel.Today.toString(), "b", "c", "d"), kinds)
        val bubbles = view.items.filterIsInstance<ConversationItem.Bubble>()
        assertEquals(SecurityMarker.ENCRYPTED, bubbles[0].marker)
        assertEquals(SecurityMarker.PLAIN, bubbles[2].marker)
        assertTrue(bubbles[1].outgoing)
        assertEquals(DeliveryState.READ, bubbles[1].delivery)
        assertEquals(DurationLabel.Amount(2, DurationUnit.MINUTES), bubbles[1].expiresIn)
        assertEquals("11:59", bubbles[1].time)
        assertEquals(listOf(false, false, false, true), bubbles.map { it.hasAttachments }, "only the MMS shows parts")
    }

    @Test
    fun `banners for a changed identity and a plain sms contact`() {
        assertEquals(
            ConversationBanner.IDENTITY_CHANGED,
            presenter.conversation(conv("x", null, identity = IdentityState.CHANGED), emptyList(), now).banner,
        )
        val plain = presenter.conversation(conv("y", null, sotto = false, identity = IdentityState.NONE), emptyList(), now)
        assertEquals(ConversationBanner.PLAIN_SMS_ONLY, plain.banner)
        assertEquals(SecurityMarker.PLAIN, plain.marker)
        assertFalse(plain.keepsNoHistory)
        assertTrue(presenter.conversation(conv("n", null, noHistory = true), emptyList(), now).keepsNoHistory)
    }

    @Test
    fun `records keep text out of toString`() {
        val m = msg("m", now, body = "meet at the station")
        assertFalse("station" in m.toString())
        assertFalse("station" in presenter.conversation(conv("z", null), listOf(m), now).items.toString())
    }
}
