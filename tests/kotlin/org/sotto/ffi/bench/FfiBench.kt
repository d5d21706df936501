// Prints what calls through the bindings cost from the JVM: opening an
// account, a trivial call, a store read, a safety number, and an event's
// trip from Rust to a Kotlin listener. It asserts nothing; see docs/ffi.md
// for how to run it.
package org.sotto.ffi.bench

import java.nio.file.Files
import java.security.SecureRandom
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import org.sotto.ffi.Account
import org.sotto.ffi.AccountEvent
import org.sotto.ffi.AccountListener
import org.sotto.ffi.AccountOptions

private val options = AccountOptions(maintenanceIntervalMs = 0uL, prekeyBatch = 1u, prekeyLowWater = 1_000_000u)

private fun key() = ByteArray(32).also { SecureRandom().nextBytes(it) }

/** Runs `block` `n` times after `n / 10` warm-up runs; prints the mean. */
private fun measure(name: String, n: Int, unit: String = "us", block: () -> Unit) {
    repeat(maxOf(1, n / 10)) { block() }
    val start = System.nanoTime()
    repeat(n) { block() }
    val perCall = (System.nanoTime() - start).toDouble() / n
    val value = if (unit == "ms") perCall / 1e6 else perCall / 1e3
    println("%-44s %10.2f %s/op  (n=%d)".format(name, value, unit, n))
}

/** A well-formed relay invite; the bench never connects. */
private const val RELAY =
    "sotto-relay:2/127.0.0.1/9/" +
        "051111111111111111111111111111111111111111111111111111111111111111"

fun main() {
    val dir = Files.createTempDirectory("sotto-ffi-bench")
    try {
        var created = 0
        measure("createWithKey (new account)", 5, "ms") {
            Account.createWithKey(dir.resolve("new-${created++}").toString(), key(), RELAY, options).close()
        }
        val k = key()
        val path = dir.resolve("a").toString()
        Account.createWithKey(path, k, RELAY, options).close()
        measure("openWithKey + close, existing store", 10, "ms") {
            Account.openWithKey(path, k, options).close()
        }
        val pass = dir.resolve("p").toString()
        Account.createWithPassphrase(pass, "correct horse", RELAY, options).close()
        measure("openWithPassphrase + close (Argon2id)", 3, "ms") {
            Account.openWithPassphrase(pass, "correct horse", options).close()
        }

        Account.openWithKey(path, k, options).use { account ->
            val other = Account.createWithKey(dir.resolve("b").toString(), key(), RELAY, options)
                .use { it.identityKey() }
            measure("identityKey() (trivial call)", 100_000) { account.identityKey() }
            measure("contacts() (store read, empty)", 10_000) { account.contacts() }
            measure("safetyNumber(other) (5200 SHA-512 rounds)", 20, "ms") { account.safetyNumber(other) }

            val events = LinkedBlockingQueue<AccountEvent>()
            account.subscribe(object : AccountListener {
                override fun onEvent(event: AccountEvent) {
                    events.add(event)
                }
            }).use {
                measure("runMaintenance() + event to a listener", 200, "ms") {
                    account.runMaintenance()
                    checkNotNull(events.poll(30, TimeUnit.SECONDS)) { "no event" }
                }
            }
        }
    } finally {
        dir.toFile().deleteRecursively()
    }
}
