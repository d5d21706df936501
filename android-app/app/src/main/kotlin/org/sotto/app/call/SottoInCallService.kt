package org.sotto.app.call

import android.content.Intent
import android.telecom.Call
import android.telecom.CallAudioState
import android.telecom.InCallService
import org.sotto.app.sotto
import org.sotto.app.ui.InCallActivity
import org.sotto.logic.call.CallEvent
import org.sotto.logic.call.CallKind
import org.sotto.logic.call.CallPeer

/**
 * Telecom binds this while Sotto is the default dialer (ROLE_DIALER) and a
 * carrier call exists; it is the in-call UI for ordinary calls (our own
 * self-managed calls do not come here). Each Telecom callback becomes a
 * [CallEvent] for the same state machine the secure calls use; the in-call
 * screen is [InCallActivity].
 */
class SottoInCallService : InCallService() {
    private val callback = object : Call.Callback() {
        override fun onStateChanged(call: Call, state: Int) = report(call, state)
    }

    override fun onCreate() {
        super.onCreate()
        sotto.telecom.inCallService = this
    }

    override fun onDestroy() {
        sotto.telecom.inCallService = null
        super.onDestroy()
    }

    override fun onCallAdded(call: Call) {
        val id = idOf(call)
        sotto.telecom.carrierCalls[id] = call
        call.registerCallback(callback)
        val number = call.details.handle?.schemeSpecificPart
        val peer = CallPeer(call.details.callerDisplayName?.takeIf { it.isNotBlank() } ?: number.orEmpty(), number)
        val calls = sotto.calls
        val incoming = if (android.os.Build.VERSION.SDK_INT >= 29) {
            call.details.callDirection == Call.Details.DIRECTION_INCOMING
        } else {
            callState(call) == Call.STATE_RINGING
        }
        if (incoming) {
            calls.handle(CallEvent.IncomingCall(id, peer, CallKind.CARRIER))
        } else {
            // Telecom placed it (from our dialer or another app); the machine learns of it
            // here, and its Place effect for a carrier call is a no-op (see PlatformCallEffects).
            calls.handle(CallEvent.PlaceRequested(id, peer, CallKind.CARRIER))
        }
        report(call, callState(call))
        startActivity(Intent(this, InCallActivity::class.java).addFlags(Intent.FLAG_ACTIVITY_NEW_TASK))
    }

    override fun onCallRemoved(call: Call) {
        call.unregisterCallback(callback)
        sotto.telecom.carrierCalls.remove(idOf(call))
        sotto.calls.handle(CallEvent.RemoteHungUp(idOf(call)))
    }

    @Deprecated("Deprecated in API 34; still delivered")
    override fun onCallAudioStateChanged(audioState: CallAudioState) {
        sotto.calls.handle(CallEvent.RouteChanged(routeOf(audioState.route)))
    }

    private fun report(call: Call, state: Int) {
        val id = idOf(call)
        val event = when (state) {
            Call.STATE_DIALING -> CallEvent.RemoteRinging(id)
            Call.STATE_ACTIVE -> CallEvent.MediaConnected(id, authWords = null)
            Call.STATE_DISCONNECTED ->
                if (call.details.disconnectCause?.code == android.telecom.DisconnectCause.BUSY) {
                    CallEvent.RemoteBusy(id)
                } else {
                    CallEvent.RemoteHungUp(id)
                }
            else -> null
        }
        event?.let(sotto.calls::handle)
    }

    @Suppress("DEPRECATION")
    private fun callState(call: Call): Int =
        if (android.os.Build.VERSION.SDK_INT >= 31) call.details.state else call.state

    companion object {
        /** A stable id for a carrier call while it lasts (Telecom gives none before API 34). */
        fun idOf(call: Call): String = "carrier-" + System.identityHashCode(call)
    }
}
