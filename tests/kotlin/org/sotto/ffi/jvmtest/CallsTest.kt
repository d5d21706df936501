package org.sotto.ffi.jvmtest

import java.io.ByteArrayInputStream
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.TimeUnit
import javax.sound.sampled.AudioFileFormat
import javax.sound.sampled.AudioFormat
import javax.sound.sampled.AudioInputStream
import javax.sound.sampled.AudioSystem
import kotlin.math.PI
import kotlin.math.cos
import kotlin.math.sin
import kotlin.math.sqrt
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assertions.fail
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.sotto.ffi.Account
import org.sotto.ffi.AccountEvent
import org.sotto.ffi.CallAudioSpec
import org.sotto.ffi.CallEndReason
import org.sotto.ffi.CallPath
import org.sotto.ffi.CallPhase
import org.sotto.ffi.SottoException

private const val RATE = 48_000

/** A WAV file (48 kHz mono 16-bit) holding a sine of `hz` for `seconds`, written with the JDK's own writer. */
fun writeTone(file: Path, hz: Double, seconds: Double) {
    val count = (RATE * seconds).toInt()
    val bytes = ByteBuffer.allocate(count * 2).order(ByteOrder.LITTLE_ENDIAN)
    for (i in 0 until count) {
        bytes.putShort((0.3 * Short.MAX_VALUE * sin(2 * PI * hz * i / RATE)).toInt().toShort())
    }
    val format = AudioFormat(RATE.toFloat(), 16, 1, true, false)
    val stream = AudioInputStream(ByteArrayInputStream(bytes.array()), format, count.toLong())
    AudioSystem.write(stream, AudioFileFormat.Type.WAVE, file.toFile())
}

/** The samples of a 16-bit mono WAV file, read with the JDK (so a header Sotto failed to finish fails here). */
fun readWav(file: Path): ShortArray {
    AudioSystem.getAudioInputStream(file.toFile()).use { stream ->
        val format = stream.format
        assertEquals(1, format.channels)
        assertEquals(16, format.sampleSizeInBits)
        assertEquals(RATE.toFloat(), format.sampleRate)
        val bytes = stream.readAllBytes()
        val samples = ShortArray(bytes.size / 2)
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asShortBuffer().get(samples)
        return samples
    }
}

/** The amplitude of the `hz` component of `block` (Goertzel). */
fun toneAmplitude(block: ShortArray, from: Int, length: Int, hz: Double): Double {
    val coefficient = 2 * cos(2 * PI * hz / RATE)
    var s1 = 0.0
    var s2 = 0.0
    for (i in from until from + length) {
        val s0 = block[i] + coefficient * s1 - s2
        s2 = s1
        s1 = s0
    }
    val power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
    return 2 * sqrt(maxOf(power, 0.0)) / length
}

/**
 * How many 50 ms blocks of `samples` carry the tone `hz` clearly (an
 * amplitude above a tenth of the one sent) and at least ten times stronger
 * than the tone `other`.
 */
fun blocksWithTone(samples: ShortArray, hz: Double, other: Double): Int {
    val block = RATE / 20
    return (0 until samples.size / block).count { b ->
        val wanted = toneAmplitude(samples, b * block, block, hz)
        val unwanted = toneAmplitude(samples, b * block, block, other)
        wanted > 0.03 * Short.MAX_VALUE && wanted > 10 * unwanted
    }
}

/**
 * Encrypted calls between two accounts in one JVM through a real
 * `sotto-relay` on loopback (with its TURN server), with WAV files as
 * microphone and speaker.
 */
class CallsTest {
    @TempDir
    lateinit var dir: Path
    private lateinit var relay: RelayProcess

    @BeforeEach
    fun startRelay() {
        relay = RelayProcess(dir.resolve("relay"), turn = true)
    }

    @AfterEach
    fun stopRelay() {
        relay.close()
    }

    private fun create(name: String) =
        Account.createWithKey(dir.resolve(name).toString(), newKey(), relay.invite, testOptions())

    private val aliceTone = 600.0
    private val bobTone = 1500.0

    /** Two connected accounts that know each other, with their event logs. */
    private class Pair(
        val alice: Account,
        val aliceEvents: EventLog,
        val bob: Account,
        val bobEvents: EventLog,
        val bobAtAlice: String,
        val aliceAtBob: String,
    )

    private fun withPair(beforeConnect: (Account) -> Unit = {}, test: (Pair) -> Unit) {
        create("alice").use { alice ->
            create("bob").use { bob ->
                val aliceEvents = EventLog()
                val bobEvents = EventLog()
                alice.subscribe(aliceEvents).use {
                    bob.subscribe(bobEvents).use {
                        // Bob's prekeys must be on the relay before Alice starts a session.
                        bob.register()
                        val bobAtAlice = alice.addContact(bob.contactInvite(), "Bob")
                        val aliceAtBob = bob.addContact(alice.contactInvite(), "Alice")
                        beforeConnect(alice)
                        alice.connect()
                        bob.connect()
                        aliceEvents.await("Connected for Alice") { it as? AccountEvent.Connected }
                        bobEvents.await("Connected for Bob") { it as? AccountEvent.Connected }
                        test(Pair(alice, aliceEvents, bob, bobEvents, bobAtAlice, aliceAtBob))
                        alice.disconnect()
                        bob.disconnect()
                    }
                }
            }
        }
    }

    private fun files(name: String, hz: Double, seconds: Double = 4.0): CallAudioSpec.Files {
        val input = dir.resolve("$name-says.wav")
        writeTone(input, hz, seconds)
        return CallAudioSpec.Files(input.toString(), dir.resolve("$name-heard.wav").toString())
    }

    /** Waits until `account`'s call has played out `frames` frames decoded from the other side's packets. */
    private fun awaitDecodedFrames(account: Account, frames: ULong) {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60)
        while ((account.callStatus().stats?.framesDecoded ?: 0uL) < frames) {
            if (System.nanoTime() > deadline) fail<Unit>("no audio arrived")
            Thread.sleep(50)
        }
    }

    @Test
    fun `a call carries audio both ways, both phones show the same words, and hanging up ends both`() = withPair { p ->
        val aliceAudio = files("alice", aliceTone)
        val bobAudio = files("bob", bobTone)

        val callId = p.alice.placeCall(p.bobAtAlice, aliceAudio)
        assertEquals(32, callId.length)
        assertEquals(CallPhase.OUTGOING_RINGING, p.alice.callStatus().phase)
        expectThrows<SottoException.CallInProgress> { p.alice.placeCall(p.bobAtAlice, aliceAudio) }

        // Bob's phone rings: the event tells who calls, and he answers.
        val ringing = p.bobEvents.await("the incoming call at Bob") {
            (it as? AccountEvent.CallStateChanged)?.takeIf { e -> e.phase == CallPhase.INCOMING_RINGING }
        }
        assertEquals(callId, ringing.callId)
        assertEquals(p.aliceAtBob, ringing.contactId)
        assertEquals(callId, p.bob.answerCall(bobAudio))

        fun connected(log: EventLog, who: String): Triple<List<String>, CallPath, Boolean> {
            val events = log.collectUntil("$who's call connecting") { seen ->
                seen.any { it is AccountEvent.CallSas } &&
                    seen.any { it is AccountEvent.CallMediaStarted } &&
                    seen.any { it is AccountEvent.CallStateChanged && it.phase == CallPhase.CONNECTED }
            }
            val sas = events.filterIsInstance<AccountEvent.CallSas>().single()
            val media = events.filterIsInstance<AccountEvent.CallMediaStarted>().single()
            assertEquals(callId, sas.callId)
            assertEquals(callId, media.callId)
            val ended = events.any { it is AccountEvent.CallEnded }
            return Triple(sas.words, media.path, ended)
        }
        val (aliceWords, alicePath, aliceEnded) = connected(p.aliceEvents, "Alice")
        val (bobWords, bobPath, bobEnded) = connected(p.bobEvents, "Bob")
        assertFalse(aliceEnded || bobEnded, "the call ended early")
        assertEquals(2, aliceWords.size)
        assertEquals(aliceWords, bobWords, "both phones must show the same authentication words")
        // Both on loopback: the direct path wins.
        assertEquals(CallPath.DIRECT, alicePath)
        assertEquals(CallPath.DIRECT, bobPath)

        awaitDecodedFrames(p.alice, 100uL)
        awaitDecodedFrames(p.bob, 100uL)
        val status = p.alice.callStatus()
        assertEquals(CallPhase.CONNECTED, status.phase)
        assertEquals(callId, status.callId)
        assertEquals(p.bobAtAlice, status.contactId)
        assertTrue(status.outgoing)
        assertEquals(aliceWords, status.sasWords)
        assertEquals(CallPath.DIRECT, status.path)
        assertFalse(p.bob.callStatus().outgoing)

        p.alice.hangUpCall()
        val aliceEnd = p.aliceEvents.await("the end of the call at Alice") { it as? AccountEvent.CallEnded }
        val bobEnd = p.bobEvents.await("the end of the call at Bob") { it as? AccountEvent.CallEnded }
        assertEquals(CallEndReason.HUNG_UP_HERE, aliceEnd.reason)
        assertEquals(CallEndReason.HUNG_UP_THERE, bobEnd.reason)
        assertEquals(callId, bobEnd.callId)
        assertEquals(p.aliceAtBob, bobEnd.contactId)
        for (end in listOf(aliceEnd, bobEnd)) {
            val stats = end.stats ?: fail("no stats at the end of the call")
            assertTrue(stats.audioReceived)
            assertTrue(stats.packetsReceived >= 100uL, "packets received: ${stats.packetsReceived}")
            assertEquals(0uL, stats.packetsRejected)
        }
        val after = p.alice.callStatus()
        assertEquals(CallPhase.ENDED, after.phase)
        assertEquals(CallEndReason.HUNG_UP_HERE, after.endReason)
        expectThrows<SottoException.NoSuchCall> { p.alice.hangUpCall() }
        expectThrows<SottoException.NoSuchCall> { p.bob.answerCall(bobAudio) }

        // What each side played out is the other's tone, not its own.
        val bobHeard = readWav(Path.of(bobAudio.outputWav))
        val aliceHeard = readWav(Path.of(aliceAudio.outputWav))
        val bobGotTone = blocksWithTone(bobHeard, aliceTone, bobTone)
        val aliceGotTone = blocksWithTone(aliceHeard, bobTone, aliceTone)
        assertTrue(bobGotTone >= 20, "Bob heard Alice's tone in $bobGotTone blocks of 50 ms")
        assertTrue(aliceGotTone >= 20, "Alice heard Bob's tone in $aliceGotTone blocks of 50 ms")
        assertEquals(0, blocksWithTone(bobHeard, bobTone, aliceTone), "Bob heard his own tone")
    }

    @Test
    fun `with relay-only calls set before connecting, media goes through the relay's TURN server`() =
        withPair(beforeConnect = { it.setRelayOnlyCalls(true) }) { p ->
            val aliceAudio = files("alice", aliceTone)
            val callId = p.alice.placeCall(p.bobAtAlice, aliceAudio)
            p.bobEvents.await("the incoming call at Bob") {
                (it as? AccountEvent.CallStateChanged)?.takeIf { e -> e.phase == CallPhase.INCOMING_RINGING }
            }
            val bobAudio = files("bob", bobTone)
            p.bob.answerCall(bobAudio)
            val aliceMedia = p.aliceEvents.await("media at Alice") { it as? AccountEvent.CallMediaStarted }
            val bobMedia = p.bobEvents.await("media at Bob") { it as? AccountEvent.CallMediaStarted }
            assertEquals(callId, aliceMedia.callId)
            assertEquals(CallPath.RELAYED, aliceMedia.path)
            assertEquals(CallPath.RELAYED, bobMedia.path)
            awaitDecodedFrames(p.bob, 50uL)
            assertEquals(CallPath.RELAYED, p.alice.callStatus().path)
            p.bob.hangUpCall()
            val aliceEnd = p.aliceEvents.await("the end of the call at Alice") { it as? AccountEvent.CallEnded }
            assertEquals(CallEndReason.HUNG_UP_THERE, aliceEnd.reason)
            assertEquals(0uL, aliceEnd.stats?.packetsRejected)
            val heard = readWav(Path.of(bobAudio.outputWav))
            assertTrue(blocksWithTone(heard, aliceTone, bobTone) >= 10, "Bob heard Alice through TURN")

            // Both call logs hold the answered call, relayed, with its times.
            assertTrue(p.alice.relayOnlyCalls(), "the setting is saved")
            assertFalse(p.bob.relayOnlyCalls())
            val ours = p.alice.callLog(10u, null).single()
            val theirs = p.bob.callLog(10u, null).single()
            assertEquals(callId, ours.callId)
            assertEquals(callId, theirs.callId)
            assertTrue(ours.outgoing)
            assertFalse(theirs.outgoing)
            assertEquals("Bob", ours.contactName)
            assertEquals(p.aliceAtBob, theirs.contactId)
            assertEquals(CallEndReason.HUNG_UP_THERE, ours.endReason)
            assertEquals(CallEndReason.HUNG_UP_HERE, theirs.endReason)
            for (entry in listOf(ours, theirs)) {
                assertEquals(CallPath.RELAYED, entry.path)
                val connectedAt = entry.connectedAtMs ?: fail("the call connected")
                assertEquals(entry.endedAtMs - connectedAt, entry.durationMs)
                assertFalse(entry.missed)
            }
        }

    /** Frames `account`'s call has played out so far (decoded, rebuilt or concealed). */
    private fun playedFrames(account: Account): ULong =
        account.callStatus().stats?.let { it.framesDecoded + it.framesRecovered + it.framesConcealed } ?: 0uL

    /** Waits until `account`'s call has played out `frames` more frames than `from`. */
    private fun awaitPlayed(account: Account, from: ULong, frames: ULong) {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60)
        while (playedFrames(account) < from + frames) {
            if (System.nanoTime() > deadline) fail<Unit>("the call stopped playing out")
            Thread.sleep(50)
        }
    }

    @Test
    fun `mute silences the microphone and a speaker gain of zero silences the speaker`() = withPair { p ->
        val aliceAudio = files("alice", aliceTone, seconds = 10.0)
        val bobAudio = files("bob", bobTone, seconds = 10.0)
        p.alice.placeCall(p.bobAtAlice, aliceAudio)
        p.bobEvents.await("the incoming call at Bob") {
            (it as? AccountEvent.CallStateChanged)?.takeIf { e -> e.phase == CallPhase.INCOMING_RINGING }
        }
        p.bob.answerCall(bobAudio)
        awaitDecodedFrames(p.alice, 50uL)
        awaitDecodedFrames(p.bob, 50uL)

        // Bob mutes his microphone and turns his speaker off; both tones go on.
        p.bob.setCallMuted(true)
        p.bob.setSpeakerGain(0.0f)
        val bobStatus = p.bob.callStatus()
        assertTrue(bobStatus.muted)
        assertEquals(0.0f, bobStatus.speakerGain)
        assertFalse(p.alice.callStatus().muted, "mute is per phone")
        // A second of playout on both sides, well past the jitter buffer.
        awaitPlayed(p.alice, playedFrames(p.alice), 50uL)
        awaitPlayed(p.bob, playedFrames(p.bob), 50uL)
        p.alice.hangUpCall()
        p.aliceEvents.await("the end of the call at Alice") { it as? AccountEvent.CallEnded }
        p.bobEvents.await("the end of the call at Bob") { it as? AccountEvent.CallEnded }

        val tail = RATE / 2
        val aliceHeard = readWav(Path.of(aliceAudio.outputWav))
        assertTrue(blocksWithTone(aliceHeard, bobTone, aliceTone) >= 10, "Alice heard Bob before he muted")
        val bobInTail = toneAmplitude(aliceHeard, aliceHeard.size - tail, tail, bobTone)
        assertTrue(bobInTail < 0.01 * Short.MAX_VALUE, "Bob is muted, yet Alice hears his tone at $bobInTail")
        val bobHeard = readWav(Path.of(bobAudio.outputWav))
        assertTrue(blocksWithTone(bobHeard, aliceTone, bobTone) >= 10, "Bob heard Alice before his speaker went off")
        val loudestInTail = bobHeard.copyOfRange(bobHeard.size - tail, bobHeard.size).maxOf { kotlin.math.abs(it.toInt()) }
        assertTrue(loudestInTail <= 1, "Bob's speaker is off, yet it played $loudestInTail")
    }

    @Test
    fun `a declined call ends both sides and leaves the audio files alone`() = withPair { p ->
        val aliceAudio = files("alice", aliceTone)
        val callId = p.alice.placeCall(p.bobAtAlice, aliceAudio)
        p.bobEvents.await("the incoming call at Bob") {
            (it as? AccountEvent.CallStateChanged)?.takeIf { e -> e.phase == CallPhase.INCOMING_RINGING }
        }
        p.bob.rejectCall()
        val aliceEnd = p.aliceEvents.await("the end of the call at Alice") { it as? AccountEvent.CallEnded }
        val bobEnd = p.bobEvents.await("the end of the call at Bob") { it as? AccountEvent.CallEnded }
        assertEquals(callId, aliceEnd.callId)
        assertEquals(CallEndReason.DECLINED_THERE, aliceEnd.reason)
        assertEquals(CallEndReason.DECLINED_HERE, bobEnd.reason)
        assertEquals(null, aliceEnd.stats, "no media ran")
        assertFalse(Files.exists(Path.of(aliceAudio.outputWav)), "the output is only made when media starts")
        expectThrows<SottoException.NoSuchCall> { p.bob.rejectCall() }

        // Both logs hold the declined call; a declined call is not missed.
        val ours = p.alice.callLog(10u, null).single()
        val theirs = p.bob.callLog(10u, null).single()
        assertEquals(callId, ours.callId)
        assertEquals(CallEndReason.DECLINED_THERE, ours.endReason)
        assertEquals(CallEndReason.DECLINED_HERE, theirs.endReason)
        assertEquals("Alice", theirs.contactName)
        for (entry in listOf(ours, theirs)) {
            assertEquals(null, entry.connectedAtMs)
            assertEquals(0uL, entry.durationMs)
            assertEquals(null, entry.path)
            assertFalse(entry.missed)
        }

        // Alice calls again and gives up: a missed call at Bob.
        val second = p.alice.placeCall(p.bobAtAlice, aliceAudio)
        p.bobEvents.await("the second call at Bob") {
            (it as? AccountEvent.CallStateChanged)?.takeIf { e -> e.phase == CallPhase.INCOMING_RINGING }
        }
        p.alice.hangUpCall()
        p.bobEvents.await("the end of the second call at Bob") { it as? AccountEvent.CallEnded }
        val bobLog = p.bob.callLog(10u, null)
        assertEquals(listOf(second, callId), bobLog.map { it.callId })
        assertTrue(bobLog[0].missed)
        assertEquals(CallEndReason.MISSED, bobLog[0].endReason)
        assertEquals(bobLog.drop(1), p.bob.callLog(10u, bobLog[0].startedAtMs), "the next page")
        assertTrue(p.bob.deleteCallLogEntry(bobLog[0].id))
        assertFalse(p.bob.deleteCallLogEntry(bobLog[0].id))
        assertEquals(listOf(theirs), p.bob.callLog(10u, null))
        assertEquals(1u, p.bob.clearCallLog())
        assertTrue(p.bob.callLog(10u, null).isEmpty())
    }

    @Test
    fun `calls need a connection and readable audio`() {
        create("alice").use { alice ->
            create("bob").use { bob ->
                val bobAtAlice = alice.addContact(bob.contactInvite(), "Bob")
                val audio = files("alice", aliceTone)
                expectThrows<SottoException.NotConnected> { alice.placeCall(bobAtAlice, audio) }
                expectThrows<SottoException.NotConnected> { alice.hangUpCall() }
                expectThrows<SottoException.NotConnected> { alice.callStatus() }
                // Saved for the next connection rather than refused.
                assertFalse(alice.relayOnlyCalls())
                alice.setRelayOnlyCalls(true)
                assertTrue(alice.relayOnlyCalls())
                alice.connect()
                try {
                    assertEquals(CallPhase.IDLE, alice.callStatus().phase)
                    val missing = CallAudioSpec.Files(dir.resolve("nothing.wav").toString(), audio.outputWav)
                    expectThrows<SottoException.InvalidInput> { alice.placeCall(bobAtAlice, missing) }
                    val notAWav = dir.resolve("text.wav").also { Files.writeString(it, "not audio") }
                    expectThrows<SottoException.InvalidInput> {
                        alice.placeCall(bobAtAlice, CallAudioSpec.Files(notAWav.toString(), audio.outputWav))
                    }
                    val nowhere = File(dir.toFile(), "no-such-dir/heard.wav").toString()
                    expectThrows<SottoException.InvalidInput> {
                        alice.placeCall(bobAtAlice, CallAudioSpec.Files(audio.inputWav, nowhere))
                    }
                    expectThrows<SottoException.NoSuchCall> { alice.answerCall(audio) }
                    expectThrows<SottoException.NoSuchCall> { alice.rejectCall() }
                    assertEquals(CallPhase.IDLE, alice.callStatus().phase)
                } finally {
                    alice.disconnect()
                }
            }
        }
    }
}
