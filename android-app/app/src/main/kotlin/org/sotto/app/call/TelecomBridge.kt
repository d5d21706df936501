package org.sotto.app.call

import android.content.ComponentName
import android.content.Context
import android.graphics.drawable.Icon
import android.telecom.Call
import android.telecom.PhoneAccount
import android.telecom.PhoneAccountHandle
import android.telecom.TelecomManager
import org.sotto.app.R

/**
 * The Telecom objects of the current call, for [PlatformCallEffects] to act
 * on: the [SottoConnection] of a secure call (self-managed), or the carrier
 * [Call] and the [SottoInCallService] that shows it. The services put them
 * here when the system creates them and take them out when it destroys them.
 */
class TelecomBridge(private val context: Context) {
    /** The self-managed connection of the secure call, if any. */
    var connection: SottoConnection? = null

    /**
     * The carrier calls our in-call service shows, by the id the state machine
     * knows them by (a second, waiting call is here too until it is declined).
     */
    val carrierCalls: MutableMap<String, Call> = mutableMapOf()

    /** Our in-call service while the system has it bound. */
    var inCallService: SottoInCallService? = null

    /** The self-managed phone account of Sotto's encrypted calls. */
    val accountHandle: PhoneAccountHandle =
        PhoneAccountHandle(ComponentName(context, SottoConnectionService::class.java), "sotto-secure")

    /**
     * Registers the self-managed account (idempotent). Self-managed: the
     * calls get audio focus, Bluetooth and the system's call handling, but
     * are not carrier calls and are not placed through the dialer UI.
     */
    fun registerAccount() {
        val account = PhoneAccount.builder(accountHandle, context.getString(R.string.phone_account_label))
            .setCapabilities(PhoneAccount.CAPABILITY_SELF_MANAGED)
            .setIcon(Icon.createWithResource(context, R.drawable.ic_notification))
            .build()
        context.getSystemService(TelecomManager::class.java).registerPhoneAccount(account)
    }
}
