package org.sotto.logic.mms

/**
 * A Content-type value (WAP-230-WSP §8.4.2.24): the media type and the
 * parameters MMS uses. Unknown parameters are skipped.
 */
class WspContentType(
    /** The media type, lower case (`image/jpeg`). */
    val mediaType: String,
    /** The charset parameter (an IANA MIBenum), if given. */
    val charset: Int? = null,
    /** The name parameter (Name or Filename), if given. */
    val name: String? = null,
    /** The multipart/related `type` parameter, if given. */
    val type: String? = null,
    /** The multipart/related `start` parameter, if given. */
    val start: String? = null,
) {
    override fun toString(): String = "WspContentType($mediaType)"

    /** Writes this content type: the short form when there are no parameters. */
    fun writeTo(out: WspWriter) {
        if (charset == null && name == null && type == null && start == null) {
            writeMedia(out)
            return
        }
        out.lengthPrefixed {
            writeMedia(this)
            charset?.let { shortInt(PARAM_CHARSET); if (it < 0x80) shortInt(it) else longInteger(it.toLong()) }
            // The encoding-version 1.1 tokens, which every decoder knows.
            name?.let { shortInt(PARAM_NAME_V11); text(it) }
            type?.let { shortInt(PARAM_TYPE_RELATED); text(it) }
            start?.let { shortInt(PARAM_START_V11); text(it) }
        }
    }

    private fun writeMedia(out: WspWriter) {
        val code = WELL_KNOWN.indexOf(mediaType)
        if (code in 0..127) out.shortInt(code) else out.text(mediaType)
    }

    companion object {
        /** Parameter tokens (WSP Table 38), as encoding version 1.1+ assigns them. */
        private const val PARAM_Q = 0x00
        private const val PARAM_CHARSET = 0x01
        private const val PARAM_TYPE = 0x03
        private const val PARAM_NAME_V11 = 0x05
        private const val PARAM_FILENAME_V11 = 0x06
        private const val PARAM_TYPE_RELATED = 0x09
        private const val PARAM_START_V11 = 0x0A
        private const val PARAM_NAME = 0x17
        private const val PARAM_FILENAME = 0x18
        private const val PARAM_START = 0x19

        /** Well-known media types (WSP Table 40 and the WINA list), by their code. */
        val WELL_KNOWN: List<String> = listOf(
            "*/*", "text/*", "text/html", "text/plain", "text/x-hdml", "text/x-ttml",
            "text/x-vcalendar", "text/x-vcard", "text/vnd.wap.wml", "text/vnd.wap.wmlscript",
            "text/vnd.wap.wta-event", "multipart/*", "multipart/mixed", "multipart/form-data",
            "multipart/byterantes", "multipart/alternative", "application/*", "application/java-vm",
            "application/x-www-form-urlencoded", "application/x-hdmlc", "application/vnd.wap.wmlc",
            "application/vnd.wap.wmlscriptc", "application/vnd.wap.wta-eventc",
            "application/vnd.wap.uaprof", "application/vnd.wap.wtls-ca-certificate",
            "application/vnd.wap.wtls-user-certificate", "application/x-x509-ca-cert",
            "application/x-x509-user-cert", "image/*", "image/gif", "image/jpeg", "image/tiff",
            "image/png", "image/vnd.wap.wbmp", "application/vnd.wap.multipart.*",
            "application/vnd.wap.multipart.mixed", "application/vnd.wap.multipart.form-data",
            "application/vnd.wap.multipart.byteranges", "application/vnd.wap.multipart.alternative",
            "application/xml", "text/xml", "application/vnd.wap.wbxml",
            "application/x-x968-cross-cert", "application/x-x968-ca-cert",
            "application/x-x968-user-cert", "text/vnd.wap.si", "application/vnd.wap.sic",
            "text/vnd.wap.sl", "application/vnd.wap.slc", "text/vnd.wap.co",
            "application/vnd.wap.coc", "application/vnd.wap.multipart.related",
            "application/vnd.wap.sia", "text/vnd.wap.connectivity-xml",
            "application/vnd.wap.connectivity-wbxml", "application/pkcs7-mime",
            "application/vnd.wap.hashed-certificate", "application/vnd.wap.signed-certificate",
            "application/vnd.wap.cert-response", "application/xhtml+xml", "application/wml+xml",
            "text/css", "application/vnd.wap.mms-message",
        )

        /** Reads a Content-type value from [r]. */
        fun read(r: WspReader): WspContentType {
            val first = r.peek("content type")
            if (first >= 0x80) return WspContentType(mediaOf((r.octet() and 0x7F).toLong()))
            if (first > 31) return WspContentType(textMedia(r.textBytes("content type")))
            // Content-general-form: Value-length Media-type *(Parameter)
            val body = r.sub(r.valueLength("content type"), "content type")
            val media = when {
                body.peek("media type") >= 0x80 || body.peek("media type") <= 30 ->
                    mediaOf(body.integer("media type"))
                else -> textMedia(body.textBytes("media type"))
            }
            var charset: Int? = null
            var name: String? = null
            var type: String? = null
            var start: String? = null
            while (!body.atEnd) {
                if (body.peek("parameter") >= 0x80) {
                    when (val token = body.octet() and 0x7F) {
                        PARAM_Q -> body.uintvar("q parameter")
                        PARAM_CHARSET -> charset = readCharset(body)
                        PARAM_NAME, PARAM_NAME_V11, PARAM_FILENAME, PARAM_FILENAME_V11 -> {
                            val value = WspCharsets.decode(body.textBytes("name parameter"), null)
                            // Name wins over Filename when a part gives both.
                            if (name == null || token == PARAM_NAME || token == PARAM_NAME_V11) name = value
                        }
                        PARAM_TYPE_RELATED, PARAM_TYPE -> type = when (val v = body.value("type parameter")) {
                            is WspValue.Short -> mediaOf(v.value.toLong())
                            is WspValue.Text -> textMedia(v.bytes)
                            is WspValue.Long -> mediaOf(WspReader.longFrom(v.bytes, "type parameter"))
                        }
                        PARAM_START, PARAM_START_V11 -> start = WspCharsets.decode(body.textBytes("start parameter"), null)
                        else -> body.value("parameter")
                    }
                } else {
                    // Untyped-parameter: Token-text Untyped-value.
                    body.textBytes("parameter name")
                    body.value("parameter value")
                }
            }
            return WspContentType(media, charset, name, type, start)
        }

        private fun readCharset(r: WspReader): Int? {
            if (r.peek("charset") == 0x80) {
                r.octet()
                return null // Any-charset
            }
            if (r.peek("charset") in 32..127) {
                // A charset by name, which some senders write out.
                val name = String(r.textBytes("charset"), Charsets.US_ASCII).lowercase()
                return if (name == "utf-8") WspCharsets.UTF_8 else null
            }
            return r.integer("charset").takeIf { it <= Int.MAX_VALUE }?.toInt()
        }

        private fun mediaOf(code: Long): String =
            WELL_KNOWN.getOrNull(code.toInt().takeIf { code <= 0xFFFF } ?: -1) ?: "application/octet-stream"

        private fun textMedia(bytes: ByteArray): String =
            String(bytes, Charsets.US_ASCII).trim().lowercase().ifEmpty { "application/octet-stream" }
    }
}
