package org.sotto.ffi.jvmtest

import java.nio.file.Path
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.sotto.ffi.Account
import org.sotto.ffi.AccountEvent
import org.sotto.ffi.IncomingSms
import org.sotto.ffi.SmsSettings

private const val CLARA = "+4930901823"
private const val DAVID = "+4940123458"

/** [OFFLINE_RELAY] with another trust root: a relay other than Clara's. */
private const val OTHER_OFFLINE_RELAY =
    "sotto-relay:2/127.0.0.1/9/" +
        "052222222222222222222222222222222222222222222222222222222222222222"

/** A group whose members are on different relays travels by encrypted SMS through the bridge. */
class GroupsBySmsTest {
    @TempDir
    lateinit var dir: Path

    private fun phone(name: String, relay: String): Account =
        Account.createWithKey(dir.resolve(name).toString(), newKey(), relay, testOptions()).also {
            it.setSmsSettings(SmsSettings(neverEncryptedSms = false, smsOnly = false, region = "DE", dataSms = false))
        }

    @Test
    fun `a group text reaches a member on another relay by SMS, once`() {
        phone("clara", OFFLINE_RELAY).use { clara ->
            phone("david", OTHER_OFFLINE_RELAY).use { david ->
                val carrier = FakeCarrier().apply {
                    attach(CLARA, clara)
                    attach(DAVID, david)
                }
                val davidAtClara = clara.startSmsHandshake(DAVID, "David")
                carrier.settle()
                carrier.take(CLARA)
                carrier.take(DAVID)
                val davidEvents = QueueListener()
                david.subscribe(davidEvents).use {
                    val group = clara.createGroup("Pair", listOf(davidAtClara))
                    carrier.settle()
                    val change = carrier.take(DAVID).filterIsInstance<IncomingSms.Group>()
                    assertTrue(change.isNotEmpty() && change.all { it.groupId == group.id && it.message == null })
                    assertEquals("Pair", david.group(group.id).name)

                    val sent = clara.sendGroupText(group.id, "Dinner at eight")
                    assertEquals(listOf(davidAtClara), sent.smsMembers)
                    assertTrue(sent.relayMembers.isEmpty())
                    carrier.settle()
                    val texts = carrier.take(DAVID).filterIsInstance<IncomingSms.Group>().mapNotNull { it.message }
                    assertEquals(listOf(sent.messageId), texts.map { it.id })
                    assertEquals("Dinner at eight", texts.single().body)
                    assertEquals(group.id, texts.single().groupId)

                    // The listener heard the change (without details: it came by
                    // SMS) and the text, once: everything up to a marker event
                    // published after the carrier is done (a handshake David
                    // starts queues SMS, so `OutgoingSmsWaiting` follows).
                    david.startSmsHandshake("+4930901899", "Marker")
                    val events = mutableListOf<AccountEvent>()
                    while (true) {
                        val event = davidEvents.next()
                        events += event
                        val textSeen = events.any { it is AccountEvent.GroupMessageReceived }
                        if (textSeen && event is AccountEvent.OutgoingSmsWaiting) break
                    }
                    assertTrue(events.any { it is AccountEvent.GroupChanged && it.groupId == group.id && it.change == null })
                    assertEquals(
                        listOf(sent.messageId),
                        events.filterIsInstance<AccountEvent.GroupMessageReceived>().map { it.message.id },
                    )
                    assertNull(clara.groupMessages(group.id, 1u, null).single().senderId)
                }
            }
        }
    }
}
