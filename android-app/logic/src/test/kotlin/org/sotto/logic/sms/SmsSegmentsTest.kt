package org.sotto.logic.sms

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Test

class SmsSegmentsTest {
    @Test
    fun `gsm 7-bit fits 160 in one and 153 per part`() {
        assertEquals(SmsCost(SmsEncoding.GSM_7BIT, 1, 160), SmsSegments.cost(""))
        assertEquals(SmsCost(SmsEncoding.GSM_7BIT, 1, 0), SmsSegments.cost("a".repeat(160)))
        assertEquals(SmsCost(SmsEncoding.GSM_7BIT, 2, 153 - 8), SmsSegments.cost("a".repeat(161)))
        assertEquals(2, SmsSegments.cost("a".repeat(306)).segments)
        assertEquals(3, SmsSegments.cost("a".repeat(307)).segments)
    }

    @Test
    fun `extension characters cost two septets and are not split`() {
        assertEquals(SmsCost(SmsEncoding.GSM_7BIT, 1, 0), SmsSegments.cost("€".repeat(80)))
        // 152 plain + one escape pair does not fit the first part's 153 septets.
        val cost = SmsSegments.cost("a".repeat(152) + "€" + "a".repeat(10))
        assertEquals(2, cost.segments)
        assertEquals(153 - 12, cost.unitsLeftInLastSegment)
    }

    @Test
    fun `anything outside the gsm alphabet is ucs-2, 70 or 67 per part, pairs kept whole`() {
        assertEquals(SmsCost(SmsEncoding.UCS2, 1, 69), SmsSegments.cost("ж"))
        assertEquals(SmsCost(SmsEncoding.UCS2, 1, 0), SmsSegments.cost("ж".repeat(70)))
        assertEquals(2, SmsSegments.cost("ж".repeat(71)).segments)
        // 66 units then an emoji (2 units) must move the emoji to the next part.
        val cost = SmsSegments.cost("ж".repeat(66) + "😀" + "ж".repeat(3))
        assertEquals(SmsCost(SmsEncoding.UCS2, 2, 67 - 5), cost)
    }

    @Test
    fun `multipart reports fold into one status per message`() {
        val t = MultipartSendTracker(3)
        assertNull(t.onSent(0, SendResult.OK))
        assertNull(t.onSent(0, SendResult.OK))
        assertNull(t.onSent(2, SendResult.OK))
        assertEquals(MessageSendStatus.SENT, t.onSent(1, SendResult.OK))
        assertNull(t.onDelivered(0, DeliveryResult.DELIVERED))
        assertNull(t.onDelivered(1, DeliveryResult.PENDING))
        assertNull(t.onDelivered(2, DeliveryResult.DELIVERED))
        assertEquals(MessageSendStatus.DELIVERED, t.onDelivered(1, DeliveryResult.DELIVERED))
        assertNull(t.onDelivered(1, DeliveryResult.DELIVERED))
    }

    @Test
    fun `the first failed part decides, once`() {
        val t = MultipartSendTracker(2)
        assertEquals(MessageSendStatus.FAILED_RETRYABLE, t.onSent(1, SendResult.fromResultCode(4)))
        assertNull(t.onSent(0, SendResult.OK))
        val u = MultipartSendTracker(2)
        assertEquals(MessageSendStatus.FAILED, u.onSent(0, SendResult.fromResultCode(1)))
        assertNull(u.onSent(5, SendResult.OK))
        assertThrows(IllegalArgumentException::class.java) { MultipartSendTracker(0) }
    }

    @Test
    fun `result codes and tp-status map as the platform and 3gpp define them`() {
        assertEquals(SendResult.OK, SendResult.fromResultCode(-1))
        assertEquals(SendResult.RADIO_OFF, SendResult.fromResultCode(2))
        assertEquals(SendResult.FAILED, SendResult.fromResultCode(3))
        assertEquals(DeliveryResult.DELIVERED, DeliveryResult.fromTpStatus(0x00))
        assertEquals(DeliveryResult.PENDING, DeliveryResult.fromTpStatus(0x21))
        assertEquals(DeliveryResult.FAILED, DeliveryResult.fromTpStatus(0x41))
        assertEquals(DeliveryResult.FAILED, DeliveryResult.fromTpStatus(0x65))
    }
}
