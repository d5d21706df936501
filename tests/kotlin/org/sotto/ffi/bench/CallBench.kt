// Prints how long a call's steps take as the app sees them through the
// bindings: two accounts in this JVM, a real sotto-relay on loopback, WAV
// files as audio, events through listeners. It asserts nothing; see
// docs/ffi.md for how to run it.
package org.sotto.ffi.bench

import java.nio.file.Files
import java.nio.file.Path
import org.sotto.ffi.Account
import org.sotto.ffi.AccountEvent
import org.sotto.ffi.CallAudioSpec
import org.sotto.ffi.CallPhase
import org.sotto.ffi.jvmtest.EventLog
import org.sotto.ffi.jvmtest.RelayProcess
import org.sotto.ffi.jvmtest.newKey
import org.sotto.ffi.jvmtest.testOptions
import org.sotto.ffi.jvmtest.writeTone

private const val CALLS = 10

private fun ms(fromNanos: Long, toNanos: Long) = (toNanos - fromNanos) / 1e6

private fun report(name: String, samples: List<Double>) {
    val sorted = samples.sorted()
    val p50 = sorted[sorted.size / 2]
    println("%-52s p50 %7.1f ms   max %7.1f ms  (n=%d)".format(name, p50, sorted.last(), sorted.size))
}

private fun ringing(log: EventLog) = log.await("ringing") {
    (it as? AccountEvent.CallStateChanged)?.takeIf { e -> e.phase == CallPhase.INCOMING_RINGING }
}

private fun connected(log: EventLog) = log.await("connected") {
    (it as? AccountEvent.CallStateChanged)?.takeIf { e -> e.phase == CallPhase.CONNECTED }
}

/** Polls until the call has played out audio from the other side; the 1 ms poll bounds the error. */
private fun awaitAudio(account: Account) {
    while (account.callStatus().stats?.audioReceived != true) Thread.sleep(1)
}

fun main() {
    val dir = Files.createTempDirectory("sotto-call-bench")
    RelayProcess(dir.resolve("relay")).use { relay ->
        fun create(name: String) = Account.createWithKey(dir.resolve(name).toString(), newKey(), relay.invite, testOptions())
        create("alice").use { alice ->
            create("bob").use { bob ->
                val aliceEvents = EventLog()
                val bobEvents = EventLog()
                alice.subscribe(aliceEvents).use {
                    bob.subscribe(bobEvents).use {
                        bob.register()
                        val bobAtAlice = alice.addContact(bob.contactInvite(), "Bob")
                        bob.addContact(alice.contactInvite(), "Alice")
                        alice.connect()
                        bob.connect()
                        aliceEvents.await("Connected") { it as? AccountEvent.Connected }
                        bobEvents.await("Connected") { it as? AccountEvent.Connected }
                        val tone: Path = dir.resolve("tone.wav").also { writeTone(it, 440.0, 2.0) }
                        fun audio(name: String) = CallAudioSpec.Files(tone.toString(), dir.resolve("$name.wav").toString())

                        val place = mutableListOf<Double>()
                        val ring = mutableListOf<Double>()
                        val connect = mutableListOf<Double>()
                        val firstAudio = mutableListOf<Double>()
                        val hangUp = mutableListOf<Double>()
                        // The first call also starts the Signal session; it is a warm-up.
                        for (i in 0..CALLS) {
                            val t0 = System.nanoTime()
                            alice.placeCall(bobAtAlice, audio("alice-$i"))
                            val t1 = System.nanoTime()
                            ringing(bobEvents)
                            val t2 = System.nanoTime()
                            bob.answerCall(audio("bob-$i"))
                            connected(aliceEvents)
                            connected(bobEvents)
                            val t3 = System.nanoTime()
                            awaitAudio(bob)
                            awaitAudio(alice)
                            val t4 = System.nanoTime()
                            alice.hangUpCall()
                            aliceEvents.await("ended") { it as? AccountEvent.CallEnded }
                            bobEvents.await("ended") { it as? AccountEvent.CallEnded }
                            val t5 = System.nanoTime()
                            if (i == 0) continue
                            place += ms(t0, t1)
                            ring += ms(t0, t2)
                            connect += ms(t2, t3)
                            firstAudio += ms(t2, t4)
                            hangUp += ms(t4, t5)
                        }
                        println("call set-up through the bindings, direct path on loopback, debug build:")
                        report("placeCall returns (offer queued)", place)
                        report("placeCall -> INCOMING_RINGING event at the callee", ring)
                        report("answerCall -> CONNECTED events on both", connect)
                        report("answerCall -> audio played out on both", firstAudio)
                        report("hangUpCall -> CallEnded events on both", hangUp)
                        alice.disconnect()
                        bob.disconnect()
                    }
                }
            }
        }
    }
    dir.toFile().deleteRecursively()
}
