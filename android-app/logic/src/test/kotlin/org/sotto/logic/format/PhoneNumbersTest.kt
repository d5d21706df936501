package org.sotto.logic.format

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class PhoneNumbersTest {
    @Test
    fun `normalize strips separators and turns 00 into plus`() {
        assertEquals("+447700900123", PhoneNumbers.normalize(" +44 (7700) 900-123 "))
        assertEquals("+33612345678", PhoneNumbers.normalize("0033 6 12 34 56 78"))
        assertEquals("07700900123", PhoneNumbers.normalize("07700\u00A0900123"))
        assertEquals("112", PhoneNumbers.normalize("112"))
    }

    @Test
    fun `normalize refuses what is not a dialable number`() {
        assertNull(PhoneNumbers.normalize(""))
        assertNull(PhoneNumbers.normalize("12"))
        assertNull(PhoneNumbers.normalize("1-800-FLOWERS"))
        assertNull(PhoneNumbers.normalize("+44+7700"))
        assertNull(PhoneNumbers.normalize("+1234567890123456"))
        assertNull(PhoneNumbers.normalize("+123"))
        assertNull(PhoneNumbers.normalize("٠١٢٣٤٥٦٧"))
    }

    @Test
    fun `same number across international and national forms in the user's country only`() {
        assertTrue(PhoneNumbers.sameNumber("+44 7700 900123", "07700 900123", "44"))
        assertTrue(PhoneNumbers.sameNumber("+44 7700 900123", "0044-7700-900123", null))
        assertFalse(PhoneNumbers.sameNumber("+44 7700 900123", "07700 900123", "33"))
        assertFalse(PhoneNumbers.sameNumber("+44 7700 900123", "+44 7700 900124", "44"))
        // Same last seven digits is not the same line.
        assertFalse(PhoneNumbers.sameNumber("+44 7700 900123", "+1 415 900 0123", "44"))
        // Two numbers in neither form must not match through "both unknown".
        assertFalse(PhoneNumbers.sameNumber("+1 415 555 0100", "+1 415 555 0199", "44"))
        assertFalse(PhoneNumbers.sameNumber("abc", "abc", "44"))
    }

    @Test
    fun `dial strings keep service codes and pauses`() {
        assertEquals("*#06#", PhoneNumbers.dialString("*#06#"))
        assertEquals("*100#", PhoneNumbers.dialString(" *100# "))
        assertEquals("+441234567890,,123#", PhoneNumbers.dialString("+44 1234 567890,,123#"))
        assertNull(PhoneNumbers.dialString("*#"))
        assertNull(PhoneNumbers.dialString("12+3"))
        assertNull(PhoneNumbers.dialString("call me"))
    }

    @Test
    fun `display uses the platform grouping, else the normalized number, else the input`() {
        assertEquals("+44 7700 900123", PhoneNumbers.display("+447700900123") { "+44 7700 900123" })
        assertEquals("+447700900123", PhoneNumbers.display("+44-7700-900123") { null })
        assertEquals("Voicemail", PhoneNumbers.display(" Voicemail ") { "unused" })
    }
}
