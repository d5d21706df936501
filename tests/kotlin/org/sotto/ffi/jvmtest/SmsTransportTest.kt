package org.sotto.ffi.jvmtest

import java.nio.file.Path
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.sotto.ffi.Account
import org.sotto.ffi.AccountEvent
import org.sotto.ffi.DeliveryState
import org.sotto.ffi.IncomingSms
import org.sotto.ffi.MessageTransport
import org.sotto.ffi.SentText
import org.sotto.ffi.SmsSettings
import org.sotto.ffi.SmsStatus
import org.sotto.ffi.TextRoute

private const val ANNA = "+4930901821"
private const val BEN = "+4940123457"

/** How a text travelled, and the failed state of a text whose SMS failed. */
class SmsTransportTest {
    @TempDir
    lateinit var dir: Path

    private fun phone(name: String): Account =
        openStore(dir, name, newKey()).also {
            it.setSmsSettings(SmsSettings(neverEncryptedSms = false, smsOnly = false, region = "DE", dataSms = false))
        }

    @Test
    fun `a text sent by encrypted SMS says so, and shows failed until retried`() {
        phone("anna").use { anna ->
            phone("ben").use { ben ->
                val carrier = FakeCarrier().apply {
                    attach(ANNA, anna)
                    attach(BEN, ben)
                }
                val benAtAnna = anna.startSmsHandshake(BEN, "Ben")
                carrier.settle()
                val annaAtBen = carrier.take(BEN).filterIsInstance<IncomingSms.Handshake>()
                    .first { it.sessionReady }.contactId
                val annaEvents = QueueListener()
                anna.subscribe(annaEvents).use {
                    val sent = anna.sendTextRouted(benAtAnna, "No data here") as SentText.Encrypted
                    assertEquals(TextRoute.ENCRYPTED_SMS, sent.route)
                    fun mine() = anna.messages(benAtAnna, 10u, null).single { it.id == sent.messageId }
                    assertEquals(MessageTransport.ENCRYPTED_SMS, mine().transport)
                    assertEquals(DeliveryState.PENDING, mine().state)

                    // No service: every part fails, and the text shows it.
                    val taken = anna.takeOutgoingSms()
                    for (sms in taken) anna.reportSmsStatus(sms.id, SmsStatus.FAILED)
                    val failed = generateSequence { annaEvents.next() }
                        .filterIsInstance<AccountEvent.DeliveryStateChanged>()
                        .first { sent.messageId in it.messageIds }
                    assertEquals(DeliveryState.FAILED, failed.state)
                    assertEquals(benAtAnna, failed.contactId)
                    assertEquals(DeliveryState.FAILED, mine().state)
                    assertEquals(DeliveryState.FAILED, anna.conversations().single().lastMessage?.state)

                    // Service is back: retried, pending, then delivered.
                    assertEquals(taken.size.toUInt(), anna.retryFailedSms())
                    assertEquals(DeliveryState.PENDING, mine().state)
                    carrier.settle()
                    assertEquals(DeliveryState.DELIVERED, mine().state)
                    assertEquals(MessageTransport.ENCRYPTED_SMS, mine().transport)

                    // Ben's side knows it came by SMS, in the outcome and stored.
                    val arrived = carrier.take(BEN).filterIsInstance<IncomingSms.Encrypted>().single()
                    assertEquals(MessageTransport.ENCRYPTED_SMS, arrived.message.transport)
                    val stored = ben.messages(annaAtBen, 10u, null).single()
                    assertEquals(sent.messageId, stored.id)
                    assertEquals(MessageTransport.ENCRYPTED_SMS, stored.transport)
                }
            }
        }
    }
}
