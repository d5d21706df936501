package org.sotto.app.call

import android.content.Context
import android.content.Intent
import android.telecom.CallAudioState
import android.telecom.Connection
import org.sotto.app.sotto
import org.sotto.app.ui.InCallActivity
import org.sotto.logic.call.AudioRoute
import org.sotto.logic.call.CallEvent

/**
 * One secure call as Telecom sees it (self-managed). Telecom calls these
 * methods when the user acts through system UI (a Bluetooth headset's
 * button, a car, a watch) or the audio route changes; each becomes a
 * [CallEvent] for the state machine, which does the rest.
 */
class SottoConnection(private val context: Context, val callId: String) : Connection() {
    init {
        connectionProperties = PROPERTY_SELF_MANAGED
        audioModeIsVoip = true
        // Mute only: Sotto calls have no hold (the media path has no way to pause both directions yet).
        connectionCapabilities = CAPABILITY_MUTE
    }

    /** Telecom asks a self-managed app to show its own incoming-call UI. */
    override fun onShowIncomingCallUi() {
        context.startActivity(Intent(context, InCallActivity::class.java).addFlags(Intent.FLAG_ACTIVITY_NEW_TASK))
    }

    override fun onAnswer() = context.sotto.calls.handle(CallEvent.AnswerPressed)

    override fun onReject() = context.sotto.calls.handle(CallEvent.RejectPressed)

    override fun onDisconnect() = context.sotto.calls.handle(CallEvent.HangupPressed)

    override fun onAbort() = context.sotto.calls.handle(CallEvent.HangupPressed)

    @Deprecated("Deprecated in API 34; still the callback below it")
    override fun onCallAudioStateChanged(state: CallAudioState) {
        context.sotto.calls.handle(CallEvent.RouteChanged(routeOf(state.route)))
    }
}

/** Telecom's route constant as the state machine's route. */
fun routeOf(route: Int): AudioRoute = when (route) {
    CallAudioState.ROUTE_SPEAKER -> AudioRoute.SPEAKER
    CallAudioState.ROUTE_BLUETOOTH -> AudioRoute.BLUETOOTH
    CallAudioState.ROUTE_WIRED_HEADSET -> AudioRoute.WIRED_HEADSET
    else -> AudioRoute.EARPIECE
}

/** The state machine's route as Telecom's route constant. */
fun telecomRoute(route: AudioRoute): Int = when (route) {
    AudioRoute.SPEAKER -> CallAudioState.ROUTE_SPEAKER
    AudioRoute.BLUETOOTH -> CallAudioState.ROUTE_BLUETOOTH
    AudioRoute.WIRED_HEADSET -> CallAudioState.ROUTE_WIRED_HEADSET
    AudioRoute.EARPIECE -> CallAudioState.ROUTE_EARPIECE
}
