package org.sotto.ffi.jvmtest

import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.CompletableFuture
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assertions.fail
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.sotto.ffi.Account
import org.sotto.ffi.AccountEvent
import org.sotto.ffi.AccountListener
import org.sotto.ffi.DeliveryState
import org.sotto.ffi.MessageTransport
import org.sotto.ffi.SottoException

/**
 * A real `sotto-relay` process on loopback, started for the test. Its path
 * comes from the system property `sotto.relay.bin` (set by
 * `scripts/kotlin-test.sh`, which builds it). It prints its invite and
 * writes it to `invite.txt` in its data directory once it listens. With
 * `turn`, its embedded TURN server runs too, on loopback, relaying to
 * loopback peers (which a real deployment refuses).
 */
class RelayProcess(dataDir: Path, turn: Boolean = false) : AutoCloseable {
    private val process: Process
    val invite: String

    init {
        val binary = System.getProperty("sotto.relay.bin") ?: fail("the system property sotto.relay.bin is not set")
        Files.createDirectories(dataDir)
        val command = mutableListOf(binary, "--listen", "127.0.0.1:0", "--data-dir", dataDir.toString())
        if (turn) {
            val config = dataDir.resolve("relay.toml")
            Files.writeString(config, "[turn]\nenabled = true\nlisten = \"127.0.0.1:0\"\nallow_loopback_peers = true\n")
            command += listOf("--config", config.toString())
        }
        process = ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(dataDir.resolve("relay.log").toFile())
            .start()
        invite = waitForInvite(dataDir.resolve("invite.txt"))
    }

    /** Bounded so that a relay that fails to start fails the test instead of hanging it. */
    private fun waitForInvite(file: Path): String {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
        while (System.nanoTime() < deadline) {
            if (!process.isAlive) fail<Unit>("sotto-relay exited with ${process.exitValue()}")
            if (Files.exists(file)) {
                val text = Files.readString(file)
                // Written in one go, ending in a newline: complete once that is there.
                if (text.endsWith("\n")) return text.trim()
            }
            Thread.sleep(20)
        }
        fail<Unit>("sotto-relay wrote no invite")
        error("unreachable")
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly()
    }
}

/** Events of one account, with bounded waits for the one a test expects. */
class EventLog : AccountListener {
    private val events = LinkedBlockingQueue<AccountEvent>()

    override fun onEvent(event: AccountEvent) {
        events.add(event)
    }

    /**
     * The first event (from now on) that `matches`, skipping others. The
     * bound only keeps a broken build from hanging; no assertion depends on
     * how long delivery takes.
     */
    fun <T : AccountEvent> await(what: String, matches: (AccountEvent) -> T?): T {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60)
        while (true) {
            val left = deadline - System.nanoTime()
            val event = events.poll(maxOf(left, 0), TimeUnit.NANOSECONDS) ?: fail("no $what arrived")
            matches(event)?.let { return it }
        }
    }

    /**
     * The events from now on, all of them kept, up to the first after
     * which `done` holds for the list: for events whose order among
     * themselves is not part of the contract. Bounded like [await].
     */
    fun collectUntil(what: String, done: (List<AccountEvent>) -> Boolean): List<AccountEvent> {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60)
        val seen = mutableListOf<AccountEvent>()
        while (!done(seen)) {
            val left = deadline - System.nanoTime()
            seen += events.poll(maxOf(left, 0), TimeUnit.NANOSECONDS) ?: fail("no $what arrived")
        }
        return seen
    }
}

/** Two accounts in one JVM talk through a real relay, end to end encrypted. */
class RelayMessagingTest {
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

    @Test
    fun `alice and bob exchange texts and receipts through the relay`() {
        create("alice").use { alice ->
            create("bob").use { bob ->
                val aliceEvents = EventLog()
                val bobEvents = EventLog()
                alice.subscribe(aliceEvents).use {
                    bob.subscribe(bobEvents).use {
                        converse(alice, aliceEvents, bob, bobEvents)
                    }
                }
            }
        }
    }

    private fun converse(alice: Account, aliceEvents: EventLog, bob: Account, bobEvents: EventLog) {
        // Bob's prekeys must be on the relay before Alice can start a session.
        bob.register()
        val bobAtAlice = alice.addContact(bob.contactInvite(), "Bob")
        val aliceAtBob = bob.addContact(alice.contactInvite(), "Alice")
        assertTrue(alice.contacts().single().onRelay)

        bob.connect()
        alice.connect()
        bobEvents.await("Connected for Bob") { it as? AccountEvent.Connected }
        aliceEvents.await("Connected for Alice") { it as? AccountEvent.Connected }
        assertTrue(alice.isConnected())

        val hello = alice.sendText(bobAtAlice, "hello Bob")
        val received = bobEvents.await("Alice's text at Bob") {
            (it as? AccountEvent.MessageReceived)?.takeIf { e -> e.message.id == hello }
        }
        assertEquals("hello Bob", received.message.body)
        assertEquals(aliceAtBob, received.message.contactId)
        assertFalse(received.message.outgoing)
        assertFalse(received.newContact, "Bob added Alice's invite first")
        assertEquals(MessageTransport.RELAY, received.message.transport)
        aliceEvents.await("Bob's delivery receipt") {
            (it as? AccountEvent.DeliveryStateChanged)
                ?.takeIf { e -> e.state == DeliveryState.DELIVERED && hello in e.messageIds }
        }

        val reply = bob.sendText(aliceAtBob, "hi Alice")
        val back = aliceEvents.await("Bob's reply at Alice") {
            (it as? AccountEvent.MessageReceived)?.takeIf { e -> e.message.id == reply }
        }
        assertEquals("hi Alice", back.message.body)
        assertEquals(bobAtAlice, back.message.contactId)
        bobEvents.await("Alice's delivery receipt") {
            (it as? AccountEvent.DeliveryStateChanged)
                ?.takeIf { e -> e.state == DeliveryState.DELIVERED && reply in e.messageIds }
        }

        bob.markRead(aliceAtBob, listOf(hello))
        aliceEvents.await("Bob's read receipt") {
            (it as? AccountEvent.DeliveryStateChanged)
                ?.takeIf { e -> e.state == DeliveryState.READ && hello in e.messageIds }
        }

        // Alice's conversation, newest first, paged one at a time.
        val all = alice.messages(bobAtAlice, 10u, null)
        assertEquals(listOf(reply, hello), all.map { it.id })
        assertEquals(listOf(false, true), all.map { it.outgoing })
        assertEquals(DeliveryState.READ, all[1].state)
        val first = alice.messages(bobAtAlice, 1u, null).single()
        val second = alice.messages(bobAtAlice, 1u, first.storedAtMs).single()
        assertEquals(listOf(reply, hello), listOf(first.id, second.id))

        // The conversation list in one call: Alice has not read Bob's reply yet.
        val conversation = alice.conversations().single()
        assertEquals(bobAtAlice, conversation.contact.id)
        assertEquals("Bob", conversation.contact.name)
        assertEquals(reply, conversation.lastMessage?.id)
        assertEquals(1u, conversation.unreadCount)
        assertEquals(0u, conversation.heldMessageCount)
        assertEquals(1u, alice.markConversationRead(bobAtAlice))
        assertEquals(0u, alice.conversations().single().unreadCount)

        alice.disconnect()
        bob.disconnect()
        assertFalse(alice.isConnected())
    }

    @Test
    fun `a blocking call from inside a listener is CalledFromCallback, not a crash`() {
        create("alice").use { alice ->
            val outcome = CompletableFuture<Throwable?>()
            val listener = object : AccountListener {
                override fun onEvent(event: AccountEvent) {
                    if (event is AccountEvent.Connected && !outcome.isDone) {
                        outcome.complete(runCatching { alice.disconnect() }.exceptionOrNull())
                    }
                }
            }
            alice.subscribe(listener).use {
                alice.connect()
                val error = outcome.get(60, TimeUnit.SECONDS)
                assertTrue(error is SottoException.CalledFromCallback, "got $error")
                // The refused call changed nothing: the connection still runs.
                assertTrue(alice.isConnected())
                alice.disconnect()
            }
        }
    }

    @Test
    fun `bad invites and names are InvalidInput`() {
        create("alice").use { alice ->
            expectThrows<SottoException.InvalidInput> { alice.addContact("sotto-contact:2/nonsense", "Bob") }
            expectThrows<SottoException.InvalidInput> { alice.addContact(alice.contactInvite(), "Me") }
            create("bob").use { bob ->
                expectThrows<SottoException.InvalidInput> { alice.addContact(bob.contactInvite(), " ") }
            }
            expectThrows<SottoException.UnknownContact> { alice.messages("no-such-contact", 10u, null) }
        }
    }
}
