package org.sotto.logic.call

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class CallMachineTest {
    private val peer = CallPeer("Alice", "+447700900123")

    private class Recorder : CallEffects {
        val performed = mutableListOf<CallEffect>()
        override fun perform(effect: CallEffect) {
            performed += effect
        }
    }

    private class FakeClock(var now: Long = 1_000_000L) {
        fun read() = now
    }

    private fun controller(clock: FakeClock = FakeClock()): Pair<CallController, Recorder> {
        val recorder = Recorder()
        return CallController(recorder, clock::read) to recorder
    }

    @Test
    fun `outgoing secure call rings, connects with the authentication words and ends with its duration`() {
        val clock = FakeClock()
        val (c, fx) = controller(clock)
        c.handle(CallEvent.PlaceRequested("c1", peer, CallKind.SECURE))
        val call = (c.state as CallState.Dialing).call
        assertEquals(
            listOf(CallEffect.EnterForeground(call), CallEffect.Place(call), CallEffect.StartRingTimer("c1")),
            fx.performed,
        )
        c.handle(CallEvent.RemoteRinging("c1"))
        assertTrue(c.state is CallState.RingingOut)
        c.handle(CallEvent.RemoteAnswered("c1"))
        assertTrue(c.state is CallState.Connecting)
        clock.now += 500
        c.handle(CallEvent.MediaConnected("c1", "apple river"))
        val active = c.state as CallState.Active
        assertEquals("apple river", active.authWords)
        assertFalse(active.authConfirmed)
        c.handle(CallEvent.AuthConfirmed)
        assertTrue((c.state as CallState.Active).authConfirmed)
        clock.now += 65_000
        fx.performed.clear()
        c.handle(CallEvent.HangupPressed)
        assertEquals(CallState.Ended(call, EndReason.LOCAL_HANGUP, 65_000), c.state)
        assertEquals(
            listOf(CallEffect.HangUp("c1"), CallEffect.ReportEnded(call, EndReason.LOCAL_HANGUP), CallEffect.LeaveForeground),
            fx.performed,
        )
        c.handle(CallEvent.Dismissed)
        assertEquals(CallState.Idle, c.state)
    }

    @Test
    fun `a secure call that connects without an authentication string is ended, never shown as active`() {
        val (c, fx) = controller()
        c.handle(CallEvent.IncomingCall("c2", peer, CallKind.SECURE))
        c.handle(CallEvent.AnswerPressed)
        c.handle(CallEvent.MediaConnected("c2", null))
        val ended = c.state as CallState.Ended
        assertEquals(EndReason.NOT_AUTHENTICATED, ended.reason)
        assertTrue(CallEffect.HangUp("c2") in fx.performed)
        assertFalse(fx.performed.any { it is CallEffect.ReportActive })
    }

    @Test
    fun `a carrier call becomes active without authentication words`() {
        val (c, _) = controller()
        c.handle(CallEvent.PlaceRequested("t1", peer, CallKind.CARRIER))
        c.handle(CallEvent.MediaConnected("t1", "ignored words"))
        val active = c.state as CallState.Active
        assertNull(active.authWords)
        // Confirming words that do not exist changes nothing.
        c.handle(CallEvent.AuthConfirmed)
        assertEquals(active, c.state)
    }

    @Test
    fun `incoming call answered stops ringing before answering`() {
        val (c, fx) = controller()
        c.handle(CallEvent.IncomingCall("c3", peer, CallKind.SECURE))
        val call = (c.state as CallState.RingingIn).call
        assertEquals(CallDirection.INCOMING, call.direction)
        fx.performed.clear()
        c.handle(CallEvent.AnswerPressed)
        assertEquals(listOf(CallEffect.StopRinging, CallEffect.Answer("c3")), fx.performed)
    }

    @Test
    fun `rejecting, ring timeout and remote hang-up while ringing end with the right reason`() {
        val t = CallMachine.transition(CallState.Idle, CallEvent.IncomingCall("c4", peer, CallKind.SECURE), 0)
        val ringing = t.state
        val reject = CallMachine.transition(ringing, CallEvent.RejectPressed, 0)
        assertEquals(EndReason.REJECTED, (reject.state as CallState.Ended).reason)
        assertEquals(CallEffect.Reject("c4"), reject.effects[1])
        val timeout = CallMachine.transition(ringing, CallEvent.RingTimeout("c4"), 0)
        assertEquals(EndReason.MISSED, (timeout.state as CallState.Ended).reason)
        val gone = CallMachine.transition(ringing, CallEvent.RemoteHungUp("c4"), 0)
        assertEquals(EndReason.MISSED, (gone.state as CallState.Ended).reason)
        assertFalse(gone.effects.any { it is CallEffect.Reject })
    }

    @Test
    fun `outgoing call that rings out ends as no answer and stops the ringback`() {
        var s = CallMachine.transition(CallState.Idle, CallEvent.PlaceRequested("c5", peer, CallKind.SECURE), 0).state
        s = CallMachine.transition(s, CallEvent.RemoteRinging("c5"), 0).state
        val t = CallMachine.transition(s, CallEvent.RingTimeout("c5"), 0)
        assertEquals(EndReason.NO_ANSWER, (t.state as CallState.Ended).reason)
        assertEquals(listOf(CallEffect.StopRingback, CallEffect.HangUp("c5")), t.effects.take(2))
        val busy = CallMachine.transition(s, CallEvent.RemoteBusy("c5"), 0)
        assertEquals(EndReason.BUSY, (busy.state as CallState.Ended).reason)
    }

    @Test
    fun `events for another call id and stale timers are ignored`() {
        var s = CallMachine.transition(CallState.Idle, CallEvent.PlaceRequested("c6", peer, CallKind.SECURE), 0).state
        s = CallMachine.transition(s, CallEvent.RemoteAnswered("c6"), 0).state
        s = CallMachine.transition(s, CallEvent.MediaConnected("c6", "lemon tiger"), 10).state
        for (event in listOf(
            CallEvent.RemoteHungUp("old"),
            CallEvent.RingTimeout("c6"),
            CallEvent.Failed("other"),
            CallEvent.AnswerPressed,
            CallEvent.Dismissed,
        )) {
            val t = CallMachine.transition(s, event, 20)
            assertEquals(s, t.state, "state after $event")
            assertTrue(t.effects.isEmpty(), "effects after $event")
        }
    }

    @Test
    fun `a second incoming call gets busy and the current call goes on`() {
        var s = CallMachine.transition(CallState.Idle, CallEvent.IncomingCall("a", peer, CallKind.SECURE), 0).state
        s = CallMachine.transition(s, CallEvent.AnswerPressed, 0).state
        val t = CallMachine.transition(s, CallEvent.IncomingCall("b", CallPeer("Bob", null), CallKind.CARRIER), 0)
        assertEquals(s, t.state)
        assertEquals(listOf(CallEffect.SendBusy("b")), t.effects)
    }

    @Test
    fun `mute and audio route carry over from connecting to active`() {
        val (c, fx) = controller()
        c.handle(CallEvent.PlaceRequested("c7", peer, CallKind.SECURE))
        c.handle(CallEvent.MuteToggled)
        c.handle(CallEvent.RouteSelected(AudioRoute.SPEAKER))
        c.handle(CallEvent.RemoteAnswered("c7"))
        c.handle(CallEvent.RouteChanged(AudioRoute.BLUETOOTH))
        c.handle(CallEvent.MediaConnected("c7", "ocean violet"))
        val active = c.state as CallState.Active
        assertTrue(active.muted)
        assertEquals(AudioRoute.BLUETOOTH, active.route)
        assertTrue(CallEffect.SetMuted(true) in fx.performed)
        assertTrue(CallEffect.SetAudioRoute(AudioRoute.SPEAKER) in fx.performed)
        assertFalse(fx.performed.contains(CallEffect.SetAudioRoute(AudioRoute.BLUETOOTH)), "a system route change is not echoed back")
    }

    @Test
    fun `observers see each change once and not the ignored events`() {
        val (c, _) = controller()
        val seen = mutableListOf<CallState>()
        val handle = c.observe { seen += it }
        c.handle(CallEvent.PlaceRequested("c8", peer, CallKind.SECURE))
        c.handle(CallEvent.RemoteAnswered("zzz"))
        c.handle(CallEvent.HangupPressed)
        assertEquals(3, seen.size)
        assertEquals(CallState.Idle, seen[0])
        assertTrue(seen[2] is CallState.Ended)
        handle.close()
        c.handle(CallEvent.Dismissed)
        assertEquals(3, seen.size, "a closed observer hears nothing more")
    }

    @Test
    fun `peer details stay out of toString`() {
        val text = CallInfo("c9", peer, CallKind.SECURE, CallDirection.OUTGOING).toString()
        assertFalse("Alice" in text)
        assertFalse("7700" in text)
    }
}
