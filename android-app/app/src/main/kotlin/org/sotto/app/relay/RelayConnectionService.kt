package org.sotto.app.relay

import android.app.PendingIntent
import android.content.Context
import android.content.Intent
import android.content.pm.ServiceInfo
import android.os.Build
import androidx.core.app.ServiceCompat
import androidx.lifecycle.LifecycleService
import androidx.lifecycle.lifecycleScope
import kotlinx.coroutines.launch
import org.sotto.app.R
import org.sotto.app.notify.Notifications
import org.sotto.app.sotto
import org.sotto.app.ui.MainActivity

/**
 * Keeps the process alive while the app is unlocked and a relay is set, so
 * the core's relay agent (which runs on the core's own runtime) stays
 * connected and messages and calls arrive without a push service. Sotto uses
 * no Google push, hence a foreground service of type `specialUse` (declared
 * with its reason in the manifest). The system starts it when
 * [start] asks; it stops itself when the app locks (the core closes, so there
 * is nothing to keep connected).
 */
class RelayConnectionService : LifecycleService() {
    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        super.onStartCommand(intent, flags, startId)
        val open = PendingIntent.getActivity(this, 0, Intent(this, MainActivity::class.java), PendingIntent.FLAG_IMMUTABLE)
        val notification = sotto.notifications.ongoing(Notifications.CHANNEL_ONGOING, getString(R.string.relay_connected_notification), open)
        ServiceCompat.startForeground(
            this,
            NOTIFICATION_ID,
            notification,
            if (Build.VERSION.SDK_INT >= 34) ServiceInfo.FOREGROUND_SERVICE_TYPE_SPECIAL_USE else 0,
        )
        lifecycleScope.launch {
            sotto.core.collect { core -> if (core == null) stopSelf() }
        }
        return START_STICKY
    }

    companion object {
        private const val NOTIFICATION_ID = 10

        /** Starts the service when a relay is configured. */
        fun start(context: Context) {
            if (context.sotto.settings.settings.value.relay == null) return
            context.startForegroundService(Intent(context, RelayConnectionService::class.java))
        }
    }
}
