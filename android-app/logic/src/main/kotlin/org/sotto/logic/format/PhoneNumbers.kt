/**
 * Phone numbers as typed, stored and matched. This is deliberately not a full
 * numbering-plan library: display grouping is left to the platform
 * (`PhoneNumberUtils.formatNumber` in `:app`); here are the rules the app
 * relies on to route and match numbers. Numbers never go into logs or
 * exception messages.
 */
package org.sotto.logic.format

/** Normalizing, comparing and displaying phone numbers. */
object PhoneNumbers {
    /** E.164 allows at most 15 digits (ITU-T E.164 §6). */
    private const val MAX_DIGITS = 15

    /** Short codes (carrier services, "3 digits" emergency numbers) have at least this many. */
    private const val MIN_DIGITS = 3

    private val separators = setOf(' ', '-', '.', '(', ')', '/', '\u00A0')

    /**
     * The number as digits with an optional leading `+`: separators removed,
     * the international prefix `00` turned into `+`. Null when [raw] is not a
     * dialable number (letters, a `+` in the middle, too few or too many
     * digits), so the caller can say so instead of sending to a wrong number.
     */
    fun normalize(raw: String): String? {
        val trimmed = raw.trim()
        val out = StringBuilder()
        for ((i, c) in trimmed.withIndex()) {
            when {
                c in '0'..'9' -> out.append(c)
                c == '+' && i == 0 -> out.append(c)
                c in separators -> Unit
                else -> return null
            }
        }
        var number = out.toString()
        if (number.startsWith("00")) number = "+" + number.substring(2)
        val digits = number.count { it in '0'..'9' }
        if (digits < MIN_DIGITS || digits > MAX_DIGITS) return null
        if (number.startsWith("+") && digits < 7) return null
        return number
    }

    /**
     * What the dialer may dial: digits, a leading `+`, the service codes `*`
     * and `#` (USSD such as `*#06#`), and `,`/`;` (pause and wait, as the
     * platform's dial strings allow); separators removed. Null when anything
     * else is in it or there is no digit.
     */
    fun dialString(raw: String): String? {
        val out = StringBuilder()
        for (c in raw.trim()) {
            when {
                c in '0'..'9' || c == '*' || c == '#' || c == ',' || c == ';' -> out.append(c)
                c == '+' && out.isEmpty() -> out.append(c)
                c in separators -> Unit
                else -> return null
            }
        }
        val s = out.toString()
        return s.takeIf { it.any { c -> c in '0'..'9' } && it.length <= 64 }
    }

    /**
     * Whether [a] and [b] are the same line. Equal after normalization, or an
     * international number (`+44 7700 900123`) and its national form with a
     * trunk `0` (`07700 900123`) when [countryCallingCode] (e.g. "44") is the
     * user's own. Stricter than Android's loose "last seven digits" match on
     * purpose: an encrypted conversation must not be attached to the wrong
     * contact.
     */
    fun sameNumber(a: String, b: String, countryCallingCode: String?): Boolean {
        val na = normalize(a) ?: return false
        val nb = normalize(b) ?: return false
        if (na == nb) return true
        val cc = countryCallingCode ?: return false
        val nationalA = national(na, cc) ?: return false
        return nationalA == national(nb, cc)
    }

    private fun national(number: String, cc: String): String? = when {
        number.startsWith("+$cc") -> number.substring(1 + cc.length)
        number.startsWith("0") && !number.startsWith("00") -> number.substring(1)
        else -> null
    }

    /**
     * The number for display: the platform's grouping ([group], which may
     * return null when it has none for the number) of the normalized number,
     * else the normalized number, else what was typed, trimmed.
     */
    fun display(raw: String, group: (String) -> String?): String {
        val normalized = normalize(raw) ?: return raw.trim()
        return group(normalized) ?: normalized
    }
}
