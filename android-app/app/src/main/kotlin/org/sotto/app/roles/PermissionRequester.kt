package org.sotto.app.roles

import android.content.Intent
import android.content.pm.PackageManager
import android.net.Uri
import android.os.Build
import android.provider.Settings
import androidx.activity.ComponentActivity
import androidx.activity.result.contract.ActivityResultContracts
import org.sotto.logic.permissions.Feature
import org.sotto.logic.permissions.PermissionEffect
import org.sotto.logic.permissions.PermissionEvent
import org.sotto.logic.permissions.PermissionFlow
import org.sotto.logic.permissions.PermissionState

/**
 * Runs `PermissionFlow` for each feature against the platform: checks
 * grants, launches `RequestMultiplePermissions` and the app's settings page
 * through the ActivityResult API, and reports each feature's state. Create
 * it in the activity's `onCreate`.
 */
class PermissionRequester(
    private val activity: ComponentActivity,
    private val onChange: (Feature, PermissionState) -> Unit,
) {
    private val states = mutableMapOf<Feature, PermissionState>()
    private var requesting: Feature? = null
    private var inSettings: Feature? = null

    private val permissions = activity.registerForActivityResult(ActivityResultContracts.RequestMultiplePermissions()) { grants ->
        val feature = requesting ?: return@registerForActivityResult
        requesting = null
        handle(feature, PermissionEvent.Result(grants.values.all { it } && granted(feature), rationale(feature)))
    }

    private val settings = activity.registerForActivityResult(ActivityResultContracts.StartActivityForResult()) {
        val feature = inSettings ?: return@registerForActivityResult
        inSettings = null
        handle(feature, PermissionEvent.ReturnedFromSettings(granted(feature)))
    }

    /** Checks every feature (on start and on resume). */
    fun refresh() {
        for (f in Feature.entries) handle(f, PermissionEvent.Checked(granted(f), rationale(f)))
    }

    /** Feeds a user action for [feature] into its flow. */
    fun handle(feature: Feature, event: PermissionEvent) {
        val step = PermissionFlow(feature).next(states[feature] ?: PermissionState.UNKNOWN, event)
        states[feature] = step.state
        onChange(feature, step.state)
        when (val effect = step.effect) {
            is PermissionEffect.Request -> {
                requesting = effect.feature
                permissions.launch(effect.feature.permissions(Build.VERSION.SDK_INT).toTypedArray())
            }
            PermissionEffect.OpenAppSettings -> {
                inSettings = feature
                settings.launch(
                    Intent(Settings.ACTION_APPLICATION_DETAILS_SETTINGS, Uri.fromParts("package", activity.packageName, null)),
                )
            }
            null -> Unit
        }
    }

    private fun granted(feature: Feature) = feature.permissions(Build.VERSION.SDK_INT).all {
        activity.checkSelfPermission(it) == PackageManager.PERMISSION_GRANTED
    }

    private fun rationale(feature: Feature) = feature.permissions(Build.VERSION.SDK_INT).any {
        activity.shouldShowRequestPermissionRationale(it)
    }
}
