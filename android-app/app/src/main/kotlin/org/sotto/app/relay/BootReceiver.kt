package org.sotto.app.relay

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import kotlinx.coroutines.launch
import org.sotto.app.sotto

/**
 * The system calls this once after the phone booted and the user unlocked
 * it. Without a passphrase lock the Keystore can unwrap the database key on
 * its own, so the core opens and the relay connection starts; with one, the
 * app stays locked until the user opens it.
 */
class BootReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        if (intent.action != Intent.ACTION_BOOT_COMPLETED) return
        val graph = context.sotto
        if (graph.needsPassphrase()) return
        val pending = goAsync()
        graph.scope.launch {
            try {
                if (graph.coreOrOpen() != null) RelayConnectionService.start(context)
            } finally {
                pending.finish()
            }
        }
    }
}
