package org.sotto.ffi.jvmtest

import java.nio.file.Files
import java.nio.file.Path
import java.security.SecureRandom
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.fail
import org.sotto.ffi.Account
import org.sotto.ffi.AccountEvent
import org.sotto.ffi.AccountListener
import org.sotto.ffi.AccountOptions

/** A fresh random 32-byte store key, as the Android Keystore would unwrap. */
fun newKey(): ByteArray = ByteArray(32).also { SecureRandom().nextBytes(it) }

/**
 * Options that keep tests fast: few prekeys per batch, and no background
 * maintenance unless a test asks for it.
 */
fun testOptions(intervalMs: ULong = 0uL, batch: UInt = 2u, lowWater: UInt = 1u) =
    AccountOptions(maintenanceIntervalMs = intervalMs, prekeyBatch = batch, prekeyLowWater = lowWater)

/**
 * Options under which every maintenance run makes one more prekey of each
 * kind (the stock stays below the low-water mark for 50 runs), so each run
 * publishes a `PrekeysRefreshed` event.
 */
fun refreshingOptions(intervalMs: ULong = 0uL) = testOptions(intervalMs, batch = 1u, lowWater = 50u)

/**
 * A well-formed relay invite for accounts that never connect (port 9,
 * discard; a made-up trust root).
 */
const val OFFLINE_RELAY =
    "sotto-relay:2/127.0.0.1/9/" +
        "051111111111111111111111111111111111111111111111111111111111111111"

/**
 * The account in `dir/name`: created (on [OFFLINE_RELAY]) the first time,
 * opened after that.
 */
fun openStore(dir: Path, name: String, key: ByteArray, options: AccountOptions = testOptions()): Account {
    val dataDir = dir.resolve(name)
    return if (Files.exists(dataDir.resolve("sotto.db"))) {
        Account.openWithKey(dataDir.toString(), key, options)
    } else {
        Account.createWithKey(dataDir.toString(), key, OFFLINE_RELAY, options)
    }
}

/** A listener that queues what it receives, for the test thread to take. */
class QueueListener : AccountListener {
    val events = LinkedBlockingQueue<AccountEvent>()

    override fun onEvent(event: AccountEvent) {
        events.add(event)
    }

    /**
     * The next event. The wait bound only keeps a broken build from hanging;
     * no assertion depends on how long delivery takes.
     */
    fun next(): AccountEvent = events.poll(30, TimeUnit.SECONDS) ?: fail("no event arrived")
}

/**
 * `assertThrows` with a reified type (Debian's JUnit jars do not ship the
 * Kotlin extension of the same name).
 */
inline fun <reified T : Throwable> expectThrows(crossinline block: () -> Any?): T =
    assertThrows(T::class.java) { block() }
