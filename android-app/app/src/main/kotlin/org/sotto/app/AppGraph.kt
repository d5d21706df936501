package org.sotto.app

import android.content.Context
import android.os.Handler
import android.os.Looper
import android.os.SystemClock
import android.util.AtomicFile
import android.util.Log
import kotlinx.coroutines.CoroutineExceptionHandler
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext
import org.sotto.app.call.PlatformCallEffects
import org.sotto.app.call.TelecomBridge
import org.sotto.app.core.BindingsAdapter
import org.sotto.app.keys.AtomicKeyFile
import org.sotto.app.keys.KeystoreKeyWrapper
import org.sotto.app.notify.Notifications
import org.sotto.app.relay.MaintenanceJobService
import org.sotto.app.settings.SettingsStore
import org.sotto.app.sms.IncomingSmsHandler
import org.sotto.app.sms.MmsTransfers
import org.sotto.app.sms.SmsSender
import org.sotto.logic.call.CallController
import org.sotto.logic.call.CallEvent
import org.sotto.logic.core.CoreException
import org.sotto.logic.core.CoreListener
import org.sotto.logic.core.SottoCore
import org.sotto.logic.keys.DatabaseKeyVault
import org.sotto.logic.keys.VaultException
import org.sotto.logic.lock.AppLockTimer
import java.io.File

/**
 * The objects one process shares: settings, the key vault, the open core
 * (null while locked), the call controller and the platform helpers. It
 * owns their lifetimes; it holds no business rules (those are in `:logic`).
 */
class AppGraph(private val context: Context) {
    /** The application context, for helpers that need one. */
    val appContext: Context get() = context

    /**
     * Work that outlives a screen (sending, core events). A failure in one
     * job is logged by its type only (messages could carry user data) and
     * does not take the process down.
     */
    val scope = CoroutineScope(
        SupervisorJob() + Dispatchers.Main.immediate + CoroutineExceptionHandler { _, e ->
            Log.w(TAG, "background work failed: " + e.javaClass.simpleName)
        },
    )
    private val main = Handler(Looper.getMainLooper())

    val settings = SettingsStore(context)
    val notifications = Notifications(context)
    val smsSender = SmsSender(context)
    private val vault = DatabaseKeyVault(
        KeystoreKeyWrapper(),
        AtomicKeyFile(context, "db-key.bin"),
        AtomicKeyFile(context, "db-key.pending.bin"),
    )
    val lock = AppLockTimer(settings.settings.value.appLock)

    private val coreState = MutableStateFlow<SottoCore?>(null)
    private val unlocking = Mutex()

    /** The open core, or null while the app is locked or not yet opened. */
    val core: StateFlow<SottoCore?> = coreState
    private var subscription: AutoCloseable? = null

    /** The Telecom objects of the current call. */
    val telecom = TelecomBridge(context)

    /** The call screen's state machine; touched on the main thread only. */
    val calls = CallController(PlatformCallEffects(context, this)) { System.currentTimeMillis() }

    /**
     * True when opening needs the passphrase. A damaged key file reads as
     * "no passphrase": the unlock attempt then reports the damage.
     */
    fun needsPassphrase(): Boolean = runCatching { vault.isPassphraseProtected() }.getOrDefault(false)

    /**
     * Unwraps the database key ([passphrase] when the lock is on) and opens
     * the core. Throws [VaultException] (wrong passphrase, Keystore key
     * gone, phone locked, damaged key file) or the core's errors; nothing is
     * changed on failure, except that an interrupted passphrase change is
     * settled by the key that opened the store.
     */
    suspend fun unlock(passphrase: CharArray?): Unit = unlocking.withLock {
        try {
            if (coreState.value != null) return@withLock
            val opened = withContext(Dispatchers.IO) {
                vault.open(passphrase) { key ->
                    val bytes = key.copyBytes()
                    try {
                        BindingsAdapter.open(File(context.noBackupFilesDir, "sotto.db").path, bytes)
                    } finally {
                        bytes.fill(0)
                    }
                }
            }
            subscription = opened.subscribe(CoreEvents())
            withContext(Dispatchers.IO) { writeLockedInboxKey(opened.lockedInboxKey()) }
            coreState.value = opened
            lock.unlocked()
            val s = settings.settings.value
            MaintenanceJobService.schedule(context)
            scope.launch(Dispatchers.IO) {
                IncomingSmsHandler(context, this@AppGraph).drainPending()
                MmsTransfers(context).drainPending(this@AppGraph)
                opened.applyNetwork(s.relay, s.proxy)
            }
        } finally {
            passphrase?.fill('\u0000')
        }
    }

    /** Keeps the locked-inbox public key beside the database, so SMS arriving while locked are sealed to it. */
    private fun writeLockedInboxKey(key: ByteArray) {
        val file = AtomicFile(File(context.noBackupFilesDir, IncomingSmsHandler.LOCKED_INBOX_KEY_FILE))
        val out = file.startWrite()
        try {
            out.write(key)
            file.finishWrite(out)
        } catch (e: java.io.IOException) {
            file.failWrite(out)
            throw e
        }
    }

    /**
     * The open core; without a passphrase lock, opens it first (the Keystore
     * unwraps the key on its own). For receivers and services the system
     * starts in a cold process. Null while a passphrase is needed or opening
     * failed (the next screen visit reports why).
     */
    suspend fun coreOrOpen(): SottoCore? {
        coreState.value?.let { return it }
        if (needsPassphrase()) return null
        runCatching { unlock(null) }
        return coreState.value
    }

    /**
     * Sets, changes or removes ([new] null) the passphrase lock. The open
     * store moves to a new database key at the same time, so no earlier
     * copy of the key file opens it any more (DatabaseKeyVault explains the
     * steps). Needs the app unlocked. Throws [VaultException] (wrong
     * [current], damaged key file, an earlier change unfinished) before
     * anything changed, or [CoreException] when the rekey failed: the app
     * then locks, and the next unlock settles which key the store is under.
     */
    suspend fun changePassphrase(current: CharArray?, new: CharArray?): Unit = unlocking.withLock {
        try {
            val open = coreState.value ?: throw CoreException.Internal()
            try {
                withContext(Dispatchers.IO) {
                    vault.changePassphrase(current, new) { key ->
                        val bytes = key.copyBytes()
                        try {
                            open.rekey(bytes)
                        } finally {
                            bytes.fill(0)
                        }
                    }
                }
            } catch (e: CoreException) {
                closeCore()
                throw e
            }
        } finally {
            current?.fill('\u0000')
            new?.fill('\u0000')
        }
    }

    /** Closes the core (locking the app): the store and its key leave memory. */
    fun lockNow() {
        lock.lockNow()
        if (lock.isLocked) closeCore()
    }

    /** The app left the screen. */
    fun onBackground() = lock.onBackground(SystemClock.elapsedRealtime())

    /** The app came back; closes the core if the lock timed out. */
    fun onForeground() {
        if (lock.onForeground(SystemClock.elapsedRealtime())) closeCore()
    }

    private fun closeCore() {
        subscription?.close()
        subscription = null
        coreState.value?.close()
        coreState.value = null
    }

    /** Core events arrive on a core thread and are handed to the main thread. */
    private inner class CoreEvents : CoreListener {
        override fun onConversationChanged(conversationId: String) = post { conversationChanges.value++ }

        override fun onCallEvent(event: CallEvent) = post { calls.handle(event) }

        override fun onIdentityChanged(conversationId: String) = post { conversationChanges.value++ }

        override fun onRelayConnection(connected: Boolean) = post { relayConnected.value = connected }

        override fun onOutgoingSms() = post { scope.launch { smsSender.sendPending(this@AppGraph) } }

        override fun onCallLogChanged() = post { callLogChanges.value++ }

        // The notification reads the caller's name from the store: off the main thread.
        override fun onMissedCall(conversationId: String, whileBusy: Boolean) =
            post { scope.launch(Dispatchers.IO) { notifications.missedCall(conversationId) } }
    }

    private fun post(block: () -> Unit) {
        main.post(block)
    }

    /** Bumped whenever conversations changed; screens reload when it moves. */
    val conversationChanges = MutableStateFlow(0L)

    /** Bumped whenever the call log changed; the call log screen reloads when it moves. */
    val callLogChanges = MutableStateFlow(0L)

    /** Whether the relay is connected now (the composer's transport choice depends on it). */
    val relayConnected = MutableStateFlow(false)

    private companion object {
        const val TAG = "Sotto"
    }
}
