/**
 * The runtime-permission and role flows, as state machines: what to show
 * (nothing, a rationale, a "grant it in Settings" screen) and what to launch
 * (the permission request, the role request, the app's settings page). `:app`
 * checks the platform, feeds the results in, and launches what [PermissionEffect]
 * asks for with the ActivityResult API.
 */
package org.sotto.logic.permissions

/** A feature and the runtime permissions it needs. Permission names are the platform's strings. */
enum class Feature {
    /** Reading, receiving and sending SMS and MMS (needs the default SMS role too). */
    SMS,

    /** Showing contacts' names and picking a contact. */
    CONTACTS,

    /** Placing and answering calls, with the microphone. */
    CALLS,

    /** Scanning a safety-number QR code. */
    CAMERA,

    /** Posting notifications (runtime permission from Android 13). */
    NOTIFICATIONS,
    ;

    /** The permissions to request on a device running API level [sdkInt]. */
    fun permissions(sdkInt: Int): List<String> = when (this) {
        SMS -> listOf(
            "android.permission.READ_SMS",
            "android.permission.SEND_SMS",
            "android.permission.RECEIVE_SMS",
            "android.permission.RECEIVE_MMS",
        )
        CONTACTS -> listOf("android.permission.READ_CONTACTS")
        CALLS -> listOf(
            "android.permission.CALL_PHONE",
            "android.permission.READ_PHONE_STATE",
            "android.permission.RECORD_AUDIO",
        )
        CAMERA -> listOf("android.permission.CAMERA")
        // POST_NOTIFICATIONS exists from API 33 (Android 13); before, notifications need no permission.
        NOTIFICATIONS -> if (sdkInt >= 33) listOf("android.permission.POST_NOTIFICATIONS") else emptyList()
    }
}

/** Where one feature's permission flow is. */
enum class PermissionState {
    /** Not checked yet. */
    UNKNOWN,

    /** All granted: the feature works. */
    GRANTED,

    /** Not granted, never refused: the next step is the system dialog. */
    NOT_REQUESTED,

    /** Refused once; the app explains why before asking again. */
    SHOWING_RATIONALE,

    /** The system dialog is up. */
    REQUESTING,

    /** Refused, may be asked again later. */
    DENIED,

    /** Refused with "don't ask again" (or twice, from Android 11): only the settings page can grant it. */
    PERMANENTLY_DENIED,
}

/** What the platform or the user did. */
sealed interface PermissionEvent {
    /** A check of the current grants; [shouldShowRationale] is `shouldShowRequestPermissionRationale` for any missing one. */
    data class Checked(val allGranted: Boolean, val shouldShowRationale: Boolean) : PermissionEvent

    /** The user tapped the feature's "allow" button. */
    data object UserAsked : PermissionEvent

    /** The user read the rationale and agreed to see the system dialog. */
    data object RationaleAccepted : PermissionEvent

    /** The user closed the rationale. */
    data object RationaleDismissed : PermissionEvent

    /** The system dialog answered. */
    data class Result(val allGranted: Boolean, val shouldShowRationale: Boolean) : PermissionEvent

    /** The user came back from the app's settings page; [allGranted] is a fresh check. */
    data class ReturnedFromSettings(val allGranted: Boolean) : PermissionEvent
}

/** What `:app` has to launch. */
sealed interface PermissionEffect {
    /** Launch `RequestMultiplePermissions` for [feature]. */
    data class Request(val feature: Feature) : PermissionEffect

    /** Open the app's page in the system settings. */
    data object OpenAppSettings : PermissionEffect
}

/** One step of a flow. */
data class PermissionStep(val state: PermissionState, val effect: PermissionEffect?)

/** The permission flow of one feature. */
class PermissionFlow(val feature: Feature) {
    /** The next state and what to launch after [event] in [state]. */
    fun next(state: PermissionState, event: PermissionEvent): PermissionStep = when (event) {
        is PermissionEvent.Checked -> PermissionStep(
            when {
                event.allGranted -> PermissionState.GRANTED
                // Keep a conclusion drawn from an earlier answer: a fresh check cannot
                // tell "never asked" from "don't ask again" (both say no rationale).
                state == PermissionState.PERMANENTLY_DENIED -> PermissionState.PERMANENTLY_DENIED
                event.shouldShowRationale -> PermissionState.DENIED
                state == PermissionState.DENIED -> PermissionState.DENIED
                else -> PermissionState.NOT_REQUESTED
            },
            null,
        )
        PermissionEvent.UserAsked -> when (state) {
            PermissionState.NOT_REQUESTED, PermissionState.UNKNOWN ->
                PermissionStep(PermissionState.REQUESTING, PermissionEffect.Request(feature))
            PermissionState.DENIED -> PermissionStep(PermissionState.SHOWING_RATIONALE, null)
            PermissionState.PERMANENTLY_DENIED -> PermissionStep(state, PermissionEffect.OpenAppSettings)
            else -> PermissionStep(state, null)
        }
        PermissionEvent.RationaleAccepted ->
            if (state == PermissionState.SHOWING_RATIONALE) {
                PermissionStep(PermissionState.REQUESTING, PermissionEffect.Request(feature))
            } else {
                PermissionStep(state, null)
            }
        PermissionEvent.RationaleDismissed ->
            if (state == PermissionState.SHOWING_RATIONALE) PermissionStep(PermissionState.DENIED, null) else PermissionStep(state, null)
        is PermissionEvent.Result -> PermissionStep(
            when {
                event.allGranted -> PermissionState.GRANTED
                // Denied and the system will not explain again: the dialog will not show again either.
                !event.shouldShowRationale -> PermissionState.PERMANENTLY_DENIED
                else -> PermissionState.DENIED
            },
            null,
        )
        is PermissionEvent.ReturnedFromSettings ->
            PermissionStep(if (event.allGranted) PermissionState.GRANTED else state, null)
    }
}

/** The two roles Sotto asks for. */
enum class Role(val platformName: String) {
    SMS("android.app.role.SMS"),
    DIALER("android.app.role.DIALER"),
}

/** Where a role request is. */
enum class RoleState { UNKNOWN, NOT_HELD, REQUESTING, HELD, DECLINED }

/** The role flow: ask once per user action, remember a refusal so the app does not nag. */
object RoleFlow {
    /** After a check of whether the role is held. */
    fun checked(state: RoleState, held: Boolean): RoleState = when {
        held -> RoleState.HELD
        state == RoleState.DECLINED -> RoleState.DECLINED
        else -> RoleState.NOT_HELD
    }

    /** The user asked to make Sotto the default; returns the state and whether to launch the request. */
    fun userAsked(state: RoleState): Pair<RoleState, Boolean> = when (state) {
        RoleState.HELD, RoleState.REQUESTING -> state to false
        else -> RoleState.REQUESTING to true
    }

    /** The role request answered. */
    fun result(held: Boolean): RoleState = if (held) RoleState.HELD else RoleState.DECLINED
}
