package org.sotto.app.call

import android.app.PendingIntent
import android.app.Service
import android.content.Intent
import android.content.pm.ServiceInfo
import android.os.Build
import android.os.IBinder
import androidx.core.app.ServiceCompat
import org.sotto.app.R
import org.sotto.app.notify.Notifications
import org.sotto.app.sotto
import org.sotto.app.ui.InCallActivity

/**
 * Started by the call state machine's `EnterForeground` effect for a secure
 * call and stopped by `LeaveForeground`. It keeps the process (and so the
 * core's audio engine, which captures the microphone in this process) alive
 * while the screen is off, with the types the platform requires for that:
 * `phoneCall` and `microphone`.
 */
class CallForegroundService : Service() {
    override fun onBind(intent: Intent?): IBinder? = null

    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        val open = PendingIntent.getActivity(this, 0, Intent(this, InCallActivity::class.java), PendingIntent.FLAG_IMMUTABLE)
        val notification = sotto.notifications.ongoing(Notifications.CHANNEL_CALLS, getString(R.string.call_ongoing_notification), open)
        val types = if (Build.VERSION.SDK_INT >= 30) {
            ServiceInfo.FOREGROUND_SERVICE_TYPE_PHONE_CALL or ServiceInfo.FOREGROUND_SERVICE_TYPE_MICROPHONE
        } else {
            ServiceInfo.FOREGROUND_SERVICE_TYPE_PHONE_CALL
        }
        ServiceCompat.startForeground(this, NOTIFICATION_ID, notification, types)
        return START_NOT_STICKY
    }

    private companion object {
        const val NOTIFICATION_ID = 20
    }
}
