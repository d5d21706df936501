package org.sotto.logic.notify

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Test
import org.sotto.logic.settings.NotificationPrivacy

class NotificationContentTest {
    @Test
    fun `privacy levels hide what they say`() {
        assertEquals(
            NotificationContent("Alice", "hello", replyAction = true, markReadAction = true),
            NotificationContent.forMessage(NotificationPrivacy.NAME_AND_MESSAGE, appLocked = false, sender = "Alice", body = "hello"),
        )
        assertEquals(
            NotificationContent("Alice", null, replyAction = true, markReadAction = true),
            NotificationContent.forMessage(NotificationPrivacy.NAME_ONLY, false, "Alice", "hello"),
        )
        assertEquals(
            NotificationContent(null, null, replyAction = false, markReadAction = true),
            NotificationContent.forMessage(NotificationPrivacy.NOTHING, false, "Alice", "hello"),
        )
    }

    @Test
    fun `a locked app shows nothing and offers no reply`() {
        for (privacy in NotificationPrivacy.entries) {
            assertEquals(
                NotificationContent(null, null, replyAction = false, markReadAction = false),
                NotificationContent.forMessage(privacy, appLocked = true, sender = "Alice", body = "hello"),
            )
        }
        assertFalse("hello" in NotificationContent("Alice", "hello", true, true).toString())
    }
}
