/**
 * What a new-message notification may show, under the user's privacy
 * setting and the app lock. `:app` builds the `Notification` from this; when
 * a field is null it uses its generic localized text ("New message").
 */
package org.sotto.logic.notify

import org.sotto.logic.settings.NotificationPrivacy

/** The notification's visible parts. */
data class NotificationContent(
    /** The sender's name, or null for the generic title. */
    val title: String?,
    /** The message text, or null for the generic text. */
    val text: String?,
    /** Offer direct reply. */
    val replyAction: Boolean,
    /** Offer "mark as read". */
    val markReadAction: Boolean,
) {
    override fun toString(): String = "NotificationContent(title=${title != null}, text=${text != null}, reply=$replyAction)"

    companion object {
        /**
         * The content for a message from [sender] reading [body]. While the
         * app is locked the store is closed: nothing is decrypted to show and
         * a reply could not be encrypted, so the notification only says that
         * a message came.
         */
        fun forMessage(privacy: NotificationPrivacy, appLocked: Boolean, sender: String, body: String): NotificationContent {
            if (appLocked) return NotificationContent(null, null, replyAction = false, markReadAction = false)
            return when (privacy) {
                NotificationPrivacy.NAME_AND_MESSAGE -> NotificationContent(sender, body, replyAction = true, markReadAction = true)
                NotificationPrivacy.NAME_ONLY -> NotificationContent(sender, null, replyAction = true, markReadAction = true)
                NotificationPrivacy.NOTHING -> NotificationContent(null, null, replyAction = false, markReadAction = true)
            }
        }
    }
}
