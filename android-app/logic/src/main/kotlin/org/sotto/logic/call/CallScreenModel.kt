/**
 * What the call screen draws for a [CallState]: which line of status, which
 * buttons, the timer and the authentication string. The screen in `:app`
 * turns [CallStatus] into a localized string and draws the rest as is.
 */
package org.sotto.logic.call

import java.util.Locale

/** The status line under the caller's name. */
enum class CallStatus { DIALING, RINGING_OUT, RINGING_IN, CONNECTING, ACTIVE, ENDED }

/** Everything the call screen shows. */
data class CallScreenModel(
    val peerName: String,
    val status: CallStatus,
    val secure: Boolean,
    /** Elapsed talk time as `m:ss` or `h:mm:ss`, only while active or after an answered call ended. */
    val timer: String?,
    /** The two words to read aloud; only for an active secure call. */
    val authWords: String?,
    /** True once the users confirmed the words matched. */
    val authConfirmed: Boolean,
    val endReason: EndReason?,
    val showAnswerAndReject: Boolean,
    val showHangup: Boolean,
    val showInCallControls: Boolean,
    val muted: Boolean,
    val route: AudioRoute,
) {
    companion object {
        /** The model for [state] at [nowMillis]; null for [CallState.Idle] (no call screen). */
        fun of(state: CallState, nowMillis: Long): CallScreenModel? = when (state) {
            CallState.Idle -> null
            is CallState.Dialing -> outgoing(state.call, CallStatus.DIALING, state.muted, state.route)
            is CallState.RingingOut -> outgoing(state.call, CallStatus.RINGING_OUT, state.muted, state.route)
            is CallState.RingingIn -> base(state.call, CallStatus.RINGING_IN).copy(showAnswerAndReject = true)
            is CallState.Connecting -> outgoing(state.call, CallStatus.CONNECTING, state.muted, state.route)
            is CallState.Active -> outgoing(state.call, CallStatus.ACTIVE, state.muted, state.route).copy(
                timer = formatCallDuration(nowMillis - state.connectedAtMillis),
                authWords = state.authWords,
                authConfirmed = state.authConfirmed,
            )
            is CallState.Ended -> base(state.call, CallStatus.ENDED).copy(
                endReason = state.reason,
                timer = state.durationMillis?.let(::formatCallDuration),
            )
        }

        private fun base(call: CallInfo, status: CallStatus) = CallScreenModel(
            peerName = call.peer.displayName,
            status = status,
            secure = call.kind == CallKind.SECURE,
            timer = null,
            authWords = null,
            authConfirmed = false,
            endReason = null,
            showAnswerAndReject = false,
            showHangup = false,
            showInCallControls = false,
            muted = false,
            route = AudioRoute.EARPIECE,
        )

        private fun outgoing(call: CallInfo, status: CallStatus, muted: Boolean, route: AudioRoute) =
            base(call, status).copy(showHangup = true, showInCallControls = true, muted = muted, route = route)
    }
}

/** `m:ss` below an hour, `h:mm:ss` from then on; negative spans (a clock step back) show as `0:00`. */
fun formatCallDuration(millis: Long): String {
    val totalSeconds = millis.coerceAtLeast(0) / 1000
    val hours = totalSeconds / 3600
    val minutes = (totalSeconds % 3600) / 60
    val seconds = totalSeconds % 60
    return if (hours > 0) {
        String.format(Locale.ROOT, "%d:%02d:%02d", hours, minutes, seconds)
    } else {
        String.format(Locale.ROOT, "%d:%02d", minutes, seconds)
    }
}
