package org.sotto.app.settings

import android.content.Context
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import org.sotto.logic.settings.DecodedSettings
import org.sotto.logic.settings.Settings
import org.sotto.logic.settings.SettingsCodec

/**
 * Settings in SharedPreferences, in [SettingsCodec]'s flat form. A damaged
 * value falls back to its default (the codec reports which), so the app
 * always starts. Settings hold no secrets: the passphrase is never stored.
 */
class SettingsStore(context: Context) {
    private val prefs = context.getSharedPreferences("settings", Context.MODE_PRIVATE)
    private val decoded: DecodedSettings = SettingsCodec.decode(
        prefs.all.mapNotNull { (k, v) -> (v as? String)?.let { k to it } }.toMap(),
    )
    private val state = MutableStateFlow(decoded.settings)

    /** The keys that were damaged when the app started, for a one-time notice. */
    val damagedKeys: List<String> = decoded.problems.map { it.key }

    /** The current settings. */
    val settings: StateFlow<Settings> = state

    /** Stores [new] and publishes it. */
    fun update(new: Settings) {
        val editor = prefs.edit().clear()
        SettingsCodec.encode(new).forEach { (k, v) -> editor.putString(k, v) }
        editor.apply()
        state.value = new
    }
}
