/**
 * When the passphrase-locked app locks again. The clock is passed in (a
 * monotonic reading, `SystemClock.elapsedRealtime()` in `:app`), so a change
 * of wall-clock time can neither unlock the app nor keep it open.
 */
package org.sotto.logic.lock

import org.sotto.logic.settings.AppLockSetting

/** Tracks foreground and background and says when the lock screen must show. */
class AppLockTimer(private var setting: AppLockSetting) {
    private var backgroundSince: Long? = null
    private var locked: Boolean = setting is AppLockSetting.Passphrase

    /** True when the lock screen must show now. */
    val isLocked: Boolean get() = locked

    /** The setting changed; turning the lock off unlocks, turning it on does not lock the open app. */
    fun update(newSetting: AppLockSetting) {
        setting = newSetting
        if (newSetting is AppLockSetting.Off) locked = false
    }

    /** The passphrase was entered and unwrapped the key. */
    fun unlocked() {
        locked = false
        backgroundSince = null
    }

    /** The user locked the app from the menu. */
    fun lockNow() {
        if (setting is AppLockSetting.Passphrase) locked = true
    }

    /** The app left the screen at [elapsedMillis]. */
    fun onBackground(elapsedMillis: Long) {
        if (backgroundSince == null) backgroundSince = elapsedMillis
    }

    /** The app came back at [elapsedMillis]; returns [isLocked]. */
    fun onForeground(elapsedMillis: Long): Boolean {
        val since = backgroundSince
        backgroundSince = null
        val s = setting
        if (s is AppLockSetting.Passphrase && since != null) {
            // elapsedRealtime never goes back; a smaller reading means a reboot, which locks anyway.
            val away = elapsedMillis - since
            if (away < 0 || away >= s.timeoutSeconds * 1000) locked = true
        }
        return locked
    }
}
