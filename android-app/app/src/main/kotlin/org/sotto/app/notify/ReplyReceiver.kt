package org.sotto.app.notify

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import androidx.core.app.RemoteInput
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import org.sotto.app.sms.reachabilityFor
import org.sotto.app.sotto
import org.sotto.logic.transport.TransportPolicy

/**
 * The system calls this when the user answers a message notification with
 * direct reply. It reads the typed text and hands it to the core by the
 * same transport rule as the composer; a reply needing a choice (relay or
 * encrypted SMS) waits in the outbox for the relay.
 */
class ReplyReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        val conversation = intent.getStringExtra(EXTRA_CONVERSATION) ?: return
        val text = RemoteInput.getResultsFromIntent(intent)?.getCharSequence(KEY_TEXT)?.toString()?.takeIf { it.isNotBlank() } ?: return
        val graph = context.sotto
        val pending = goAsync()
        graph.scope.launch(Dispatchers.IO) {
            try {
                val core = graph.coreOrOpen() ?: return@launch graph.notifications.sendFailed()
                val record = core.conversation(conversation)
                val decision = TransportPolicy.decide(reachabilityFor(graph, record.isSottoContact), graph.settings.settings.value.smsFallback)
                val transport = TransportPolicy.headless(decision) ?: return@launch graph.notifications.sendFailed()
                core.sendText(conversation, text, transport)
                core.markRead(conversation)
                graph.notifications.cancel(conversation)
            } finally {
                pending.finish()
            }
        }
    }

    companion object {
        const val KEY_TEXT = "reply"
        const val EXTRA_CONVERSATION = "conversation"
    }
}
