package org.sotto.logic.intents

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test

class SmsUriTest {
    @Test
    fun `recipient and body`() {
        assertEquals(
            SmsUri(listOf("+447700900123"), "Running late, sorry?"),
            SmsUri.parse("+44%207700%20900123?body=Running%20late%2C%20sorry%3F"),
        )
        assertEquals(SmsUri(listOf("07700900123"), null), SmsUri.parse("07700-900-123"))
    }

    @Test
    fun `several recipients, duplicates and junk dropped`() {
        assertEquals(
            SmsUri(listOf("+447700900123", "+33612345678"), "x"),
            SmsUri.parse("+447700900123,+33612345678;+44%207700900123,someone@example.org?foo=1&body=x"),
        )
    }

    @Test
    fun `nothing dialable or broken escapes give null`() {
        assertNull(SmsUri.parse(""))
        assertNull(SmsUri.parse("?body=hi"))
        assertNull(SmsUri.parse("alice"))
        assertNull(SmsUri.parse("%ZZ12345"))
        assertEquals(SmsUri(listOf("12345"), null), SmsUri.parse("12345?body=%G1"))
        assertEquals(SmsUri(listOf("12345"), "\uFFFD"), SmsUri.parse("12345?body=%E2%82"))
    }

    @Test
    fun `toString hides the numbers and the text`() {
        val text = SmsUri.parse("+447700900123?body=secret").toString()
        assertFalse("7700" in text)
        assertFalse("secret" in text)
    }
}
