package org.sotto.ffi.jvmtest

import java.nio.file.Path
import kotlin.random.Random
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.sotto.ffi.Account
import org.sotto.ffi.AccountEvent
import org.sotto.ffi.DeliveryState
import org.sotto.ffi.HistoryItem
import org.sotto.ffi.IncomingSms
import org.sotto.ffi.MmsAttachment
import org.sotto.ffi.NumberConversation
import org.sotto.ffi.OutgoingSms
import org.sotto.ffi.PlainState
import org.sotto.ffi.SentText
import org.sotto.ffi.SmsContent
import org.sotto.ffi.SmsSettings
import org.sotto.ffi.SmsStatus
import org.sotto.ffi.SottoException
import org.sotto.ffi.TextRoute

private const val ALICE = "+4930901820"
private const val BOB = "+4940123456"

/**
 * A fake carrier between phones in one JVM: it takes what each account
 * wants sent, delivers it to the account of the destination number with
 * the sender's number (in an order of its choosing, some parts twice), and
 * reports every SMS back as sent and delivered, as Android's sent and
 * delivery intents would. The phones' users agree to every stranger who
 * says hello (consent has its own test in the Rust core).
 */
class FakeCarrier(private val random: Random = Random(4)) {
    private val phones = LinkedHashMap<String, Account>()

    /** What each number received, in order. */
    val received = HashMap<String, MutableList<IncomingSms>>()

    fun attach(number: String, account: Account) {
        phones[number] = account
    }

    /** Carries what `from` has queued; returns how many SMS went. */
    fun carry(from: String, reorder: Boolean = false, duplicate: Boolean = false): Int {
        val sender = phones.getValue(from)
        val taken = sender.takeOutgoingSms()
        var onAir: List<OutgoingSms> = taken
        if (reorder) onAir = onAir.shuffled(random)
        if (duplicate && onAir.isNotEmpty()) onAir = onAir + onAir.first()
        for (sms in onAir) {
            val to = phones[sms.destination] ?: error("no phone has the destination number")
            val outcome = when (val content = sms.content) {
                is SmsContent.Text -> {
                    assertTrue(content.text.length <= 160 || !sms.encrypted, "a Sotto part fits one SMS")
                    to.smsReceived(from, content.text)
                }
                is SmsContent.Data -> to.smsDataReceived(from, content.bytes)
            }
            received.getOrPut(sms.destination) { ArrayList() }.add(outcome)
            if (outcome is IncomingSms.StrangerWaiting) {
                val answered = to.acceptSmsStranger(outcome.phone, outcome.phone)
                received.getValue(sms.destination).add(answered)
            }
        }
        for (sms in taken) {
            sender.reportSmsStatus(sms.id, SmsStatus.SENT)
            sender.reportSmsStatus(sms.id, SmsStatus.DELIVERED)
        }
        return taken.size
    }

    /** Carries every way until nobody has anything to send (bounded). */
    fun settle(reorder: Boolean = false) {
        repeat(10) {
            val went = phones.keys.sumOf { carry(it, reorder = reorder) }
            if (went == 0) return
        }
        error("the SMS exchange did not settle")
    }

    fun take(number: String): List<IncomingSms> = received.remove(number) ?: emptyList()
}

/** The SMS bridge seen from Kotlin: encrypted SMS, plain threads, identity changes. */
class SmsBridgeTest {
    @TempDir
    lateinit var dir: Path

    private fun phone(name: String): Account =
        openStore(dir, name, newKey()).also {
            it.setSmsSettings(SmsSettings(neverEncryptedSms = false, smsOnly = false, region = "DE", dataSms = false))
        }

    private fun readyContact(outcomes: List<IncomingSms>): String? =
        outcomes.filterIsInstance<IncomingSms.Handshake>().firstOrNull { it.sessionReady }?.contactId

    /** Alice says hello by SMS; returns (Bob at Alice, Alice at Bob). */
    private fun handshake(carrier: FakeCarrier, alice: Account): Pair<String, String> {
        val bobAtAlice = alice.startSmsHandshake(BOB, "Bob")
        carrier.settle(reorder = true)
        assertEquals(bobAtAlice, readyContact(carrier.take(ALICE)))
        val aliceAtBob = readyContact(carrier.take(BOB)) ?: error("Bob's side did not complete")
        return bobAtAlice to aliceAtBob
    }

    @Test
    fun `an encrypted SMS round trip through a carrier that reorders and repeats parts`() {
        phone("alice").use { alice ->
            phone("bob").use { bob ->
                val carrier = FakeCarrier().apply {
                    attach(ALICE, alice)
                    attach(BOB, bob)
                }
                val aliceEvents = QueueListener()
                alice.subscribe(aliceEvents).use {
                    val (bobAtAlice, aliceAtBob) = handshake(carrier, alice)
                    assertTrue(
                        aliceEvents.events.any { it is AccountEvent.OutgoingSmsWaiting },
                        "the listener hears when SMS wait",
                    )

                    val text = "Running late, the train is stuck outside the station"
                    val sent = alice.sendTextRouted(bobAtAlice, text) as SentText.Encrypted
                    assertEquals(TextRoute.ENCRYPTED_SMS, sent.route)
                    carrier.carry(ALICE, reorder = true, duplicate = true)
                    val atBob = carrier.take(BOB).filterIsInstance<IncomingSms.Encrypted>()
                    assertEquals(listOf(text), atBob.map { it.message.body })
                    assertEquals(aliceAtBob, atBob.single().message.contactId)
                    assertEquals(1, bob.messages(aliceAtBob, 10u, null).size, "stored once")
                    assertEquals(1u, bob.unreadCount(aliceAtBob))
                    assertEquals(1u, bob.markConversationRead(aliceAtBob))
                    assertEquals(0u, bob.unreadCount(aliceAtBob))

                    val mine = alice.messages(bobAtAlice, 10u, null).single { it.id == sent.messageId }
                    assertEquals(DeliveryState.DELIVERED, mine.state)
                    val delivered = generateSequence { aliceEvents.next() }
                        .filterIsInstance<AccountEvent.DeliveryStateChanged>()
                        .first { it.state == DeliveryState.DELIVERED && sent.messageId in it.messageIds }
                    assertEquals(bobAtAlice, delivered.contactId)

                    // Bob answers by Alice's number, written the national way.
                    val reply = bob.sendTextToNumber("030 901820", "On my way") as SentText.Encrypted
                    carrier.carry(BOB)
                    val atAlice = carrier.take(ALICE).filterIsInstance<IncomingSms.Encrypted>()
                    assertEquals(reply.messageId, atAlice.single().message.id)
                    assertEquals("On my way", atAlice.single().message.body)

                    // Ciphertext never became a plain message on either side.
                    assertTrue(alice.plainThreads().isEmpty())
                    assertTrue(bob.plainThreads().isEmpty())
                    assertEquals(NumberConversation.Contact(aliceAtBob), bob.conversationForNumber(ALICE))
                }
            }
        }
    }

    @Test
    fun `a plain SMS thread by number, with sent and delivered states`() {
        phone("bob").use { bob ->
            val incoming = bob.smsReceived("030 901820", "Are we still on for Friday?") as IncomingSms.Plain
            assertEquals(ALICE, incoming.phone)
            assertEquals(NumberConversation.Plain(ALICE), bob.conversationForNumber("+49 30 901820"))

            val sent = bob.sendTextToNumber(ALICE, "Yes, at eight") as SentText.Plain
            val queued = bob.takeOutgoingSms().single()
            assertFalse(queued.encrypted)
            assertEquals(SmsContent.Text("Yes, at eight"), queued.content)
            assertEquals(ALICE, queued.destination)
            assertTrue(bob.takeOutgoingSms().isEmpty(), "handed out once")

            fun state() = bob.plainMessages(ALICE, 10u, null).single { it.id == sent.plainId }.state
            assertEquals(PlainState.PENDING, state())
            bob.reportSmsStatus(queued.id, SmsStatus.SENT)
            assertEquals(PlainState.SENT, state())
            bob.reportSmsStatus(queued.id, SmsStatus.DELIVERED)
            assertEquals(PlainState.DELIVERED, state())

            val failing = bob.sendTextToNumber(ALICE, "Again?") as SentText.Plain
            val lost = bob.takeOutgoingSms().single()
            bob.reportSmsStatus(lost.id, SmsStatus.FAILED)
            fun failingState() = bob.plainMessages(ALICE, 10u, null).single { it.id == failing.plainId }.state
            assertEquals(PlainState.FAILED, failingState())
            assertEquals(1u, bob.retryFailedSms())
            assertEquals(PlainState.PENDING, failingState())
            assertEquals(lost.id, bob.takeOutgoingSms().single().id)

            val mms = bob.mmsReceived("030 901820", "Look!", listOf(MmsAttachment("image/png", byteArrayOf(1, 2, 3))))
                as IncomingSms.Plain
            val part = bob.plainAttachments(mms.plainId).single()
            assertEquals("image/png", part.mime)
            assertTrue(part.data.contentEquals(byteArrayOf(1, 2, 3)))

            val old = HistoryItem("sms:17", "030 901820", false, "From last year", 1000uL, PlainState.RECEIVED, emptyList())
            assertEquals(1u, bob.importSmsHistory(listOf(old)).imported)
            assertEquals(1u, bob.importSmsHistory(listOf(old)).alreadyThere, "imported once")

            val thread = bob.plainThreads().single()
            assertEquals(ALICE, thread.phone)
            assertEquals(5u, thread.messages)
            expectThrows<SottoException.InvalidInput> { bob.smsReceived("+", "x") }
            expectThrows<SottoException.UnknownMessage> { bob.reportSmsStatus(queued.id, SmsStatus.FAILED) }
        }
    }

    @Test
    fun `a new identity is held, refused for sending, and released by trusting it`() {
        phone("alice").use { alice ->
            val carrier = FakeCarrier().apply { attach(ALICE, alice) }
            val (bobAtAlice, _) = phone("bob").use { bob ->
                carrier.attach(BOB, bob)
                handshake(carrier, alice)
            }
            // Bob's phone was wiped: a new account on the same number.
            phone("bob-again").use { newBob ->
                carrier.attach(BOB, newBob)
                val events = QueueListener()
                alice.subscribe(events).use {
                    alice.startSmsHandshake(BOB, "Bob")
                    carrier.carry(ALICE)
                    val aliceAtNewBob = carrier.take(BOB).filterIsInstance<IncomingSms.Handshake>().first().contactId
                    carrier.carry(BOB)
                    assertTrue(IncomingSms.IdentityChanged(bobAtAlice) in carrier.take(ALICE))
                    val changed = generateSequence { events.next() }
                        .filterIsInstance<AccountEvent.IdentityChanged>()
                        .first()
                    assertEquals(bobAtAlice, changed.contactId)
                    assertTrue(alice.messages(bobAtAlice, 10u, null).isEmpty(), "held, not shown")
                    assertTrue(alice.heldMessageCount(bobAtAlice) >= 1u)
                    val contact = alice.contacts().single { it.id == bobAtAlice }
                    assertTrue(contact.identityChanged && !contact.identityConflict && !contact.verified)

                    expectThrows<SottoException.UntrustedIdentity> { alice.sendTextRouted(bobAtAlice, "Is that you?") }

                    // The number shown is the offered key's: the one the new Bob's phone shows.
                    val offered = alice.offeredIdentities(bobAtAlice).single()
                    assertEquals(newBob.contactSafetyNumber(aliceAtNewBob).digits, offered.safetyNumber.digits)
                    alice.trustNewIdentity(bobAtAlice, offered.identityKey)
                    assertEquals(0u, alice.heldMessageCount(bobAtAlice))
                    alice.sendTextRouted(bobAtAlice, "Welcome back")
                    carrier.carry(ALICE)
                    val atBob = carrier.take(BOB).filterIsInstance<IncomingSms.Encrypted>()
                    assertEquals(listOf("Welcome back"), atBob.map { it.message.body })
                    newBob.sendTextRouted(aliceAtNewBob, "New phone, same Bob")
                    carrier.carry(BOB)
                    val atAlice = carrier.take(ALICE).filterIsInstance<IncomingSms.Encrypted>()
                    assertEquals(listOf("New phone, same Bob"), atAlice.map { it.message.body })
                    val received = generateSequence { events.next() }
                        .filterIsInstance<AccountEvent.MessageReceived>()
                        .first()
                    assertEquals("New phone, same Bob", received.message.body)
                }
            }
        }
    }

    @Test
    fun `the disappearing timer is set, told to the contact, and verification can be taken back`() {
        phone("alice").use { alice ->
            phone("bob").use { bob ->
                val carrier = FakeCarrier().apply {
                    attach(ALICE, alice)
                    attach(BOB, bob)
                }
                val (bobAtAlice, aliceAtBob) = handshake(carrier, alice)
                val bobEvents = QueueListener()
                bob.subscribe(bobEvents).use {
                    alice.setDisappearingTimer(bobAtAlice, 3600u)
                    assertEquals(3600u, alice.disappearingTimer(bobAtAlice))
                    carrier.carry(ALICE)
                    assertTrue(IncomingSms.Control in carrier.take(BOB))
                    assertEquals(3600u, bob.disappearingTimer(aliceAtBob), "the contact follows")
                    val changed = generateSequence { bobEvents.next() }
                        .filterIsInstance<AccountEvent.DisappearingTimerChanged>()
                        .first()
                    assertEquals(aliceAtBob, changed.contactId)
                    assertEquals(3600u, changed.seconds)
                }

                alice.markContactVerified(bobAtAlice)
                assertTrue(alice.contacts().single { it.id == bobAtAlice }.verified)
                alice.clearContactVerified(bobAtAlice)
                assertFalse(alice.contacts().single { it.id == bobAtAlice }.verified)
                expectThrows<SottoException.UnknownContact> { alice.clearContactVerified("no-such-contact") }
            }
        }
    }

    @Test
    fun `the SOCKS5 proxy setting is kept and checked`() {
        phone("alice").use { alice ->
            assertEquals(null, alice.socks5Proxy())
            alice.setSocks5Proxy("127.0.0.1:9050")
            assertEquals("127.0.0.1:9050", alice.socks5Proxy())
            expectThrows<SottoException.InvalidInput> { alice.setSocks5Proxy("not a proxy") }
            assertEquals("127.0.0.1:9050", alice.socks5Proxy(), "a refused value changes nothing")
            alice.setSocks5Proxy(null)
            assertEquals(null, alice.socks5Proxy())
        }
    }
}
