package org.sotto.app.sms

import android.app.Service
import android.content.Intent
import android.os.IBinder
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import org.sotto.app.sotto
import org.sotto.logic.transport.TransportPolicy

/**
 * The phone app starts this (`RESPOND_VIA_MESSAGE`, headless, no UI) when
 * the user declines a carrier call with a quick text; the default SMS app
 * must provide it. The recipient is in the `smsto:` data, the text in
 * `EXTRA_TEXT`. It hands the text to the same path as the composer; while
 * the app is locked the core cannot encrypt, so the reply goes as the plain
 * SMS the user asked the phone app for.
 */
class RespondViaMessageService : Service() {
    override fun onBind(intent: Intent?): IBinder? = null

    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        val number = intent?.data?.schemeSpecificPart?.substringBefore('?')
        val text = intent?.getStringExtra(Intent.EXTRA_TEXT)
        if (intent?.action != "android.intent.action.RESPOND_VIA_MESSAGE" || number.isNullOrBlank() || text.isNullOrBlank()) {
            stopSelf(startId)
            return START_NOT_STICKY
        }
        val graph = sotto
        graph.scope.launch(Dispatchers.IO) {
            try {
                val core = graph.coreOrOpen()
                if (core == null) {
                    graph.smsSender.sendPlainUntracked(number, text)
                } else {
                    val conversation = core.conversationForNumber(number, null)
                    val record = core.conversation(conversation)
                    val decision = TransportPolicy.decide(
                        reachabilityFor(graph, record.isSottoContact),
                        graph.settings.settings.value.smsFallback,
                    )
                    val transport = TransportPolicy.headless(decision)
                    if (transport == null) graph.notifications.sendFailed() else core.sendText(conversation, text, transport)
                }
            } finally {
                stopSelf(startId)
            }
        }
        return START_NOT_STICKY
    }
}
