package org.sotto.logic.transport

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.sotto.logic.conversation.Transport

class TransportPolicyTest {
    private val sottoOnline = Reachability(isSottoContact = true, relayConnected = true, hasNumber = true, canSendSms = true)
    private val sottoOffline = sottoOnline.copy(relayConnected = false)
    private val plainContact = Reachability(isSottoContact = false, relayConnected = true, hasNumber = true, canSendSms = true)

    @Test
    fun `sotto contacts go through the relay when it is connected, whatever the policy`() {
        for (policy in SmsFallbackPolicy.entries) {
            assertEquals(TransportDecision.Send(Transport.RELAY), TransportPolicy.decide(sottoOnline, policy))
        }
    }

    @Test
    fun `relay out of reach follows the fallback policy`() {
        assertEquals(TransportDecision.QueueForRelay, TransportPolicy.decide(sottoOffline, SmsFallbackPolicy.WAIT_FOR_RELAY))
        assertEquals(TransportDecision.AskRelayOrEncryptedSms, TransportPolicy.decide(sottoOffline, SmsFallbackPolicy.ASK))
        assertEquals(TransportDecision.Send(Transport.ENCRYPTED_SMS), TransportPolicy.decide(sottoOffline, SmsFallbackPolicy.ENCRYPTED_SMS))
        val noSms = sottoOffline.copy(canSendSms = false)
        assertEquals(TransportDecision.QueueForRelay, TransportPolicy.decide(noSms, SmsFallbackPolicy.ENCRYPTED_SMS))
    }

    @Test
    fun `a sotto contact never silently gets plain sms`() {
        for (reach in listOf(sottoOnline, sottoOffline, sottoOffline.copy(canSendSms = false), sottoOffline.copy(hasNumber = false))) {
            for (policy in SmsFallbackPolicy.entries) {
                val d = TransportPolicy.decide(reach, policy)
                assertFalse(d == TransportDecision.Send(Transport.PLAIN_SMS) || d == TransportDecision.Send(Transport.PLAIN_MMS), "$reach $policy")
            }
        }
    }

    @Test
    fun `plain contacts get plain sms, or a reason why not`() {
        assertEquals(TransportDecision.Send(Transport.PLAIN_SMS), TransportPolicy.decide(plainContact, SmsFallbackPolicy.ASK))
        assertEquals(
            TransportDecision.Unavailable(UnavailableReason.SMS_UNAVAILABLE),
            TransportPolicy.decide(plainContact.copy(canSendSms = false), SmsFallbackPolicy.ASK),
        )
        assertEquals(
            TransportDecision.Unavailable(UnavailableReason.NO_NUMBER),
            TransportPolicy.decide(plainContact.copy(hasNumber = false), SmsFallbackPolicy.ASK),
        )
    }

    @Test
    fun `headless sends never ask and never fall back to sms on their own`() {
        assertEquals(Transport.RELAY, TransportPolicy.headless(TransportDecision.AskRelayOrEncryptedSms))
        assertEquals(Transport.RELAY, TransportPolicy.headless(TransportDecision.QueueForRelay))
        assertEquals(Transport.ENCRYPTED_SMS, TransportPolicy.headless(TransportDecision.Send(Transport.ENCRYPTED_SMS)))
        assertEquals(null, TransportPolicy.headless(TransportDecision.Unavailable(UnavailableReason.NO_NUMBER)))
    }

    @Test
    fun `composer shows the lock, the plain notice and the downgrade option`() {
        val plain = TransportPolicy.present(plainContact, SmsFallbackPolicy.ASK)
        assertFalse(plain.encrypted)
        assertTrue(plain.plainSmsNotice)
        assertFalse(plain.offerPlainSmsDowngrade)
        val secure = TransportPolicy.present(sottoOffline, SmsFallbackPolicy.ASK)
        assertTrue(secure.encrypted)
        assertFalse(secure.plainSmsNotice)
        assertTrue(secure.offerPlainSmsDowngrade)
        assertFalse(TransportPolicy.present(sottoOffline.copy(canSendSms = false), SmsFallbackPolicy.ASK).offerPlainSmsDowngrade)
    }
}
