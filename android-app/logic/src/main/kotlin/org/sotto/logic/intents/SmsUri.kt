/**
 * The recipients and text of an `sms:`, `smsto:`, `mms:` or `mmsto:` URI, as
 * other apps hand them to the default SMS app with `SENDTO` (RFC 5724:
 * `sms:<recipient>[,<recipient>]*[?body=<text>]`; the `smsto:` forms follow
 * the same shape). `:app` passes the URI's *encoded* scheme-specific part, so
 * a `,` or `?` inside an escaped body cannot split it wrongly.
 */
package org.sotto.logic.intents

import org.sotto.logic.format.PhoneNumbers
import java.net.URLDecoder

/** What a compose URI asks for. */
data class SmsUri(val recipients: List<String>, val body: String?) {
    override fun toString(): String = "SmsUri(recipients=${recipients.size}, body=${body != null})"

    companion object {
        /**
         * Parses the encoded scheme-specific part ("+44%207700%20900123?body=Hi").
         * Recipients that are not dialable numbers are dropped (an e-mail address
         * from an old client, a name); null when none is left.
         */
        fun parse(encodedSchemeSpecificPart: String): SmsUri? {
            val query = encodedSchemeSpecificPart.indexOf('?')
            val to = if (query < 0) encodedSchemeSpecificPart else encodedSchemeSpecificPart.substring(0, query)
            val recipients = to.split(',', ';')
                .mapNotNull { decode(it)?.let(PhoneNumbers::normalize) }
                .distinct()
            if (recipients.isEmpty()) return null
            val body = if (query < 0) {
                null
            } else {
                encodedSchemeSpecificPart.substring(query + 1).split('&')
                    .firstOrNull { it.startsWith("body=", ignoreCase = true) }
                    ?.let { decode(it.substring(5)) }
            }
            return SmsUri(recipients, body)
        }

        /**
         * Percent-decoding (RFC 3986 §2.1); `+` stays `+`, since it begins
         * international numbers. A malformed escape makes the part unreadable
         * (null); malformed UTF-8 decodes to U+FFFD, as the JDK and Android do.
         * The charset-name overload: the `Charset` one is API 33 on Android.
         */
        private fun decode(part: String): String? = try {
            URLDecoder.decode(part.replace("+", "%2B"), "UTF-8")
        } catch (e: IllegalArgumentException) {
            null
        }
    }
}
