package org.sotto.logic.lock

import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.sotto.logic.settings.AppLockSetting

class AppLockTimerTest {
    @Test
    fun `passphrase lock starts locked and locks again after the timeout`() {
        val t = AppLockTimer(AppLockSetting.Passphrase(timeoutSeconds = 60))
        assertTrue(t.isLocked)
        t.unlocked()
        t.onBackground(1_000)
        assertFalse(t.onForeground(60_999))
        t.onBackground(100_000)
        assertTrue(t.onForeground(160_000))
    }

    @Test
    fun `zero timeout locks on every return, off never locks`() {
        val t = AppLockTimer(AppLockSetting.Passphrase(0))
        t.unlocked()
        t.onBackground(5)
        assertTrue(t.onForeground(5))
        val off = AppLockTimer(AppLockSetting.Off)
        off.onBackground(0)
        assertFalse(off.onForeground(Long.MAX_VALUE / 2))
        off.lockNow()
        assertFalse(off.isLocked)
    }

    @Test
    fun `a clock that went back (a reboot) locks, and turning the lock off unlocks`() {
        val t = AppLockTimer(AppLockSetting.Passphrase(600))
        t.unlocked()
        t.onBackground(50_000)
        assertTrue(t.onForeground(10))
        t.update(AppLockSetting.Off)
        assertFalse(t.isLocked)
    }
}
