package org.sotto.app.call

import android.content.Context
import android.content.Intent
import android.media.AudioAttributes
import android.media.RingtoneManager
import android.net.Uri
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.os.VibrationEffect
import android.os.Vibrator
import android.telecom.TelecomManager
import android.telecom.VideoProfile
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import org.sotto.app.AppGraph
import org.sotto.logic.call.CallEffect
import org.sotto.logic.call.CallEffects
import org.sotto.logic.call.CallEvent
import org.sotto.logic.call.CallInfo
import org.sotto.logic.call.CallKind
import org.sotto.logic.call.CallMachine
import org.sotto.logic.call.EndReason

/**
 * Carries out the call state machine's effects on the platform: the core
 * for secure calls, Telecom ([TelecomBridge]) for both kinds, the ringer and
 * the foreground service. It has no rules of its own: when to ring, when to
 * hang up and what to tell Telecom all come from `CallMachine`.
 *
 * For a carrier call Telecom owns placing, ringback and time-outs, so those
 * effects do nothing here; for a secure call the core sent the offer before
 * the machine heard of the call, so `Place` only registers it with Telecom.
 */
class PlatformCallEffects(private val context: Context, private val graph: AppGraph) : CallEffects {
    private val main = Handler(Looper.getMainLooper())
    private var ringtone: android.media.Ringtone? = null
    private var current: CallInfo? = null

    override fun perform(effect: CallEffect) {
        when (effect) {
            is CallEffect.Place -> {
                current = effect.call
                if (effect.call.kind == CallKind.SECURE) placeSecure(effect.call)
            }
            is CallEffect.Answer -> if (isSecure()) {
                core { answerCall(effect.callId) }
                graph.telecom.connection?.setActive()
            } else {
                graph.telecom.carrierCalls[effect.callId]?.answer(VideoProfile.STATE_AUDIO_ONLY)
            }
            is CallEffect.Reject ->
                if (isSecure()) core { rejectCall(effect.callId) } else graph.telecom.carrierCalls[effect.callId]?.reject(false, null)
            is CallEffect.HangUp ->
                if (isSecure()) core { hangUp(effect.callId) } else graph.telecom.carrierCalls[effect.callId]?.disconnect()
            // A second caller: a secure one hears busy through the core; a carrier one is declined.
            is CallEffect.SendBusy -> {
                val waiting = graph.telecom.carrierCalls[effect.callId]
                if (waiting != null) waiting.reject(false, null) else busySecure(effect.callId)
            }
            CallEffect.StartRinging -> startRinging()
            CallEffect.StopRinging -> stopRinging()
            // The core plays the ring-back tone into the call audio for secure calls; the network does for carrier calls.
            CallEffect.StartRingback, CallEffect.StopRingback -> Unit
            is CallEffect.StartRingTimer -> if (isSecure()) {
                main.postDelayed({ graph.calls.handle(CallEvent.RingTimeout(effect.callId)) }, CallMachine.RING_TIMEOUT_MILLIS)
            }
            is CallEffect.SetMuted -> if (isSecure()) {
                current?.let { call -> core { setMuted(call.callId, effect.muted) } }
            } else {
                graph.telecom.inCallService?.setMuted(effect.muted)
            }
            is CallEffect.SetAudioRoute -> if (isSecure()) {
                graph.telecom.connection?.setAudioRoute(telecomRoute(effect.route))
            } else {
                graph.telecom.inCallService?.setAudioRoute(telecomRoute(effect.route))
            }
            is CallEffect.ReportActive -> if (isSecure()) graph.telecom.connection?.setActive()
            is CallEffect.ReportEnded -> {
                if (effect.call.kind == CallKind.SECURE) {
                    graph.telecom.connection?.let { c ->
                        c.setDisconnected(
                            SottoConnectionService.disconnectCause(
                                local = effect.reason == EndReason.LOCAL_HANGUP || effect.reason == EndReason.REJECTED,
                                busy = effect.reason == EndReason.BUSY,
                                failed = effect.reason == EndReason.FAILED || effect.reason == EndReason.NOT_AUTHENTICATED,
                            ),
                        )
                        c.destroy()
                    }
                    graph.telecom.connection = null
                }
                current = null
            }
            is CallEffect.EnterForeground -> {
                current = effect.call
                if (effect.call.kind == CallKind.SECURE) {
                    if (effect.call.direction == org.sotto.logic.call.CallDirection.INCOMING) addIncomingSecure(effect.call)
                    context.startForegroundService(Intent(context, CallForegroundService::class.java))
                }
            }
            CallEffect.LeaveForeground -> context.stopService(Intent(context, CallForegroundService::class.java))
        }
    }

    private fun isSecure() = current?.kind == CallKind.SECURE

    /** Declines a second secure caller through the core; the current call is not touched. */
    private fun busySecure(callId: String) {
        graph.scope.launch(Dispatchers.IO) { runCatching { graph.core.value?.hangUp(callId) } }
    }

    /** Runs a core call off the main thread; a failure ends the call through the machine. */
    private fun core(block: org.sotto.logic.core.SottoCore.() -> Unit) {
        val callId = current?.callId
        graph.scope.launch(Dispatchers.IO) {
            val core = graph.core.value
            val ok = core != null && runCatching { core.block() }.isSuccess
            if (!ok && callId != null) main.post { graph.calls.handle(CallEvent.Failed(callId)) }
        }
    }

    /**
     * Asks Telecom for a self-managed outgoing call. The core already sent the
     * offer (it names the call: the screen calls `placeCall` first and then
     * tells the machine), so this only gives the call Telecom's audio focus,
     * Bluetooth and system UI.
     */
    private fun placeSecure(call: CallInfo) {
        val extras = Bundle().apply {
            putParcelable(TelecomManager.EXTRA_PHONE_ACCOUNT_HANDLE, graph.telecom.accountHandle)
            putBundle(
                TelecomManager.EXTRA_OUTGOING_CALL_EXTRAS,
                Bundle().apply {
                    putString(SottoConnectionService.EXTRA_CALL_ID, call.callId)
                    putString(SottoConnectionService.EXTRA_DISPLAY_NAME, call.peer.displayName)
                },
            )
        }
        graph.telecom.registerAccount()
        try {
            context.getSystemService(TelecomManager::class.java)
                .placeCall(Uri.fromParts("sotto", call.callId, null), extras)
        } catch (e: SecurityException) {
            graph.calls.handle(CallEvent.Failed(call.callId))
        }
    }

    /** Tells Telecom about an incoming secure call; it answers with `onShowIncomingCallUi`. */
    private fun addIncomingSecure(call: CallInfo) {
        graph.telecom.registerAccount()
        val extras = Bundle().apply {
            putString(SottoConnectionService.EXTRA_CALL_ID, call.callId)
            putString(SottoConnectionService.EXTRA_DISPLAY_NAME, call.peer.displayName)
        }
        context.getSystemService(TelecomManager::class.java).addNewIncomingCall(graph.telecom.accountHandle, extras)
    }

    private fun startRinging() {
        val uri = RingtoneManager.getActualDefaultRingtoneUri(context, RingtoneManager.TYPE_RINGTONE) ?: return
        ringtone = RingtoneManager.getRingtone(context, uri)?.apply {
            audioAttributes = AudioAttributes.Builder()
                .setUsage(AudioAttributes.USAGE_NOTIFICATION_RINGTONE)
                .setContentType(AudioAttributes.CONTENT_TYPE_SONIFICATION)
                .build()
            play()
        }
        context.getSystemService(Vibrator::class.java)
            ?.vibrate(VibrationEffect.createWaveform(longArrayOf(0, 800, 800), 0))
    }

    private fun stopRinging() {
        ringtone?.stop()
        ringtone = null
        context.getSystemService(Vibrator::class.java)?.cancel()
    }
}
