package org.sotto.ffi.jvmtest

import java.nio.file.Path
import java.util.concurrent.CountDownLatch
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.sotto.ffi.AccountEvent
import org.sotto.ffi.AccountListener
import org.sotto.ffi.Subscription

/**
 * Listener callbacks: they fire for real events (prekey maintenance), and
 * once a subscription or its account is closed they never fire again.
 */
class EventsTest {
    private val refreshed = AccountEvent.PrekeysRefreshed(oneTime = 1u, kyber = 1u, rotated = false)

    @Test
    fun `maintenance publishes what it did`(@TempDir dir: Path) {
        openStore(dir, "a.db", newKey(), refreshingOptions()).use { account ->
            val listener = QueueListener()
            account.subscribe(listener).use {
                val report = account.runMaintenance()
                assertEquals(1u, report.oneTimePrekeysMade)
                assertEquals(refreshed, listener.next())
            }
        }
    }

    @Test
    fun `the background task publishes events on its own`(@TempDir dir: Path) {
        openStore(dir, "a.db", newKey(), refreshingOptions(intervalMs = 20uL)).use { account ->
            val listener = QueueListener()
            account.subscribe(listener).use {
                repeat(3) { assertEquals(refreshed, listener.next()) }
            }
        }
    }

    @Test
    fun `a closed subscription gets nothing more while others still do`(@TempDir dir: Path) {
        openStore(dir, "a.db", newKey(), refreshingOptions()).use { account ->
            val closed = QueueListener()
            val open = QueueListener()
            val closedSub = account.subscribe(closed)
            account.subscribe(open).use {
                account.runMaintenance()
                assertEquals(refreshed, closed.next())
                assertEquals(refreshed, open.next())

                closedSub.close()
                account.runMaintenance()
                // `close()` returned before this event was published, and a
                // cancelled listener is never called again.
                assertEquals(refreshed, open.next())
                assertTrue(closed.events.isEmpty())
            }
        }
    }

    @Test
    fun `closing the account ends its subscriptions`(@TempDir dir: Path) {
        val account = openStore(dir, "a.db", newKey(), refreshingOptions(intervalMs = 20uL))
        val listener = QueueListener()
        val subscription = account.subscribe(listener)
        assertEquals(refreshed, listener.next())
        account.close()
        assertFalse(subscription.isActive())
        listener.events.clear()
        // Nothing was being delivered after close returned, so nothing new arrives
        // from a task of the closed account; the subscription closes without error.
        subscription.close()
        assertTrue(listener.events.isEmpty())
    }

    @Test
    fun `a listener that throws does not stop its subscription`(@TempDir dir: Path) {
        openStore(dir, "a.db", newKey(), refreshingOptions()).use { account ->
            val received = LinkedBlockingQueue<AccountEvent>()
            var calls = 0
            val listener = object : AccountListener {
                override fun onEvent(event: AccountEvent) {
                    calls += 1
                    if (calls == 1) throw IllegalStateException("listener bug")
                    received.add(event)
                }
            }
            account.subscribe(listener).use { subscription ->
                account.runMaintenance()
                account.runMaintenance()
                assertEquals(refreshed, received.poll(30, TimeUnit.SECONDS))
                assertTrue(subscription.isActive())
            }
        }
    }

    @Test
    fun `a listener may cancel its own subscription from its callback`(@TempDir dir: Path) {
        openStore(dir, "a.db", newKey(), refreshingOptions()).use { account ->
            val cancelled = CountDownLatch(1)
            val calls = LinkedBlockingQueue<AccountEvent>()
            lateinit var subscription: Subscription
            val listener = object : AccountListener {
                override fun onEvent(event: AccountEvent) {
                    calls.add(event)
                    subscription.cancel()
                    cancelled.countDown()
                }
            }
            val witness = QueueListener()
            account.subscribe(witness).use {
                subscription = account.subscribe(listener)
                account.runMaintenance()
                assertTrue(cancelled.await(30, TimeUnit.SECONDS))
                assertFalse(subscription.isActive())
                account.runMaintenance()
                assertEquals(refreshed, witness.next())
                assertEquals(refreshed, witness.next())
                assertEquals(1, calls.size)
            }
            subscription.close()
        }
    }

    @Test
    fun `a listener may close the account from its callback`(@TempDir dir: Path) {
        val key = newKey()
        val account = openStore(dir, "a.db", key, refreshingOptions())
        val closed = CountDownLatch(1)
        val subscription = account.subscribe(object : AccountListener {
            override fun onEvent(event: AccountEvent) {
                account.close()
                closed.countDown()
            }
        })
        account.runMaintenance()
        assertTrue(closed.await(30, TimeUnit.SECONDS))
        assertFalse(subscription.isActive())
        expectThrows<IllegalStateException> { account.identityKey() }
        // The store was released: it opens again.
        openStore(dir, "a.db", key).use { assertEquals(33, it.identityKey().size) }
        subscription.close()
    }
}
