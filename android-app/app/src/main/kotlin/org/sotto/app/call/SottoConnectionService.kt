package org.sotto.app.call

import android.telecom.Connection
import android.telecom.ConnectionRequest
import android.telecom.ConnectionService
import android.telecom.DisconnectCause
import android.telecom.PhoneAccountHandle
import org.sotto.app.sotto
import org.sotto.logic.call.CallEvent

/**
 * Telecom binds this for Sotto's self-managed account when the app calls
 * `TelecomManager.placeCall` (outgoing secure call) or `addNewIncomingCall`
 * (a secure call offer from the core). It creates the [SottoConnection] and
 * reports failures to the call state machine; it decides nothing else.
 */
class SottoConnectionService : ConnectionService() {
    override fun onCreateOutgoingConnection(handle: PhoneAccountHandle?, request: ConnectionRequest): Connection =
        newConnection(request)

    override fun onCreateIncomingConnection(handle: PhoneAccountHandle?, request: ConnectionRequest): Connection =
        newConnection(request).apply { setRinging() }

    override fun onCreateOutgoingConnectionFailed(handle: PhoneAccountHandle?, request: ConnectionRequest) =
        failed(request)

    override fun onCreateIncomingConnectionFailed(handle: PhoneAccountHandle?, request: ConnectionRequest) =
        failed(request)

    private fun newConnection(request: ConnectionRequest): SottoConnection {
        val callId = request.extras.getString(EXTRA_CALL_ID).orEmpty()
        val connection = SottoConnection(applicationContext, callId)
        connection.setAddress(request.address, android.telecom.TelecomManager.PRESENTATION_ALLOWED)
        connection.setCallerDisplayName(request.extras.getString(EXTRA_DISPLAY_NAME), android.telecom.TelecomManager.PRESENTATION_ALLOWED)
        sotto.telecom.connection = connection
        return connection
    }

    private fun failed(request: ConnectionRequest) {
        // Telecom refused (another call in progress, too many calls): the call cannot go on.
        val callId = request.extras.getString(EXTRA_CALL_ID) ?: return
        sotto.calls.handle(CallEvent.Failed(callId))
    }

    companion object {
        /** Extra with the core's call id. */
        const val EXTRA_CALL_ID = "org.sotto.app.CALL_ID"

        /** Extra with the name to show. */
        const val EXTRA_DISPLAY_NAME = "org.sotto.app.DISPLAY_NAME"

        /** How Telecom is told a call ended. */
        fun disconnectCause(local: Boolean, busy: Boolean, failed: Boolean): DisconnectCause = when {
            failed -> DisconnectCause(DisconnectCause.ERROR)
            busy -> DisconnectCause(DisconnectCause.BUSY)
            local -> DisconnectCause(DisconnectCause.LOCAL)
            else -> DisconnectCause(DisconnectCause.REMOTE)
        }
    }
}
