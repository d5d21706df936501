package org.sotto.app.roles

import android.app.role.RoleManager
import android.content.Intent
import android.os.Build
import android.provider.Telephony
import android.telecom.TelecomManager
import androidx.activity.ComponentActivity
import androidx.activity.result.contract.ActivityResultContracts
import org.sotto.logic.permissions.Role
import org.sotto.logic.permissions.RoleFlow
import org.sotto.logic.permissions.RoleState

/**
 * Asks the system to make Sotto the default SMS app or dialer: through
 * `RoleManager` from Android 10, and through `ACTION_CHANGE_DEFAULT` /
 * `ACTION_CHANGE_DEFAULT_DIALER` before. The answer comes back through the
 * ActivityResult API and goes into `RoleFlow`. Create it in the activity's
 * `onCreate` (ActivityResult registrations must precede `STARTED`).
 */
class RoleRequester(private val activity: ComponentActivity, private val onChange: (Role, RoleState) -> Unit) {
    private var pending: Role? = null
    private val states = mutableMapOf<Role, RoleState>()

    private val launcher = activity.registerForActivityResult(ActivityResultContracts.StartActivityForResult()) {
        val role = pending ?: return@registerForActivityResult
        pending = null
        update(role, RoleFlow.result(isHeld(role)))
    }

    /** Re-checks both roles (the user may have changed them in Settings). */
    fun refresh() {
        for (role in Role.entries) update(role, RoleFlow.checked(states[role] ?: RoleState.UNKNOWN, isHeld(role)))
    }

    /** The user asked to make Sotto the default for [role]. */
    fun request(role: Role) {
        val (next, launch) = RoleFlow.userAsked(states[role] ?: RoleState.UNKNOWN)
        update(role, next)
        if (!launch) return
        pending = role
        launcher.launch(requestIntent(role))
    }

    /** Whether Sotto holds [role] now. */
    fun isHeld(role: Role): Boolean = if (Build.VERSION.SDK_INT >= 29) {
        activity.getSystemService(RoleManager::class.java).isRoleHeld(role.platformName)
    } else {
        when (role) {
            Role.SMS -> Telephony.Sms.getDefaultSmsPackage(activity) == activity.packageName
            Role.DIALER -> activity.getSystemService(TelecomManager::class.java).defaultDialerPackage == activity.packageName
        }
    }

    private fun requestIntent(role: Role): Intent = if (Build.VERSION.SDK_INT >= 29) {
        activity.getSystemService(RoleManager::class.java).createRequestRoleIntent(role.platformName)
    } else {
        when (role) {
            Role.SMS -> Intent(Telephony.Sms.Intents.ACTION_CHANGE_DEFAULT)
                .putExtra(Telephony.Sms.Intents.EXTRA_PACKAGE_NAME, activity.packageName)
            Role.DIALER -> Intent(TelecomManager.ACTION_CHANGE_DEFAULT_DIALER)
                .putExtra(TelecomManager.EXTRA_CHANGE_DEFAULT_DIALER_PACKAGE_NAME, activity.packageName)
        }
    }

    private fun update(role: Role, state: RoleState) {
        states[role] = state
        onChange(role, state)
    }
}
