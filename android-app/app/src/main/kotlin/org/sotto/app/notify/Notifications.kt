package org.sotto.app.notify

import android.Manifest
import android.annotation.SuppressLint
import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.net.Uri
import androidx.core.app.NotificationCompat
import androidx.core.app.NotificationManagerCompat
import androidx.core.app.RemoteInput
import org.sotto.app.R
import org.sotto.app.sotto
import org.sotto.app.ui.MainActivity
import org.sotto.logic.calllog.MissedCallContent
import org.sotto.logic.notify.NotificationContent

/**
 * Posts the app's notifications. What a message notification shows comes
 * from `NotificationContent` (privacy setting, app lock); this only builds
 * the platform objects: channels, the direct-reply action
 * ([ReplyReceiver]), the call notifications of the foreground services.
 */
class Notifications(private val context: Context) {
    private val manager = NotificationManagerCompat.from(context)

    /** Creates the channels (idempotent); called when the process starts. */
    fun createChannels() {
        val system = context.getSystemService(NotificationManager::class.java)
        system.createNotificationChannels(
            listOf(
                NotificationChannel(CHANNEL_MESSAGES, context.getString(R.string.channel_messages), NotificationManager.IMPORTANCE_HIGH),
                NotificationChannel(CHANNEL_CALLS, context.getString(R.string.channel_calls), NotificationManager.IMPORTANCE_HIGH),
                NotificationChannel(CHANNEL_ONGOING, context.getString(R.string.channel_ongoing), NotificationManager.IMPORTANCE_LOW),
            ),
        )
    }

    /** A new message in [conversationId]; the text is fetched from the core and shown as the settings allow. */
    fun message(conversationId: String) {
        val graph = context.sotto
        val core = graph.core.value
        val record = core?.conversation(conversationId)
        val last = core?.messages(conversationId, 1, null)?.firstOrNull()
        val content = NotificationContent.forMessage(
            graph.settings.settings.value.notificationPrivacy,
            appLocked = core == null,
            sender = record?.title ?: "",
            body = last?.body ?: "",
        )
        val builder = NotificationCompat.Builder(context, CHANNEL_MESSAGES)
            .setSmallIcon(R.drawable.ic_notification)
            .setContentTitle(content.title ?: context.getString(R.string.notification_new_message))
            .setContentText(content.text ?: context.getString(R.string.notification_open_to_read))
            .setCategory(NotificationCompat.CATEGORY_MESSAGE)
            .setVisibility(NotificationCompat.VISIBILITY_PRIVATE)
            .setAutoCancel(true)
            .setContentIntent(openConversation(conversationId))
        if (content.replyAction) {
            val input = RemoteInput.Builder(ReplyReceiver.KEY_TEXT).setLabel(context.getString(R.string.action_reply)).build()
            val reply = PendingIntent.getBroadcast(
                context,
                conversationId.hashCode(),
                Intent(context, ReplyReceiver::class.java)
                    .setData(Uri.fromParts("sotto-conversation", conversationId, null))
                    .putExtra(ReplyReceiver.EXTRA_CONVERSATION, conversationId),
                // Mutable: RemoteInput writes the typed text into it.
                PendingIntent.FLAG_UPDATE_CURRENT or PendingIntent.FLAG_MUTABLE,
            )
            builder.addAction(
                NotificationCompat.Action.Builder(R.drawable.ic_notification, context.getString(R.string.action_reply), reply)
                    .addRemoteInput(input)
                    .setAllowGeneratedReplies(false)
                    .build(),
            )
        }
        post(conversationId.hashCode(), builder.build())
    }

    /** A secure call from [conversationId] was missed; the caller's name shows as the settings allow. */
    fun missedCall(conversationId: String) {
        val graph = context.sotto
        val core = graph.core.value
        val caller = runCatching { core?.conversation(conversationId)?.title }.getOrNull()
        val content = MissedCallContent.of(graph.settings.settings.value.notificationPrivacy, appLocked = core == null, caller = caller)
        post(
            ("missed:" + conversationId).hashCode(),
            NotificationCompat.Builder(context, CHANNEL_CALLS)
                .setSmallIcon(R.drawable.ic_notification)
                .setContentTitle(content.caller ?: context.getString(R.string.notification_missed_call))
                .setContentText(context.getString(R.string.notification_missed_call_text))
                .setCategory(NotificationCompat.CATEGORY_MISSED_CALL)
                .setVisibility(NotificationCompat.VISIBILITY_PRIVATE)
                .setAutoCancel(true)
                // The conversation has the secure call button: calling back is one tap from there.
                .setContentIntent(openConversation(if (content.opensConversation) conversationId else null))
                .build(),
        )
    }

    /** A message came while locked: say only that. */
    fun lockedMessage() = post(
        ID_LOCKED,
        NotificationCompat.Builder(context, CHANNEL_MESSAGES)
            .setSmallIcon(R.drawable.ic_notification)
            .setContentTitle(context.getString(R.string.notification_new_message))
            .setContentText(context.getString(R.string.notification_unlock_to_read))
            .setContentIntent(openConversation(null))
            .setAutoCancel(true)
            .build(),
    )

    /**
     * A number whose key is unknown asks to talk by Sotto. It is a request: the sender of an SMS can be forged, so the
     * text says the number is not proven and the app answers only if the user accepts.
     */
    fun strangerRequest(number: String) = post(
        ID_STRANGER,
        NotificationCompat.Builder(context, CHANNEL_MESSAGES)
            .setSmallIcon(R.drawable.ic_notification)
            .setContentTitle(context.getString(R.string.notification_stranger_title))
            .setContentText(context.getString(R.string.notification_stranger_text, number))
            .setContentIntent(openConversation(null))
            .setAutoCancel(true)
            .build(),
    )

    /** An MMS could not be downloaded or read (the carrier failed, or its PDU was damaged). */
    fun mmsFailed() = post(
        ID_MMS,
        NotificationCompat.Builder(context, CHANNEL_MESSAGES)
            .setSmallIcon(R.drawable.ic_notification)
            .setContentTitle(context.getString(R.string.notification_mms_title))
            .setContentText(context.getString(R.string.notification_mms_text))
            .build(),
    )

    /** A quick reply could not be sent. */
    fun sendFailed() = post(
        ID_SEND_FAILED,
        NotificationCompat.Builder(context, CHANNEL_MESSAGES)
            .setSmallIcon(R.drawable.ic_notification)
            .setContentTitle(context.getString(R.string.notification_send_failed))
            .setContentIntent(openConversation(null))
            .build(),
    )

    /** The notification of a foreground service ([channel]: calls or ongoing). */
    fun ongoing(channel: String, title: String, content: PendingIntent?): Notification =
        NotificationCompat.Builder(context, channel)
            .setSmallIcon(R.drawable.ic_notification)
            .setContentTitle(title)
            .setOngoing(true)
            .setContentIntent(content)
            .setCategory(if (channel == CHANNEL_CALLS) NotificationCompat.CATEGORY_CALL else NotificationCompat.CATEGORY_SERVICE)
            .build()

    /** Removes the notification of [conversationId] (it was read or replied to). */
    fun cancel(conversationId: String) = manager.cancel(conversationId.hashCode())

    @SuppressLint("MissingPermission") // checked just below, for the API levels that have it
    private fun post(id: Int, notification: Notification) {
        // Without POST_NOTIFICATIONS (Android 13+) the flow in the settings screen asks for it.
        if (context.checkSelfPermission(Manifest.permission.POST_NOTIFICATIONS) != PackageManager.PERMISSION_GRANTED &&
            android.os.Build.VERSION.SDK_INT >= 33
        ) {
            return
        }
        manager.notify(id, notification)
    }

    private fun openConversation(conversationId: String?): PendingIntent = PendingIntent.getActivity(
        context,
        conversationId?.hashCode() ?: 0,
        Intent(context, MainActivity::class.java)
            .setAction(MainActivity.ACTION_OPEN_CONVERSATION)
            .putExtra(MainActivity.EXTRA_CONVERSATION, conversationId),
        PendingIntent.FLAG_UPDATE_CURRENT or PendingIntent.FLAG_IMMUTABLE,
    )

    companion object {
        const val CHANNEL_MESSAGES = "messages"
        const val CHANNEL_CALLS = "calls"
        const val CHANNEL_ONGOING = "ongoing"
        private const val ID_LOCKED = 1
        private const val ID_MMS = 2
        private const val ID_SEND_FAILED = 3
        private const val ID_STRANGER = 4
    }
}
