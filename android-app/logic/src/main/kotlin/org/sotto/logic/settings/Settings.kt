/**
 * The user's settings, their validation and their storage form. `:app`
 * stores [SettingsCodec.encode]'s map in SharedPreferences and hands the
 * relay and proxy parts to the core; nothing here touches Android. A stored
 * value that cannot be read falls back to its default and is reported, so a
 * damaged preferences file costs one setting, never the app.
 */
package org.sotto.logic.settings

import org.sotto.logic.transport.SmsFallbackPolicy

/** A host and port, as typed by the user. [host] is a name, IPv4 or IPv6 literal (without brackets). */
data class HostPort(val host: String, val port: Int) {
    /** `host:port`, with brackets around an IPv6 literal. */
    override fun toString(): String = if (':' in host) "[$host]:$port" else "$host:$port"
}

/** How the app reaches the relay. */
sealed interface ProxySetting {
    /** Directly. */
    data object Direct : ProxySetting

    /** Through Orbot's SOCKS5 port on this phone ([TOR_DEFAULT]). */
    data object Tor : ProxySetting

    /** Through a SOCKS5 proxy the user names. */
    data class Socks5(val endpoint: HostPort) : ProxySetting

    companion object {
        /** Orbot's default SOCKS port. */
        val TOR_DEFAULT: HostPort = HostPort("127.0.0.1", 9050)
    }
}

/** The app lock. */
sealed interface AppLockSetting {
    /** No lock beyond the phone's own. */
    data object Off : AppLockSetting

    /**
     * A passphrase wraps the database key (see `keys.DatabaseKeyVault`); the
     * app locks [timeoutSeconds] after it leaves the screen (0: at once).
     */
    data class Passphrase(val timeoutSeconds: Long) : AppLockSetting
}

/** How much of a message a notification shows. */
enum class NotificationPrivacy { NAME_AND_MESSAGE, NAME_ONLY, NOTHING }

/** All settings. */
data class Settings(
    /** The relay, or null before one is set (then only SMS works). */
    val relay: HostPort?,
    val proxy: ProxySetting,
    val smsFallback: SmsFallbackPolicy,
    val appLock: AppLockSetting,
    /** `FLAG_SECURE` on every window: no screenshots, no previews in the recents screen. */
    val screenSecurity: Boolean,
    val notificationPrivacy: NotificationPrivacy,
) {
    companion object {
        /** A fresh install: no relay, direct, ask before SMS fallback, no lock, screen security on. */
        val DEFAULT: Settings = Settings(
            relay = null,
            proxy = ProxySetting.Direct,
            smsFallback = SmsFallbackPolicy.ASK,
            appLock = AppLockSetting.Off,
            screenSecurity = true,
            notificationPrivacy = NotificationPrivacy.NAME_AND_MESSAGE,
        )
    }
}

/** Why typed input was refused; `:app` shows a localized message per value. */
enum class InputError { EMPTY, MISSING_PORT, BAD_PORT, BAD_HOST, BAD_TIMEOUT }

/** The result of parsing user input. */
sealed interface Parsed<out T> {
    /** Good input. */
    data class Ok<T>(val value: T) : Parsed<T>

    /** Refused input; the field keeps what the user typed. */
    data class Error(val error: InputError) : Parsed<Nothing>
}

/** Parsing of what the user types into the settings screen. */
object SettingsInput {
    private val hostName = Regex("^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.?$")
    private val ipv6 = Regex("^[0-9A-Fa-f:.]+$")

    /** `host:port`, `[v6]:port`; a host needs a port. */
    fun hostPort(input: String): Parsed<HostPort> {
        val text = input.trim()
        if (text.isEmpty()) return Parsed.Error(InputError.EMPTY)
        val host: String
        val portText: String
        if (text.startsWith("[")) {
            val close = text.indexOf(']')
            if (close < 0) return Parsed.Error(InputError.BAD_HOST)
            host = text.substring(1, close)
            if (!text.startsWith("]:", close)) return Parsed.Error(InputError.MISSING_PORT)
            portText = text.substring(close + 2)
            if (host.count { it == ':' } < 2 || !ipv6.matches(host)) return Parsed.Error(InputError.BAD_HOST)
        } else {
            val colon = text.lastIndexOf(':')
            if (colon < 0) return Parsed.Error(InputError.MISSING_PORT)
            host = text.substring(0, colon)
            portText = text.substring(colon + 1)
            if (!hostName.matches(host)) return Parsed.Error(InputError.BAD_HOST)
        }
        val port = portText.toIntOrNull()
        if (port == null || port !in 1..65535) return Parsed.Error(InputError.BAD_PORT)
        return Parsed.Ok(HostPort(host, port))
    }

    /** A lock timeout in whole seconds, 0 to 86,400. */
    fun lockTimeout(input: String): Parsed<Long> {
        val seconds = input.trim().toLongOrNull() ?: return Parsed.Error(InputError.BAD_TIMEOUT)
        return if (seconds in 0..86_400) Parsed.Ok(seconds) else Parsed.Error(InputError.BAD_TIMEOUT)
    }
}

/** A stored setting that could not be read and fell back to its default. */
data class SettingsProblem(val key: String)

/** Settings read from storage, with the keys that were damaged. */
data class DecodedSettings(val settings: Settings, val problems: List<SettingsProblem>)

/** The storage form of [Settings]: flat string keys and values, versioned. */
object SettingsCodec {
    private const val VERSION = "1"

    /** Flat map for SharedPreferences. */
    fun encode(s: Settings): Map<String, String> = buildMap {
        put("version", VERSION)
        s.relay?.let { put("relay", it.toString()) }
        when (val p = s.proxy) {
            ProxySetting.Direct -> put("proxy", "direct")
            ProxySetting.Tor -> put("proxy", "tor")
            is ProxySetting.Socks5 -> {
                put("proxy", "socks5")
                put("proxy.endpoint", p.endpoint.toString())
            }
        }
        put("sms_fallback", s.smsFallback.name)
        when (val l = s.appLock) {
            AppLockSetting.Off -> put("app_lock", "off")
            is AppLockSetting.Passphrase -> {
                put("app_lock", "passphrase")
                put("app_lock.timeout", l.timeoutSeconds.toString())
            }
        }
        put("screen_security", s.screenSecurity.toString())
        put("notification_privacy", s.notificationPrivacy.name)
    }

    /** Reads [stored]; missing keys take defaults silently, unreadable ones are reported. */
    fun decode(stored: Map<String, String>): DecodedSettings {
        val problems = mutableListOf<SettingsProblem>()
        val d = Settings.DEFAULT
        fun <T> read(key: String, default: T, parse: (String) -> T?): T {
            val raw = stored[key] ?: return default
            return parse(raw) ?: default.also { problems += SettingsProblem(key) }
        }
        val relay = read<HostPort?>("relay", d.relay) { (SettingsInput.hostPort(it) as? Parsed.Ok)?.value }
        val proxy = read("proxy", d.proxy) { kind ->
            when (kind) {
                "direct" -> ProxySetting.Direct
                "tor" -> ProxySetting.Tor
                "socks5" -> read<HostPort?>("proxy.endpoint", null) { (SettingsInput.hostPort(it) as? Parsed.Ok)?.value }
                    ?.let { ProxySetting.Socks5(it) }
                else -> null
            }
        }
        val fallback = read("sms_fallback", d.smsFallback) { v -> SmsFallbackPolicy.entries.firstOrNull { it.name == v } }
        val lock = read("app_lock", d.appLock) { kind ->
            when (kind) {
                "off" -> AppLockSetting.Off
                "passphrase" -> read<Long?>("app_lock.timeout", null) { (SettingsInput.lockTimeout(it) as? Parsed.Ok)?.value }
                    ?.let { AppLockSetting.Passphrase(it) }
                else -> null
            }
        }
        val screen = read("screen_security", d.screenSecurity) { it.toBooleanStrictOrNull() }
        val privacy = read("notification_privacy", d.notificationPrivacy) { v ->
            NotificationPrivacy.entries.firstOrNull { it.name == v }
        }
        return DecodedSettings(Settings(relay, proxy, fallback, lock, screen, privacy), problems.distinct())
    }
}
