/**
 * How many SMS a plain text costs, so the composer can say so before it is
 * sent. GSM 7-bit default alphabet and its extension table per 3GPP TS 23.038
 * §6.2.1; 160 septets in one SMS, 153 per part of a concatenated SMS (the
 * user data header takes 6 octets, TS 23.040 §9.2.3.24.1); UCS-2 for anything
 * else, 70 characters or 67 per part. An escape pair or a surrogate pair is
 * never split across parts, as the platform's own segmentation does not.
 * Encrypted SMS are segmented by the core, not here.
 */
package org.sotto.logic.sms

/** The encoding a plain SMS will use. */
enum class SmsEncoding { GSM_7BIT, UCS2 }

/** What a text costs. */
data class SmsCost(val encoding: SmsEncoding, val segments: Int, val unitsLeftInLastSegment: Int)

/** Counts SMS segments for plain texts. */
object SmsSegments {
    private const val GSM_BASIC =
        "@£\$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
            "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    private const val GSM_EXTENSION = "\u000C^{}\\[~]|€"

    private val basic = GSM_BASIC.toSet()
    private val extension = GSM_EXTENSION.toSet()

    /** The cost of sending [text] as one plain SMS message. An empty text costs one segment. */
    fun cost(text: String): SmsCost =
        if (text.all { it in basic || it in extension }) {
            pack(text.map { if (it in extension) 2 else 1 }, single = 160, part = 153, SmsEncoding.GSM_7BIT)
        } else {
            // UTF-16 code units; a surrogate pair is one unit of 2 that must stay whole.
            val units = mutableListOf<Int>()
            var i = 0
            while (i < text.length) {
                val pair = Character.isHighSurrogate(text[i]) && i + 1 < text.length && Character.isLowSurrogate(text[i + 1])
                units += if (pair) 2 else 1
                i += if (pair) 2 else 1
            }
            pack(units, single = 70, part = 67, SmsEncoding.UCS2)
        }

    private fun pack(units: List<Int>, single: Int, part: Int, encoding: SmsEncoding): SmsCost {
        val total = units.sum()
        if (total <= single) return SmsCost(encoding, 1, single - total)
        var segments = 1
        var used = 0
        for (u in units) {
            if (used + u > part) {
                segments++
                used = 0
            }
            used += u
        }
        return SmsCost(encoding, segments, part - used)
    }
}
