package org.sotto.logic.call

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class CallScreenModelTest {
    private val call = CallInfo("c", CallPeer("Alice", null), CallKind.SECURE, CallDirection.INCOMING)

    @Test
    fun `ringing shows answer and reject only`() {
        val m = CallScreenModel.of(CallState.RingingIn(call), 0)!!
        assertEquals(CallStatus.RINGING_IN, m.status)
        assertTrue(m.showAnswerAndReject)
        assertFalse(m.showHangup)
        assertFalse(m.showInCallControls)
        assertNull(m.authWords)
    }

    @Test
    fun `active secure call shows the words and a running timer`() {
        val state = CallState.Active(call, 10_000, "apple river", false, muted = true, route = AudioRoute.SPEAKER)
        val m = CallScreenModel.of(state, 10_000 + 75_400)!!
        assertEquals("1:15", m.timer)
        assertEquals("apple river", m.authWords)
        assertTrue(m.secure)
        assertTrue(m.muted)
        assertEquals(AudioRoute.SPEAKER, m.route)
        assertTrue(m.showHangup)
    }

    @Test
    fun `ended call keeps its reason and duration, idle has no screen`() {
        val m = CallScreenModel.of(CallState.Ended(call, EndReason.REMOTE_HANGUP, 3_600_000 + 5_000), 0)!!
        assertEquals(EndReason.REMOTE_HANGUP, m.endReason)
        assertEquals("1:00:05", m.timer)
        assertFalse(m.showHangup)
        assertNull(CallScreenModel.of(CallState.Idle, 0))
    }

    @Test
    fun `durations format and never go negative`() {
        assertEquals("0:00", formatCallDuration(-5_000))
        assertEquals("0:59", formatCallDuration(59_999))
        assertEquals("10:00", formatCallDuration(600_000))
    }
}
