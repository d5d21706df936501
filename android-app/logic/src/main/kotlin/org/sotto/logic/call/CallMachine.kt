/**
 * The call screen's state machine: one call at a time, secure (Sotto, through
 * the core) or carrier (through Telecom). It owns the rules of which event is
 * valid in which state and which side effects follow; it owns no audio, no
 * network and no Telecom object. `:app` feeds it events from the core's call
 * listener, from the Telecom `Connection`/`Call` callbacks and from the
 * screen's buttons, and carries out its effects through [CallEffects].
 */
package org.sotto.logic.call

/** Who the call is with, as the screen shows it. Kept out of `toString` so it never reaches a log. */
data class CallPeer(val displayName: String, val number: String?) {
    override fun toString(): String = "CallPeer(redacted)"
}

/** A Sotto call is end-to-end encrypted through the core; a carrier call is an ordinary phone call. */
enum class CallKind { SECURE, CARRIER }

/** Which side placed the call. */
enum class CallDirection { OUTGOING, INCOMING }

/** Where the call's audio goes. */
enum class AudioRoute { EARPIECE, SPEAKER, BLUETOOTH, WIRED_HEADSET }

/** Why a call ended; the screen says it and the call log records it. */
enum class EndReason {
    /** This side hung up. */
    LOCAL_HANGUP,

    /** The other side hung up. */
    REMOTE_HANGUP,

    /** This side declined an incoming call. */
    REJECTED,

    /** The other side declined, or is in another call. */
    BUSY,

    /** An incoming call rang out unanswered. */
    MISSED,

    /** An outgoing call rang out unanswered. */
    NO_ANSWER,

    /** The call could not be set up or lost its connection. */
    FAILED,

    /**
     * A secure call connected without an authentication string. It is ended
     * rather than shown as secure: the spoken check is what proves there is
     * no one in the middle.
     */
    NOT_AUTHENTICATED,
}

/** The facts of one call that do not change while it lasts. */
data class CallInfo(
    val callId: String,
    val peer: CallPeer,
    val kind: CallKind,
    val direction: CallDirection,
)

/** Where a call is. Every state but [Idle] carries the call it is about. */
sealed interface CallState {
    /** No call. */
    data object Idle : CallState

    /** Outgoing: placed (the offer is on its way), nobody rings yet. */
    data class Dialing(val call: CallInfo, val muted: Boolean, val route: AudioRoute) : CallState

    /** Outgoing: the other phone rings. */
    data class RingingOut(val call: CallInfo, val muted: Boolean, val route: AudioRoute) : CallState

    /** Incoming: this phone rings. */
    data class RingingIn(val call: CallInfo) : CallState

    /** Answered by one side; keys and media are being set up. */
    data class Connecting(val call: CallInfo, val muted: Boolean, val route: AudioRoute) : CallState

    /**
     * Talking. For a secure call [authWords] is the short authentication
     * string both phones show (never null for [CallKind.SECURE]); the users
     * read it to each other and [authConfirmed] records that they did.
     */
    data class Active(
        val call: CallInfo,
        val connectedAtMillis: Long,
        val authWords: String?,
        val authConfirmed: Boolean,
        val muted: Boolean,
        val route: AudioRoute,
    ) : CallState

    /** Over; the screen shows why until it is dismissed. */
    data class Ended(val call: CallInfo, val reason: EndReason, val durationMillis: Long?) : CallState
}

/** Something that happened: from the core, from Telecom, from the user, or a timer. */
sealed interface CallEvent {
    /** The user asked to call [peer]. */
    data class PlaceRequested(val callId: String, val peer: CallPeer, val kind: CallKind) : CallEvent

    /** A call came in (a Sotto offer from the core, or a ringing Telecom call). */
    data class IncomingCall(val callId: String, val peer: CallPeer, val kind: CallKind) : CallEvent

    /** The other phone started ringing. */
    data class RemoteRinging(val callId: String) : CallEvent

    /** The other side answered. */
    data class RemoteAnswered(val callId: String) : CallEvent

    /** The user pressed answer. */
    data object AnswerPressed : CallEvent

    /** The user pressed decline on a ringing incoming call. */
    data object RejectPressed : CallEvent

    /** The user pressed hang up. */
    data object HangupPressed : CallEvent

    /**
     * Media flows. For a secure call the core derived the SRTP keys and
     * [authWords] from them; a carrier call has none.
     */
    data class MediaConnected(val callId: String, val authWords: String?) : CallEvent

    /** The users read the authentication string to each other and it matched. */
    data object AuthConfirmed : CallEvent

    /** The user toggled the microphone. */
    data object MuteToggled : CallEvent

    /** The user picked an audio route. */
    data class RouteSelected(val route: AudioRoute) : CallEvent

    /** The system moved the audio (a headset was plugged in, Bluetooth connected). */
    data class RouteChanged(val route: AudioRoute) : CallEvent

    /** The other side hung up. */
    data class RemoteHungUp(val callId: String) : CallEvent

    /** The other side declined or is busy. */
    data class RemoteBusy(val callId: String) : CallEvent

    /** Set-up failed or the connection was lost. */
    data class Failed(val callId: String) : CallEvent

    /** The ring timer armed by [CallEffect.StartRingTimer] ran out. */
    data class RingTimeout(val callId: String) : CallEvent

    /** The user closed the "call ended" screen. */
    data object Dismissed : CallEvent
}

/** A side effect the machine asks for; `:app` performs it through [CallEffects]. */
sealed interface CallEffect {
    /** Place the call (core `placeCall` for secure, `TelecomManager.placeCall` for carrier). */
    data class Place(val call: CallInfo) : CallEffect

    /** Answer the incoming call. */
    data class Answer(val callId: String) : CallEffect

    /** Decline the incoming call. */
    data class Reject(val callId: String) : CallEffect

    /** Hang the call up. */
    data class HangUp(val callId: String) : CallEffect

    /** Tell a second caller this side is busy, without disturbing the current call. */
    data class SendBusy(val callId: String) : CallEffect

    /** Ring this phone. */
    data object StartRinging : CallEffect

    /** Stop ringing this phone. */
    data object StopRinging : CallEffect

    /** Play the ring-back tone. */
    data object StartRingback : CallEffect

    /** Stop the ring-back tone. */
    data object StopRingback : CallEffect

    /** Arm the ring timer; it reports [CallEvent.RingTimeout] after [CallMachine.RING_TIMEOUT_MILLIS]. */
    data class StartRingTimer(val callId: String) : CallEffect

    /** Mute or unmute the microphone. */
    data class SetMuted(val muted: Boolean) : CallEffect

    /** Send the audio to [route]. */
    data class SetAudioRoute(val route: AudioRoute) : CallEffect

    /** Tell Telecom the call is active (`Connection.setActive`). */
    data class ReportActive(val callId: String) : CallEffect

    /** Tell Telecom the call is over (`Connection.setDisconnected`) and write the call log. */
    data class ReportEnded(val call: CallInfo, val reason: EndReason) : CallEffect

    /** Start the in-call foreground service (types phoneCall and microphone). */
    data class EnterForeground(val call: CallInfo) : CallEffect

    /** Stop the in-call foreground service. */
    data object LeaveForeground : CallEffect
}

/** What the machine returns: the next state and the effects to carry out, in order. */
data class CallTransition(val state: CallState, val effects: List<CallEffect>)

/** The platform side of the effects. Implemented in `:app`; tests record the calls. */
interface CallEffects {
    /** Carries out one effect. Called in the order the machine listed them. */
    fun perform(effect: CallEffect)
}

/**
 * The pure transition function. An event that makes no sense in the current
 * state (a late timer, a stale call id, a double tap) leaves the state alone
 * and asks for nothing, so the platform may deliver events loosely.
 */
object CallMachine {
    /** How long a call rings before it counts as missed or unanswered. */
    const val RING_TIMEOUT_MILLIS: Long = 60_000

    /** The next state after [event] in [state] at [nowMillis] (a wall-clock reading). */
    fun transition(state: CallState, event: CallEvent, nowMillis: Long): CallTransition {
        if (event is CallEvent.IncomingCall && state !is CallState.Idle && state !is CallState.Ended) {
            // One call at a time: a second caller hears busy, the current call goes on.
            return CallTransition(state, listOf(CallEffect.SendBusy(event.callId)))
        }
        return when (state) {
            CallState.Idle -> fromIdle(event)
            is CallState.Dialing -> fromDialing(state, event, nowMillis)
            is CallState.RingingOut -> fromRingingOut(state, event, nowMillis)
            is CallState.RingingIn -> fromRingingIn(state, event)
            is CallState.Connecting -> fromConnecting(state, event, nowMillis)
            is CallState.Active -> fromActive(state, event, nowMillis)
            is CallState.Ended -> fromEnded(state, event)
        }
    }

    private fun fromIdle(event: CallEvent): CallTransition = when (event) {
        is CallEvent.PlaceRequested -> place(event)
        is CallEvent.IncomingCall -> ringIn(event)
        else -> stay(CallState.Idle)
    }

    private fun fromEnded(state: CallState.Ended, event: CallEvent): CallTransition = when (event) {
        CallEvent.Dismissed -> CallTransition(CallState.Idle, emptyList())
        is CallEvent.PlaceRequested -> place(event)
        is CallEvent.IncomingCall -> ringIn(event)
        else -> stay(state)
    }

    private fun place(event: CallEvent.PlaceRequested): CallTransition {
        val call = CallInfo(event.callId, event.peer, event.kind, CallDirection.OUTGOING)
        return CallTransition(
            CallState.Dialing(call, muted = false, route = AudioRoute.EARPIECE),
            listOf(CallEffect.EnterForeground(call), CallEffect.Place(call), CallEffect.StartRingTimer(call.callId)),
        )
    }

    private fun ringIn(event: CallEvent.IncomingCall): CallTransition {
        val call = CallInfo(event.callId, event.peer, event.kind, CallDirection.INCOMING)
        return CallTransition(
            CallState.RingingIn(call),
            listOf(CallEffect.EnterForeground(call), CallEffect.StartRinging, CallEffect.StartRingTimer(call.callId)),
        )
    }

    private fun fromDialing(state: CallState.Dialing, event: CallEvent, now: Long): CallTransition {
        val call = state.call
        return when {
            event is CallEvent.RemoteRinging && event.callId == call.callId -> CallTransition(
                CallState.RingingOut(call, state.muted, state.route),
                listOf(CallEffect.StartRingback),
            )
            event is CallEvent.RemoteAnswered && event.callId == call.callId ->
                CallTransition(CallState.Connecting(call, state.muted, state.route), emptyList())
            // Carrier calls can go straight to active without a separate answer signal.
            event is CallEvent.MediaConnected && event.callId == call.callId ->
                connect(call, event.authWords, state.muted, state.route, now)
            else -> outgoingCommon(call, state, state.muted, event, ringback = false) { muted, route ->
                state.copy(muted = muted, route = route)
            }
        }
    }

    private fun fromRingingOut(state: CallState.RingingOut, event: CallEvent, now: Long): CallTransition {
        val call = state.call
        return when {
            event is CallEvent.RemoteAnswered && event.callId == call.callId -> CallTransition(
                CallState.Connecting(call, state.muted, state.route),
                listOf(CallEffect.StopRingback),
            )
            event is CallEvent.MediaConnected && event.callId == call.callId -> {
                val next = connect(call, event.authWords, state.muted, state.route, now)
                next.copy(effects = listOf<CallEffect>(CallEffect.StopRingback) + next.effects)
            }
            else -> outgoingCommon(call, state, state.muted, event, ringback = true) { muted, route ->
                state.copy(muted = muted, route = route)
            }
        }
    }

    /** Hang-up, busy, failure, timeout, mute and routing while an outgoing call is not yet answered. */
    private fun outgoingCommon(
        call: CallInfo,
        state: CallState,
        muted: Boolean,
        event: CallEvent,
        ringback: Boolean,
        update: (Boolean, AudioRoute) -> CallState,
    ): CallTransition {
        val stopTone = if (ringback) listOf<CallEffect>(CallEffect.StopRingback) else emptyList()
        return when {
            event == CallEvent.HangupPressed ->
                end(call, EndReason.LOCAL_HANGUP, null, stopTone + CallEffect.HangUp(call.callId))
            event is CallEvent.RemoteBusy && event.callId == call.callId ->
                end(call, EndReason.BUSY, null, stopTone)
            event is CallEvent.RemoteHungUp && event.callId == call.callId ->
                end(call, EndReason.REMOTE_HANGUP, null, stopTone)
            event is CallEvent.Failed && event.callId == call.callId ->
                end(call, EndReason.FAILED, null, stopTone)
            event is CallEvent.RingTimeout && event.callId == call.callId ->
                end(call, EndReason.NO_ANSWER, null, stopTone + CallEffect.HangUp(call.callId))
            event == CallEvent.MuteToggled ->
                CallTransition(update(!muted, currentRoute(state)), listOf(CallEffect.SetMuted(!muted)))
            event is CallEvent.RouteSelected ->
                CallTransition(update(muted, event.route), listOf(CallEffect.SetAudioRoute(event.route)))
            event is CallEvent.RouteChanged -> CallTransition(update(muted, event.route), emptyList())
            else -> stay(state)
        }
    }

    private fun fromRingingIn(state: CallState.RingingIn, event: CallEvent): CallTransition {
        val call = state.call
        return when {
            event == CallEvent.AnswerPressed -> CallTransition(
                CallState.Connecting(call, muted = false, route = AudioRoute.EARPIECE),
                listOf(CallEffect.StopRinging, CallEffect.Answer(call.callId)),
            )
            event == CallEvent.RejectPressed ->
                end(call, EndReason.REJECTED, null, listOf(CallEffect.StopRinging, CallEffect.Reject(call.callId)))
            event is CallEvent.RemoteHungUp && event.callId == call.callId ->
                end(call, EndReason.MISSED, null, listOf(CallEffect.StopRinging))
            event is CallEvent.Failed && event.callId == call.callId ->
                end(call, EndReason.MISSED, null, listOf(CallEffect.StopRinging))
            event is CallEvent.RingTimeout && event.callId == call.callId ->
                end(call, EndReason.MISSED, null, listOf(CallEffect.StopRinging, CallEffect.Reject(call.callId)))
            else -> stay(state)
        }
    }

    private fun fromConnecting(state: CallState.Connecting, event: CallEvent, now: Long): CallTransition {
        val call = state.call
        return when {
            event is CallEvent.MediaConnected && event.callId == call.callId ->
                connect(call, event.authWords, state.muted, state.route, now)
            event == CallEvent.HangupPressed ->
                end(call, EndReason.LOCAL_HANGUP, null, listOf(CallEffect.HangUp(call.callId)))
            event is CallEvent.RemoteHungUp && event.callId == call.callId ->
                end(call, EndReason.REMOTE_HANGUP, null, emptyList())
            event is CallEvent.Failed && event.callId == call.callId ->
                end(call, EndReason.FAILED, null, emptyList())
            event == CallEvent.MuteToggled ->
                CallTransition(state.copy(muted = !state.muted), listOf(CallEffect.SetMuted(!state.muted)))
            event is CallEvent.RouteSelected ->
                CallTransition(state.copy(route = event.route), listOf(CallEffect.SetAudioRoute(event.route)))
            event is CallEvent.RouteChanged -> CallTransition(state.copy(route = event.route), emptyList())
            else -> stay(state)
        }
    }

    private fun fromActive(state: CallState.Active, event: CallEvent, now: Long): CallTransition {
        val call = state.call
        val duration = (now - state.connectedAtMillis).coerceAtLeast(0)
        return when {
            event == CallEvent.HangupPressed ->
                end(call, EndReason.LOCAL_HANGUP, duration, listOf(CallEffect.HangUp(call.callId)))
            event is CallEvent.RemoteHungUp && event.callId == call.callId ->
                end(call, EndReason.REMOTE_HANGUP, duration, emptyList())
            event is CallEvent.Failed && event.callId == call.callId ->
                end(call, EndReason.FAILED, duration, emptyList())
            event == CallEvent.AuthConfirmed && state.authWords != null ->
                CallTransition(state.copy(authConfirmed = true), emptyList())
            event == CallEvent.MuteToggled ->
                CallTransition(state.copy(muted = !state.muted), listOf(CallEffect.SetMuted(!state.muted)))
            event is CallEvent.RouteSelected ->
                CallTransition(state.copy(route = event.route), listOf(CallEffect.SetAudioRoute(event.route)))
            event is CallEvent.RouteChanged -> CallTransition(state.copy(route = event.route), emptyList())
            else -> stay(state)
        }
    }

    private fun connect(
        call: CallInfo,
        authWords: String?,
        muted: Boolean,
        route: AudioRoute,
        now: Long,
    ): CallTransition {
        if (call.kind == CallKind.SECURE && authWords.isNullOrBlank()) {
            return end(call, EndReason.NOT_AUTHENTICATED, null, listOf(CallEffect.HangUp(call.callId)))
        }
        val words = if (call.kind == CallKind.SECURE) authWords else null
        return CallTransition(
            CallState.Active(call, now, words, authConfirmed = false, muted = muted, route = route),
            listOf(CallEffect.ReportActive(call.callId)),
        )
    }

    private fun end(call: CallInfo, reason: EndReason, durationMillis: Long?, first: List<CallEffect>): CallTransition =
        CallTransition(
            CallState.Ended(call, reason, durationMillis),
            first + CallEffect.ReportEnded(call, reason) + CallEffect.LeaveForeground,
        )

    private fun currentRoute(state: CallState): AudioRoute = when (state) {
        is CallState.Dialing -> state.route
        is CallState.RingingOut -> state.route
        is CallState.Connecting -> state.route
        is CallState.Active -> state.route
        else -> AudioRoute.EARPIECE
    }

    private fun stay(state: CallState) = CallTransition(state, emptyList())
}

/**
 * Holds the current call state and runs each event through [CallMachine],
 * handing the effects to [effects] in order. Not thread-safe by design: `:app`
 * calls it from the main thread only (core callbacks are posted there), so the
 * order of events is the order they happened in.
 */
class CallController(private val effects: CallEffects, private val clock: () -> Long) {
    /** The state after the last event. */
    var state: CallState = CallState.Idle
        private set

    private val observers = mutableListOf<(CallState) -> Unit>()

    /** Calls [observer] with the current state now and after every change, until the handle is closed. */
    fun observe(observer: (CallState) -> Unit): AutoCloseable {
        observers += observer
        observer(state)
        return AutoCloseable { observers -= observer }
    }

    /** Applies [event]: moves to the next state, then performs its effects. */
    fun handle(event: CallEvent) {
        val transition = CallMachine.transition(state, event, clock())
        val changed = transition.state != state
        state = transition.state
        transition.effects.forEach(effects::perform)
        if (changed) observers.forEach { it(state) }
    }
}
