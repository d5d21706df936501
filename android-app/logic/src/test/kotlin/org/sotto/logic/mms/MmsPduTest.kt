package org.sotto.logic.mms

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.sotto.logic.core.CoreException
import java.io.ByteArrayOutputStream
import kotlin.random.Random

/**
 * PDUs built octet by octet from OMA-MMS-ENC v1.3 §7 and WAP-230-WSP §8,
 * shaped like what carriers send.
 */
class MmsPduTest {
    /** Builds a PDU from octets (Ints) and strings (written as their UTF-8 octets). */
    private fun pdu(vararg items: Any): ByteArray {
        val out = ByteArrayOutputStream()
        for (item in items) when (item) {
            is Int -> out.write(item)
            is String -> out.write(item.toByteArray(Charsets.UTF_8))
            is ByteArray -> out.write(item)
            else -> error("bad item")
        }
        return out.toByteArray()
    }

    private val location = "http://mms.example.net/mms/wapenc?T=abcd0042"

    private val notification = pdu(
        0x8C, 0x82, // X-Mms-Message-Type: m-notification-ind
        0x98, "T1234abcd", 0, // X-Mms-Transaction-Id
        0x8D, 0x92, // X-Mms-MMS-Version: 1.2
        0x89, 23, 0x80, "+4930901820/TYPE=PLMN", 0, // From: Address-present-token
        0x96, 9, 0xEA, "Grüße", 0, // Subject: UTF-8 Encoded-string-value
        0x8A, 0x80, // X-Mms-Message-Class: Personal
        0x8E, 3, 0x01, 0x86, 0xA0, // X-Mms-Message-Size: 100000
        0x88, 5, 0x81, 3, 0x09, 0x3A, 0x80, // X-Mms-Expiry: relative, 604800 s
        0x83, location, 0, // X-Mms-Content-Location
    )

    private val photo = byteArrayOf(0xFF.toByte(), 0xD8.toByte(), 0xFF.toByte(), 0xE0.toByte(), 0, 16, 'J'.code.toByte(), 'F'.code.toByte())

    private fun part(headers: ByteArray, data: ByteArray): ByteArray {
        val w = WspWriter().uintvar(headers.size).uintvar(data.size).bytes(headers).bytes(data)
        return w.toByteArray()
    }

    private val smilPart = part(pdu("application/smil", 0, 0xC0, 0x22, "<smil>", 0), pdu("<smil><body/></smil>"))
    private val textPart = part(pdu(3, 0x83, 0x81, 0xEA, 0x8E, "text_0.txt", 0), pdu("Hallo 👋"))
    private val latinPart = part(pdu(3, 0x83, 0x81, 0x84), byteArrayOf('G'.code.toByte(), 'r'.code.toByte(), 0xFC.toByte(), 0xDF.toByte(), 'e'.code.toByte()))
    private val photoPart = part(pdu(12, 0x9E, 0x85, "photo.jpg", 0, 0x8E, "photo.jpg", 0), photo)
    private val audioPart = part(pdu("audio/amr", 0, 0x8E, "voice.amr", 0), pdu("#!AMR\n"))

    private val retrieveHeaders = pdu(
        0x8C, 0x84, // m-retrieve-conf
        0x98, "tid-5", 0,
        0x8D, 0x92,
        0x8B, "msg-1@mmsc", 0, // Message-ID
        0x85, 4, 0x65, 0x53, 0xF1, 0x00, // Date: 1700000000
        0x89, 23, 0x80, "+4930901820/TYPE=PLMN", 0,
        0x97, "+4940123456/TYPE=PLMN", 0, // To
        0x97, "+4915112345678/TYPE=PLMN", 0, // To
        0x82, "bob@example.org", 0, // Cc
        0x96, "Holiday", 0, // Subject, plain Text-string
        "X-Carrier-Thing", 0, "whatever", 0, // an application header
        // Content-Type: multipart.related; type="application/smil"; start="<smil>"
        0x84, 27, 0xB3, 0x89, "application/smil", 0, 0x8A, "<smil>", 0,
    )

    private val retrieveConf = pdu(retrieveHeaders, 5, smilPart, textPart, photoPart, latinPart, audioPart)

    @Test
    fun `a notification says where to fetch the MMS`() {
        assertEquals(MmsPdu.NOTIFICATION_IND, MmsPdu.messageType(notification))
        val n = MmsPdu.parseNotification(notification)
        assertEquals("T1234abcd", n.transactionId)
        assertEquals(location, n.contentLocation)
        assertEquals("+4930901820", n.from)
        assertEquals("Grüße", n.subject)
        assertEquals(100_000L, n.messageSize)
        assertEquals(MmsExpiry.After(604_800), n.expiry)
        assertFalse(n.toString().contains("4930901820"), "no number in toString")
    }

    @Test
    fun `a retrieved group MMS gives its people, text and parts`() {
        val m = MmsPdu.parseRetrieveConf(retrieveConf)
        assertEquals("+4930901820", m.from)
        assertEquals(listOf("+4940123456", "+4915112345678"), m.to)
        assertEquals(listOf("bob@example.org"), m.cc)
        assertEquals(1_700_000_000L, m.dateSeconds)
        assertEquals("Holiday", m.subject)
        assertEquals("msg-1@mmsc", m.messageId)
        assertEquals("tid-5", m.transactionId)
        // Both text parts, each in its own charset; the SMIL is dropped.
        assertEquals("Hallo 👋\nGrüße", m.text)
        assertEquals(
            listOf(MmsPart("image/jpeg", "photo.jpg", photo), MmsPart("audio/amr", "voice.amr", pdu("#!AMR\n"))),
            m.attachments,
        )
        assertEquals(0, m.skippedParts)
        assertFalse(m.toString().contains("Hallo"))
    }

    @Test
    fun `a single-part MMS and a hidden sender`() {
        val m = MmsPdu.parseRetrieveConf(
            pdu(0x8C, 0x84, 0x8D, 0x90, 0x89, 1, 0x81, 0x84, 0x83, "just text"),
        )
        assertNull(m.from)
        assertNull(m.transactionId)
        assertEquals("just text", m.text)
        assertTrue(m.attachments.isEmpty())
    }

    @Test
    fun `a retrieve-conf that carries the centre's error is refused`() {
        // X-Mms-Retrieve-Status: Error-permanent-message-not-found (0xE1), with an explanatory text body.
        val failed = pdu(0x8C, 0x84, 0x98, "tid", 0, 0x8D, 0x92, 0x99, 0xE1, 0x84, 0x83, "Message not found")
        assertMalformed(failed, "the MMS centre could not give the message (status 225)")
        val ok = pdu(0x8C, 0x84, 0x8D, 0x92, 0x99, 0x80, 0x84, 0x83, "fine")
        assertEquals("fine", MmsPdu.parseRetrieveConf(ok).text)
    }

    @Test
    fun `a nested multipart is counted, not expanded`() {
        val nested = part(pdu(0xA6), pdu(0))
        val m = MmsPdu.parseRetrieveConf(pdu(0x8C, 0x84, 0x8D, 0x92, 0x84, 0xA3, 2, textPart, nested))
        assertEquals("Hallo 👋", m.text)
        assertEquals(1, m.skippedParts)
    }

    @Test
    fun `an unknown charset is read as UTF-8 rather than lost`() {
        val odd = part(pdu(5, 0x83, 0x81, 0x02, 0x7F, 0x7F), pdu("plain"))
        val m = MmsPdu.parseRetrieveConf(pdu(0x8C, 0x84, 0x84, 0xA3, 1, odd))
        assertEquals("plain", m.text)
    }

    @Test
    fun `a send request is written as the spec lays it out`() {
        val request = MmsSendRequest(
            to = listOf("+49 30 901820"),
            text = "Hi",
            attachments = listOf(MmsPart("image/jpeg", "photo.jpg", photo)),
            transactionId = "sotto1",
        )
        val bytes = MmsPdu.encodeSendRequest(request)
        val headers = pdu(
            0x8C, 0x80, 0x98, "sotto1", 0, 0x8D, 0x92,
            0x89, 1, 0x81, // From: insert-address
            0x97, "+4930901820/TYPE=PLMN", 0,
            0x8A, 0x80, 0x86, 0x80, 0x90, 0x81,
            // multipart.related; type=application/smil; start=<smil>
            0x84, 27, 0xB3, 0x89, "application/smil", 0, 0x8A, "<smil>", 0,
            3, // SMIL, text, photo
        )
        assertArrayEquals(headers, bytes.copyOf(headers.size))
        val r = WspReader(bytes, headers.size)
        fun part(): Pair<ByteArray, ByteArray> {
            val headersLength = r.uintvar("h")
            val dataLength = r.uintvar("d")
            return r.bytes(headersLength, "h") to r.bytes(dataLength, "d")
        }
        val (smilHeaders, smil) = part()
        assertArrayEquals(pdu("application/smil", 0, 0x8E, "smil.xml", 0, 0xC0, 0x22, "<smil>", 0), smilHeaders)
        val presentation = String(smil, Charsets.UTF_8)
        assertTrue(presentation.contains("""<par dur="5000ms"><img src="photo.jpg" region="Image"/><text src="text.txt" region="Text"/></par>"""), presentation)
        val (textHeaders, text) = part()
        assertArrayEquals(pdu(3, 0x83, 0x81, 0xEA, 0x8E, "text.txt", 0, 0xC0, 0x22, "<p1>", 0), textHeaders)
        assertArrayEquals(pdu("Hi"), text)
        val (photoHeaders, data) = part()
        assertArrayEquals(pdu(12, 0x9E, 0x85, "photo.jpg", 0, 0x8E, "photo.jpg", 0, 0xC0, 0x22, "<p2>", 0), photoHeaders)
        assertArrayEquals(photo, data)
        assertTrue(r.atEnd)
    }

    @Test
    fun `part names are made safe and unique`() {
        val request = MmsSendRequest(
            to = listOf("+4930901820"),
            text = "",
            attachments = listOf(
                MmsPart("image/png", "../x<y>\"&.png", pdu(1)),
                MmsPart("image/png", "..xy.png", pdu(2)),
                MmsPart("audio/amr", "\u00e9", pdu(3)),
            ),
            transactionId = "t",
        )
        val back = MmsPdu.parseMessage(MmsPdu.encodeSendRequest(request), MmsPdu.SEND_REQ)
        assertEquals(listOf("..xy.png", "1-..xy.png", "part2"), back.attachments.map { it.name })
        assertEquals("", back.text)
    }

    @Test
    fun `no attachment takes the name of the SMIL, the text or another attachment`() {
        val request = MmsSendRequest(
            to = listOf("+4930901820"),
            text = "hello",
            attachments = listOf(
                MmsPart("application/octet-stream", "smil.xml", pdu(1)),
                MmsPart("text/x-vcard", "text.txt", pdu(2)),
                MmsPart("image/png", "2-a.png", pdu(3)),
                MmsPart("image/png", "a.png", pdu(4)),
                MmsPart("image/png", "a.png", pdu(5)),
                MmsPart("image/png", "a.png", pdu(6)),
                MmsPart("image/png", "4-a.png", pdu(7)),
            ),
            transactionId = "t",
        )
        val bytes = MmsPdu.encodeSendRequest(request)
        val back = MmsPdu.parseMessage(bytes, MmsPdu.SEND_REQ)
        val names = back.attachments.map { it.name }
        assertEquals(listOf("0-smil.xml", "1-text.txt", "2-a.png", "a.png", "4-a.png", "5-a.png", "6-4-a.png"), names)
        // Every part of the PDU, the SMIL and the text included, has its own Content-Location.
        val locations = partLocations(bytes)
        assertEquals(locations.size, locations.toSet().size, locations.toString())
        assertEquals(listOf("smil.xml", "text.txt") + names, locations)
    }

    /** The Content-Location of each part of an encoded send request, in order. */
    private fun partLocations(bytes: ByteArray): List<String> {
        // The headers end with the Content-Type, whose last parameter is start="<smil>"; the part count follows.
        val text = String(bytes, Charsets.ISO_8859_1)
        val r = WspReader(bytes, text.indexOf("<smil>\u0000") + 7)
        return List(r.uintvar("count")) {
            val headersLength = r.uintvar("h")
            val dataLength = r.uintvar("d")
            val headers = String(r.bytes(headersLength, "h"), Charsets.ISO_8859_1)
            r.bytes(dataLength, "d")
            headers.substringAfter("\u008E").substringBefore('\u0000')
        }
    }

    @Test
    fun `a send request reads back with the same parts`() {
        val attachments = listOf(
            MmsPart("image/png", "a.png", ByteArray(300) { it.toByte() }),
            MmsPart("video/mp4", null, ByteArray(70_000) { (it * 7).toByte() }),
        )
        val request = MmsSendRequest(
            to = listOf("+4930901820", "+4940123456", "carol@example.org"),
            text = "Ünïcode ✓",
            attachments = attachments,
            subject = "Grüße",
            transactionId = "abc-1",
        )
        val back = MmsPdu.parseMessage(MmsPdu.encodeSendRequest(request), MmsPdu.SEND_REQ)
        assertEquals(listOf("+4930901820", "+4940123456", "carol@example.org"), back.to)
        assertEquals("Grüße", back.subject)
        assertEquals("Ünïcode ✓", back.text)
        assertEquals(listOf(attachments[0], MmsPart("video/mp4", "part1", attachments[1].data)), back.attachments)
        assertNull(back.from)
    }

    @Test
    fun `a send request refuses what it cannot write`() {
        fun req(to: List<String> = listOf("+4930901820"), text: String = "x", tid: String = "t1") =
            MmsSendRequest(to = to, text = text, attachments = emptyList(), transactionId = tid)
        assertThrows(MmsPduException::class.java) { MmsPdu.encodeSendRequest(req(to = emptyList())) }
        assertThrows(MmsPduException::class.java) { MmsPdu.encodeSendRequest(req(text = "")) }
        assertThrows(MmsPduException::class.java) { MmsPdu.encodeSendRequest(req(to = listOf("call me"))) }
        assertThrows(MmsPduException::class.java) { MmsPdu.encodeSendRequest(req(tid = "has space")) }
        // A NUL cannot be in a header (it ends a Text-string); in the text part it is only data.
        val nulSubject = MmsSendRequest(listOf("+4930901820"), "x", emptyList(), subject = "a\u0000b", transactionId = "t1")
        assertThrows(MmsPduException::class.java) { MmsPdu.encodeSendRequest(nulSubject) }
        assertEquals("a\u0000b", MmsPdu.parseMessage(MmsPdu.encodeSendRequest(req(text = "a\u0000b")), MmsPdu.SEND_REQ).text)
    }

    @Test
    fun `the answers to a notification and a download`() {
        assertArrayEquals(
            pdu(0x8C, 0x83, 0x98, "T1234abcd", 0, 0x8D, 0x92, 0x95, 0x81, 0x91, 0x81),
            MmsPdu.encodeNotifyResponse("T1234abcd", MmsStatus.RETRIEVED),
        )
        assertArrayEquals(
            pdu(0x8C, 0x85, 0x98, "tid-5", 0, 0x8D, 0x92, 0x91, 0x80),
            MmsPdu.encodeAcknowledge("tid-5", reportAllowed = true),
        )
    }

    @Test
    fun `after a download the centre gets the answer it asked for`() {
        val withTransaction = MmsPdu.parseRetrieveConf(retrieveConf)
        val stored = MmsDownloadOutcome.STORED
        assertArrayEquals(MmsPdu.encodeAcknowledge("tid-5"), MmsPdu.downloadAnswer(stored, withTransaction, "T1234abcd"))
        assertArrayEquals(MmsPdu.encodeAcknowledge("tid-5"), MmsPdu.downloadAnswer(MmsDownloadOutcome.KEPT_FOR_LATER, withTransaction, "T1234abcd"))
        val without = MmsPdu.parseRetrieveConf(pdu(0x8C, 0x84, 0x84, 0x83, "x"))
        assertArrayEquals(MmsPdu.encodeNotifyResponse("T1234abcd", MmsStatus.RETRIEVED), MmsPdu.downloadAnswer(stored, without, "T1234abcd"))
        assertNull(MmsPdu.downloadAnswer(stored, without, null))
        assertNull(MmsPdu.downloadAnswer(stored, without, "not printable ✓"), "an id the PDU cannot carry")
        assertEquals("Holiday\nHallo 👋\nGrüße", withTransaction.displayText)
        assertEquals("x", without.displayText)
    }

    @Test
    fun `a download that was not kept is never answered Retrieved`() {
        val retrieved = MmsPdu.parseRetrieveConf(retrieveConf)
        // Refused for good (no sender, an e-mail sender, over the core's limit): Rejected, to the notification's
        // transaction, even when the retrieve-conf asked for an acknowledgement (which has no status).
        assertArrayEquals(
            pdu(0x8C, 0x83, 0x98, "T1234abcd", 0, 0x8D, 0x92, 0x95, 0x82, 0x91, 0x81),
            MmsPdu.downloadAnswer(MmsDownloadOutcome.REFUSED, retrieved, "T1234abcd"),
        )
        assertArrayEquals(
            pdu(0x8C, 0x83, 0x98, "T1234abcd", 0, 0x8D, 0x92, 0x95, 0x84, 0x91, 0x81),
            MmsPdu.downloadAnswer(MmsDownloadOutcome.UNREADABLE, null, "T1234abcd"),
        )
        assertNull(MmsPdu.downloadAnswer(MmsDownloadOutcome.REFUSED, retrieved, null))
        // Not kept (the pending copy could not be written, the centre's own error): silence, so the centre keeps it.
        assertNull(MmsPdu.downloadAnswer(MmsDownloadOutcome.NOT_KEPT, retrieved, "T1234abcd"))
        assertNull(MmsPdu.downloadAnswer(MmsDownloadOutcome.STORED, null, null))
        // Only the outcomes that keep no file delete it.
        assertEquals(
            setOf(MmsDownloadOutcome.KEPT_FOR_LATER),
            MmsDownloadOutcome.values().filterNot { it.deletesFile }.toSet(),
        )
    }

    @Test
    fun `why a download failed decides its outcome`() {
        val centreError = assertThrows(MmsPduException::class.java) {
            MmsPdu.parseRetrieveConf(pdu(0x8C, 0x84, 0x98, "tid", 0, 0x8D, 0x92, 0x99, 0xC0, 0x84, 0x83, "try later"))
        }
        assertEquals(0xC0, centreError.centreStatus)
        assertEquals(MmsDownloadOutcome.NOT_KEPT, MmsDownloadOutcome.ofUnreadable(centreError))
        val garbage = assertThrows(MmsPduException::class.java) { MmsPdu.parseRetrieveConf(pdu(0x01, 0x02)) }
        assertNull(garbage.centreStatus)
        assertEquals(MmsDownloadOutcome.UNREADABLE, MmsDownloadOutcome.ofUnreadable(garbage))
        assertEquals(MmsDownloadOutcome.NOT_KEPT, MmsDownloadOutcome.ofFileLength(0), "nothing came")
        assertNull(MmsDownloadOutcome.ofFileLength(1))
        assertNull(MmsDownloadOutcome.ofFileLength(MmsPdu.MAX_PDU_BYTES.toLong()))
        assertEquals(MmsDownloadOutcome.REFUSED, MmsDownloadOutcome.ofFileLength(MmsPdu.MAX_PDU_BYTES + 1L))
        // What the core certainly refuses is refused before it could be kept for the unlock.
        assertNull(MmsDownloadOutcome.ofMessage(MmsPdu.parseRetrieveConf(retrieveConf)))
        assertEquals(MmsDownloadOutcome.REFUSED, MmsDownloadOutcome.ofMessage(MmsPdu.parseRetrieveConf(pdu(0x8C, 0x84, 0x84, 0x83, "x"))))
        val fromEmail = pdu(0x8C, 0x84, 0x89, 17, 0x80, "bob@example.org", 0, 0x84, 0x83, "x")
        assertEquals(MmsDownloadOutcome.REFUSED, MmsDownloadOutcome.ofMessage(MmsPdu.parseRetrieveConf(fromEmail)))
        assertEquals(MmsDownloadOutcome.REFUSED, MmsDownloadOutcome.ofCoreFailure(CoreException.InvalidInput("phone number")))
        assertNull(MmsDownloadOutcome.ofCoreFailure(CoreException.Storage()), "a storage failure keeps the file for later")
        assertNull(MmsDownloadOutcome.ofCoreFailure(CoreException.Internal()))
    }

    @Test
    fun `empty text strings read as empty, in a notification and in a retrieve-conf`() {
        // Subject, Message-ID and Transaction-ID each a lone NUL (an empty Text-string).
        val n = MmsPdu.parseNotification(
            pdu(0x8C, 0x82, 0x98, "T1", 0, 0x8D, 0x92, 0x96, 0, 0x8B, 0, 0x8E, 1, 0x10, 0x83, location, 0),
        )
        assertEquals("", n.subject)
        assertEquals(location, n.contentLocation)
        assertEquals(16L, n.messageSize)
        // An empty Transaction-ID is read; the notification is downloaded, only its answer cannot be written.
        assertEquals("", MmsPdu.parseNotification(pdu(0x8C, 0x82, 0x98, 0, 0x83, location, 0)).transactionId)
        assertThrows(MmsPduException::class.java) { MmsPdu.parseNotification(pdu(0x8C, 0x82, 0x98, "T1", 0, 0x83, 0)) }

        val m = MmsPdu.parseRetrieveConf(
            pdu(
                0x8C, 0x84, 0x98, 0, 0x8D, 0x92, 0x8B, 0, 0x96, 0,
                0x89, 23, 0x80, "+4930901820/TYPE=PLMN", 0,
                0x84, 0x83, "hi",
            ),
        )
        assertEquals("", m.subject)
        assertEquals("", m.messageId)
        assertEquals("", m.transactionId)
        assertEquals("+4930901820", m.from)
        assertEquals("hi", m.displayText)
        // The empty transaction id cannot be acknowledged: the notification is answered instead.
        assertArrayEquals(
            MmsPdu.encodeNotifyResponse("T1", MmsStatus.RETRIEVED),
            MmsPdu.downloadAnswer(MmsDownloadOutcome.STORED, m, "T1"),
        )
        // An empty sender address is no sender; an empty Message-ID names nothing to report on.
        assertNull(MmsPdu.parseRetrieveConf(pdu(0x8C, 0x84, 0x89, 2, 0x80, 0, 0x84, 0x83, "x")).from)
        assertNull(MmsPdu.parseSendConf(pdu(0x8C, 0x81, 0x98, "a", 0, 0x92, 0x80, 0x8B, 0)).messageId)
        assertThrows(MmsPduException::class.java) { MmsPdu.parseDeliveryInd(pdu(0x8C, 0x86, 0x8B, 0, 0x95, 0x81)) }
    }

    @Test
    fun `random send requests read back as they were written`() {
        val random = Random(5)
        // Whole code points (an emoji is two UTF-16 units), NUL included: the text part is data.
        val alphabet = listOf("a", "b", "X", " ", "0", "9", ".", "!", "\n", "€", "ñ", "✓", "😀", "\u0000")
        val types = listOf("image/jpeg", "image/png", "audio/amr", "video/3gpp", "text/x-vcard", "application/octet-stream")
        repeat(300) { round ->
            val text = List(random.nextInt(0, 40)) { alphabet[random.nextInt(alphabet.size)] }.joinToString("")
            val attachments = List(random.nextInt(if (text.isEmpty()) 1 else 0, 5)) { i ->
                MmsPart(types[random.nextInt(types.size)], "f$i.bin", random.nextBytes(random.nextInt(0, 3000)))
            }
            val to = List(random.nextInt(1, 4)) { "+49" + (100_000_000 + random.nextInt(900_000_000)) }
            val subject = if (random.nextBoolean()) "Sub ✓ $round" else null
            val request = MmsSendRequest(to, text, attachments, subject, transactionId = "r$round")
            val back = MmsPdu.parseMessage(MmsPdu.encodeSendRequest(request), MmsPdu.SEND_REQ)
            assertEquals(to, back.to, "round $round")
            assertEquals(subject, back.subject, "round $round")
            assertEquals(text, back.text, "round $round")
            assertEquals(attachments, back.attachments, "round $round")
        }
    }

    @Test
    fun `the MMS centre's answer to a send`() {
        val ok = MmsPdu.parseSendConf(pdu(0x8C, 0x81, 0x98, "abc-1", 0, 0x8D, 0x92, 0x92, 0x80, 0x8B, "0042", 0))
        assertTrue(ok.accepted)
        assertEquals("0042", ok.messageId)
        val refused = MmsPdu.parseSendConf(pdu(0x8C, 0x81, 0x98, "abc-1", 0, 0x8D, 0x92, 0x92, 0xE2))
        assertFalse(refused.accepted)
        assertEquals(0xE2, refused.responseStatus)
    }

    @Test
    fun `a delivery report names the MMS and what became of it`() {
        fun report(status: Int) = MmsPdu.parseDeliveryInd(
            pdu(0x8C, 0x86, 0x8D, 0x92, 0x8B, "0042", 0, 0x97, "+4940123456/TYPE=PLMN", 0, 0x85, 4, 0x65, 0x53, 0xF1, 0x00, 0x95, status),
        )
        val delivered = report(0x81)
        assertEquals("0042", delivered.messageId)
        assertTrue(delivered.delivered)
        assertFalse(delivered.failed)
        assertTrue(report(0x82).failed)
        val deferred = report(0x83)
        assertFalse(deferred.delivered || deferred.failed, "deferred is not final")
        assertThrows(MmsPduException::class.java) { MmsPdu.parseDeliveryInd(pdu(0x8C, 0x86, 0x8D, 0x92, 0x95, 0x81)) }
        assertThrows(MmsPduException::class.java) { MmsPdu.parseDeliveryInd(notification) }
    }

    @Test
    fun `long values round trip through the writer and reader`() {
        for (v in listOf(0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, Int.MAX_VALUE)) {
            assertEquals(v, WspReader(WspWriter().uintvar(v).toByteArray()).uintvar("v"))
        }
        for (v in listOf(0L, 255L, 256L, 1_700_000_000L, Long.MAX_VALUE)) {
            assertEquals(v, WspReader(WspWriter().longInteger(v).toByteArray()).longInteger("v"))
        }
        for (n in listOf(0, 30, 31, 300, 70_000)) {
            val bytes = WspWriter().valueLength(n).bytes(ByteArray(n)).toByteArray()
            assertEquals(n, WspReader(bytes).valueLength("v"))
        }
    }

    @Test
    fun `every truncation is a clear error or a shorter valid PDU`() {
        for (cut in 0 until retrieveConf.size) {
            val prefix = retrieveConf.copyOf(cut)
            // Inside the body, every cut loses a declared length: always an error.
            if (cut > retrieveHeaders.size) {
                assertThrows(MmsPduException::class.java, { MmsPdu.parseRetrieveConf(prefix) }, "cut at $cut")
            } else {
                try {
                    MmsPdu.parseRetrieveConf(prefix)
                } catch (_: MmsPduException) {
                }
            }
        }
        for (cut in 0 until notification.size) {
            assertThrows(MmsPduException::class.java, { MmsPdu.parseNotification(notification.copyOf(cut)) }, "cut at $cut")
        }
    }

    @Test
    fun `hostile lengths and counts are refused before any allocation`() {
        val head = pdu(0x8C, 0x84, 0x84, 0xA3)
        // 2^31 - 1 parts.
        assertMalformed(pdu(head, 0x87, 0xFF, 0xFF, 0xFF, 0x7F), "too many parts")
        // 65 parts: over the limit even when each would be tiny.
        assertMalformed(pdu(head, 65), "too many parts")
        // A part claiming 2 GiB of data.
        assertMalformed(pdu(head, 1, 1, 0x87, 0xFF, 0xFF, 0xFF, 0x7F, 0x83), "truncated part data")
        // A uintvar that never ends, and one beyond Int.
        assertMalformed(pdu(head, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF), "part count: uintvar longer than 5 octets")
        assertMalformed(pdu(head, 0x8F, 0xFF, 0xFF, 0xFF, 0x7F), "part count is too large")
        // A header value claiming more octets than the PDU has.
        assertMalformed(pdu(0x8C, 0x84, 0x96, 31, 0x8F, 0xFF, 0x7F, 0xEA), "truncated header value")
        // A text without its NUL.
        assertMalformed(pdu(0x8C, 0x84, 0x98, "tid"), "text without its terminating NUL")
        // Part headers that overrun the part.
        assertMalformed(pdu(head, 1, 40, 0, 0x83), "truncated part headers")
        // Not an MMS PDU at all, or not the one expected.
        assertMalformed(pdu(0x01, 0x02), "the PDU does not start with its message type")
        assertThrows(MmsPduException::class.java) { MmsPdu.parseNotification(retrieveConf) }
        assertThrows(MmsPduException::class.java) { MmsPdu.parseRetrieveConf(ByteArray(0)) }
        assertMalformed(ByteArray(MmsPdu.MAX_PDU_BYTES + 1), "the PDU is larger than 5120 KiB")
        // Too many headers.
        val many = ByteArrayOutputStream().apply {
            write(byteArrayOf(0x8C.toByte(), 0x84.toByte()))
            repeat(MmsPdu.MAX_HEADERS + 1) { write(byteArrayOf(0x8A.toByte(), 0x80.toByte())) }
        }.toByteArray()
        assertMalformed(many, "too many headers")
    }

    private fun assertMalformed(bytes: ByteArray, message: String) {
        val e = assertThrows(MmsPduException::class.java) { MmsPdu.parseRetrieveConf(bytes) }
        assertTrue(e.message!!.contains(message), "'${e.message}' should say '$message'")
    }

    @Test
    fun `random damage gives a clear error or a message, never anything else, and no content in errors`() {
        val random = Random(20261126)
        var parsed = 0
        var refused = 0
        repeat(3_000) {
            val damaged = retrieveConf.copyOf()
            repeat(1 + random.nextInt(4)) {
                damaged[random.nextInt(damaged.size)] = random.nextInt(256).toByte()
            }
            try {
                MmsPdu.parseRetrieveConf(damaged)
                parsed++
            } catch (e: MmsPduException) {
                refused++
                val message = e.message.orEmpty()
                assertFalse(message.contains("4930901820") || message.contains("Hallo") || message.contains("tid-5"), message)
            }
            try {
                MmsPdu.parseNotification(damaged.copyOf(random.nextInt(damaged.size)))
            } catch (_: MmsPduException) {
            }
        }
        // Both outcomes happen: the damage hits octets that matter and octets that do not.
        assertTrue(parsed > 0 && refused > 0, "parsed $parsed, refused $refused")
    }
}
