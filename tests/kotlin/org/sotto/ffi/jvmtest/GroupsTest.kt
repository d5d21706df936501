package org.sotto.ffi.jvmtest

import java.nio.file.Path
import java.util.Collections
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.sotto.ffi.Account
import org.sotto.ffi.AccountEvent
import org.sotto.ffi.AccountListener
import org.sotto.ffi.SottoException

/**
 * Encrypted groups (libsignal sender keys) through the bindings: three
 * accounts in one JVM on a real `sotto-relay`, texts reaching the others
 * exactly once as `GroupMessageReceived`, and a removed member who gets
 * nothing afterwards.
 */
class GroupsTest {
    @TempDir
    lateinit var dir: Path
    private lateinit var relay: RelayProcess

    @BeforeEach
    fun startRelay() {
        relay = RelayProcess(dir.resolve("relay"))
    }

    @AfterEach
    fun stopRelay() {
        relay.close()
    }

    private fun create(name: String) =
        Account.createWithKey(dir.resolve(name).toString(), newKey(), relay.invite, testOptions())

    /**
     * One account with its event log, subscribed for the whole test. The
     * ids of every `GroupMessageReceived` are also kept, in order, before
     * the event reaches the log, so that they are complete up to any event
     * the test waited for.
     */
    private class Member(val account: Account) : AutoCloseable {
        val events = EventLog()
        val groupTexts: MutableList<String> = Collections.synchronizedList(mutableListOf())
        private val subscription = account.subscribe(object : AccountListener {
            override fun onEvent(event: AccountEvent) {
                if (event is AccountEvent.GroupMessageReceived) groupTexts += event.message.id
                events.onEvent(event)
            }
        })

        override fun close() {
            subscription.close()
            account.close()
        }
    }

    @Test
    fun `a group of three talks, and a removed member gets nothing more`() {
        Member(create("alice")).use { alice ->
            Member(create("bob")).use { bob ->
                Member(create("carol")).use { carol ->
                    talk(alice, bob, carol)
                }
            }
        }
    }

    private fun talk(alice: Member, bob: Member, carol: Member) {
        for (m in listOf(alice, bob, carol)) m.account.register()
        val bobAtAlice = alice.account.addContact(bob.account.contactInvite(), "Bob")
        val carolAtAlice = alice.account.addContact(carol.account.contactInvite(), "Carol")
        val aliceAtBob = bob.account.addContact(alice.account.contactInvite(), "Alice")
        val aliceAtCarol = carol.account.addContact(alice.account.contactInvite(), "Alice")
        for (m in listOf(alice, bob, carol)) {
            m.account.connect()
            m.events.await("Connected") { it as? AccountEvent.Connected }
        }

        // Alice makes the group; Bob and Carol join and learn of each other.
        val created = alice.account.createGroup("Trio", listOf(bobAtAlice, carolAtAlice))
        assertEquals(setOf(bobAtAlice, carolAtAlice), created.members.toSet())
        assertTrue(created.active)
        val groupId = created.id
        for (m in listOf(bob, carol)) {
            val joined = m.events.await("the new group") {
                (it as? AccountEvent.GroupChanged)?.takeIf { e -> e.groupId == groupId }
            }
            assertEquals(true, joined.change?.joined)
            val group = m.account.group(groupId)
            assertEquals("Trio", group.name)
            assertEquals(2, group.members.size)
        }
        assertTrue(aliceAtBob in bob.account.group(groupId).members)
        assertTrue(aliceAtCarol in carol.account.group(groupId).members)
        val carolAtBob = bob.account.group(groupId).members.single { it != aliceAtBob }
        val bobAtCarol = carol.account.group(groupId).members.single { it != aliceAtCarol }

        // Alice's text reaches both, once; Bob's (his sender key first) too.
        val hello = alice.account.sendGroupText(groupId, "hello group")
        assertEquals(setOf(bobAtAlice, carolAtAlice), hello.relayMembers.toSet())
        assertTrue(hello.smsMembers.isEmpty() && hello.unreached.isEmpty())
        for ((m, sender) in listOf(bob to aliceAtBob, carol to aliceAtCarol)) {
            val got = m.events.await("Alice's group text") {
                (it as? AccountEvent.GroupMessageReceived)?.takeIf { e -> e.message.id == hello.messageId }
            }
            assertEquals("hello group", got.message.body)
            assertEquals(groupId, got.message.groupId)
            assertEquals(sender, got.message.senderId)
        }
        val fromBob = bob.account.sendGroupText(groupId, "hi from Bob")
        for ((m, sender) in listOf(alice to bobAtAlice, carol to bobAtCarol)) {
            val got = m.events.await("Bob's group text") {
                (it as? AccountEvent.GroupMessageReceived)?.takeIf { e -> e.message.id == fromBob.messageId }
            }
            assertEquals("hi from Bob", got.message.body)
            assertEquals(sender, got.message.senderId)
        }

        // Alice removes Carol: Carol is told and Bob sees her go.
        val afterRemoval = alice.account.removeGroupMembers(groupId, listOf(carolAtAlice))
        assertEquals(listOf(bobAtAlice), afterRemoval.members)
        val left = carol.events.await("Carol's removal") {
            (it as? AccountEvent.GroupChanged)?.takeIf { e -> e.groupId == groupId && e.change?.left == true }
        }
        assertFalse(left.change!!.joined)
        assertFalse(carol.account.group(groupId).active)
        bob.events.await("Carol leaving, at Bob") {
            (it as? AccountEvent.GroupChanged)
                ?.takeIf { e -> e.groupId == groupId && carolAtBob in (e.change?.removed ?: emptyList()) }
        }
        expectThrows<SottoException.NotGroupMember> { carol.account.sendGroupText(groupId, "still here?") }

        // Both remaining members write; then each sends every other member a
        // 1:1 marker. A sender's envelopes arrive in the order queued, so
        // once the markers are in, nothing of the group is on its way.
        val secretA = alice.account.sendGroupText(groupId, "Carol must not read this")
        assertEquals(listOf(bobAtAlice), secretA.relayMembers)
        bob.events.await("Alice's text after the removal") {
            (it as? AccountEvent.GroupMessageReceived)?.takeIf { e -> e.message.id == secretA.messageId }
        }
        val secretB = bob.account.sendGroupText(groupId, "nor this")
        assertEquals(listOf(aliceAtBob), secretB.relayMembers)
        alice.events.await("Bob's text after the removal") {
            (it as? AccountEvent.GroupMessageReceived)?.takeIf { e -> e.message.id == secretB.messageId }
        }
        val markers = setOf(
            alice.account.sendText(carolAtAlice, "marker from Alice"),
            bob.account.sendText(carolAtBob, "marker from Bob"),
        )
        val seen = carol.events.collectUntil("both markers") { events ->
            events.count { it is AccountEvent.MessageReceived && it.message.id in markers } == 2
        }
        assertTrue(seen.none { it is AccountEvent.GroupMessageReceived }, "Carol got a group text after removal")
        val toBob = alice.account.sendText(bobAtAlice, "marker for Bob")
        bob.events.await("Alice's marker") {
            (it as? AccountEvent.MessageReceived)?.takeIf { e -> e.message.id == toBob }
        }
        val toAlice = bob.account.sendText(aliceAtBob, "marker for Alice")
        alice.events.await("Bob's marker") {
            (it as? AccountEvent.MessageReceived)?.takeIf { e -> e.message.id == toAlice }
        }

        // Every group text reached each member as exactly one event.
        assertEquals(listOf(fromBob.messageId, secretB.messageId), alice.groupTexts.toList())
        assertEquals(listOf(hello.messageId, secretA.messageId), bob.groupTexts.toList())
        assertEquals(listOf(hello.messageId, fromBob.messageId), carol.groupTexts.toList())

        // Each member stored each text once; Carol only what came before.
        val everything = listOf(fromBob.messageId, hello.messageId)
        assertEquals(listOf(secretB.messageId, secretA.messageId) + everything,
            alice.account.groupMessages(groupId, 10u, null).map { it.id })
        assertEquals(listOf(secretB.messageId, secretA.messageId) + everything,
            bob.account.groupMessages(groupId, 10u, null).map { it.id })
        assertEquals(everything, carol.account.groupMessages(groupId, 10u, null).map { it.id })
        val ownText = alice.account.groupMessages(groupId, 10u, null).single { it.id == secretA.messageId }
        assertNull(ownText.senderId, "Alice's own text has no sender")
        assertEquals("Carol must not read this", ownText.body)

        // Paging with the cursor, one at a time.
        val first = bob.account.groupMessages(groupId, 1u, null).single()
        val second = bob.account.groupMessages(groupId, 1u, first.storedAtMs).single()
        assertEquals(listOf(secretB.messageId, secretA.messageId), listOf(first.id, second.id))
        assertEquals(listOf(groupId), alice.account.groups().map { it.id })
    }

    @Test
    fun `group errors are actionable`() {
        create("solo").use { solo ->
            val unknown = "00".repeat(16)
            expectThrows<SottoException.UnknownGroup> { solo.group(unknown) }
            expectThrows<SottoException.UnknownGroup> { solo.groupMessages(unknown, 10u, null) }
            expectThrows<SottoException.InvalidInput> { solo.group("not a group id") }
            expectThrows<SottoException.UnknownGroup> { solo.sendGroupText(unknown, "hi") }
            assertTrue(solo.groups().isEmpty())
        }
    }
}
