package org.sotto.logic.permissions

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class PermissionFlowTest {
    private val flow = PermissionFlow(Feature.CALLS)

    @Test
    fun `first request goes straight to the system dialog`() {
        val checked = flow.next(PermissionState.UNKNOWN, PermissionEvent.Checked(allGranted = false, shouldShowRationale = false))
        assertEquals(PermissionStep(PermissionState.NOT_REQUESTED, null), checked)
        val asked = flow.next(checked.state, PermissionEvent.UserAsked)
        assertEquals(PermissionStep(PermissionState.REQUESTING, PermissionEffect.Request(Feature.CALLS)), asked)
        assertEquals(PermissionState.GRANTED, flow.next(asked.state, PermissionEvent.Result(true, false)).state)
    }

    @Test
    fun `after one refusal the rationale comes before the dialog`() {
        val denied = flow.next(PermissionState.REQUESTING, PermissionEvent.Result(allGranted = false, shouldShowRationale = true))
        assertEquals(PermissionState.DENIED, denied.state)
        val rationale = flow.next(denied.state, PermissionEvent.UserAsked)
        assertEquals(PermissionStep(PermissionState.SHOWING_RATIONALE, null), rationale)
        assertEquals(PermissionState.DENIED, flow.next(rationale.state, PermissionEvent.RationaleDismissed).state)
        val again = flow.next(rationale.state, PermissionEvent.RationaleAccepted)
        assertEquals(PermissionEffect.Request(Feature.CALLS), again.effect)
    }

    @Test
    fun `a refusal without rationale means only settings can grant it, and a later check keeps that`() {
        val permanent = flow.next(PermissionState.REQUESTING, PermissionEvent.Result(allGranted = false, shouldShowRationale = false))
        assertEquals(PermissionState.PERMANENTLY_DENIED, permanent.state)
        val rechecked = flow.next(permanent.state, PermissionEvent.Checked(allGranted = false, shouldShowRationale = false))
        assertEquals(PermissionState.PERMANENTLY_DENIED, rechecked.state)
        assertEquals(PermissionEffect.OpenAppSettings, flow.next(rechecked.state, PermissionEvent.UserAsked).effect)
        assertEquals(PermissionState.PERMANENTLY_DENIED, flow.next(rechecked.state, PermissionEvent.ReturnedFromSettings(false)).state)
        assertEquals(PermissionState.GRANTED, flow.next(rechecked.state, PermissionEvent.ReturnedFromSettings(true)).state)
    }

    @Test
    fun `stray events change nothing`() {
        for (state in PermissionState.entries.filter { it != PermissionState.SHOWING_RATIONALE }) {
            assertEquals(PermissionStep(state, null), flow.next(state, PermissionEvent.RationaleAccepted))
        }
        assertEquals(PermissionStep(PermissionState.REQUESTING, null), flow.next(PermissionState.REQUESTING, PermissionEvent.UserAsked))
    }

    @Test
    fun `notifications need a permission only from android 13`() {
        assertTrue(Feature.NOTIFICATIONS.permissions(32).isEmpty())
        assertEquals(listOf("android.permission.POST_NOTIFICATIONS"), Feature.NOTIFICATIONS.permissions(33))
        assertTrue("android.permission.RECORD_AUDIO" in Feature.CALLS.permissions(26))
    }

    @Test
    fun `role flow asks once and remembers a refusal`() {
        assertEquals(RoleState.NOT_HELD, RoleFlow.checked(RoleState.UNKNOWN, held = false))
        val (requesting, launch) = RoleFlow.userAsked(RoleState.NOT_HELD)
        assertEquals(RoleState.REQUESTING, requesting)
        assertTrue(launch)
        assertFalse(RoleFlow.userAsked(RoleState.REQUESTING).second, "no second dialog on a double tap")
        val declined = RoleFlow.result(held = false)
        assertEquals(RoleState.DECLINED, RoleFlow.checked(declined, held = false))
        assertEquals(RoleState.HELD, RoleFlow.checked(declined, held = true))
        assertEquals("android.app.role.SMS", Role.SMS.platformName)
    }
}
