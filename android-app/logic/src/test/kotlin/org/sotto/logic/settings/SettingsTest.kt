package org.sotto.logic.settings

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.sotto.logic.transport.SmsFallbackPolicy

class SettingsTest {
    @Test
    fun `host and port input`() {
        assertEquals(Parsed.Ok(HostPort("relay.example.org", 443)), SettingsInput.hostPort(" relay.example.org:443 "))
        assertEquals(Parsed.Ok(HostPort("10.0.0.2", 7000)), SettingsInput.hostPort("10.0.0.2:7000"))
        assertEquals(Parsed.Ok(HostPort("::1", 9050)), SettingsInput.hostPort("[::1]:9050"))
        assertEquals("[::1]:9050", HostPort("::1", 9050).toString())
        assertEquals(Parsed.Error(InputError.EMPTY), SettingsInput.hostPort("  "))
        assertEquals(Parsed.Error(InputError.MISSING_PORT), SettingsInput.hostPort("relay.example.org"))
        assertEquals(Parsed.Error(InputError.MISSING_PORT), SettingsInput.hostPort("[::1]"))
        assertEquals(Parsed.Error(InputError.BAD_PORT), SettingsInput.hostPort("relay.example.org:0"))
        assertEquals(Parsed.Error(InputError.BAD_PORT), SettingsInput.hostPort("relay.example.org:70000"))
        assertEquals(Parsed.Error(InputError.BAD_PORT), SettingsInput.hostPort("relay.example.org:http"))
        assertEquals(Parsed.Error(InputError.BAD_HOST), SettingsInput.hostPort("bad_host!:443"))
        assertEquals(Parsed.Error(InputError.BAD_HOST), SettingsInput.hostPort("::1:443"))
        assertEquals(Parsed.Error(InputError.BAD_HOST), SettingsInput.hostPort(":443"))
    }

    @Test
    fun `settings survive a round trip through storage`() {
        val all = listOf(
            Settings.DEFAULT,
            Settings(
                relay = HostPort("relay.example.org", 8443),
                proxy = ProxySetting.Socks5(HostPort("::1", 1080)),
                smsFallback = SmsFallbackPolicy.ENCRYPTED_SMS,
                appLock = AppLockSetting.Passphrase(300),
                screenSecurity = false,
                notificationPrivacy = NotificationPrivacy.NOTHING,
            ),
            Settings.DEFAULT.copy(proxy = ProxySetting.Tor, appLock = AppLockSetting.Passphrase(0)),
        )
        for (s in all) {
            val decoded = SettingsCodec.decode(SettingsCodec.encode(s))
            assertEquals(s, decoded.settings)
            assertTrue(decoded.problems.isEmpty())
        }
    }

    @Test
    fun `damaged values fall back one by one and are reported`() {
        val stored = SettingsCodec.encode(
            Settings.DEFAULT.copy(relay = HostPort("relay.example.org", 443), smsFallback = SmsFallbackPolicy.WAIT_FOR_RELAY),
        ) + mapOf(
            "proxy" to "socks5",
            "proxy.endpoint" to "nonsense",
            "screen_security" to "maybe",
        )
        val decoded = SettingsCodec.decode(stored)
        assertEquals(HostPort("relay.example.org", 443), decoded.settings.relay)
        assertEquals(SmsFallbackPolicy.WAIT_FOR_RELAY, decoded.settings.smsFallback)
        assertEquals(ProxySetting.Direct, decoded.settings.proxy)
        assertEquals(true, decoded.settings.screenSecurity)
        assertEquals(
            setOf("proxy.endpoint", "proxy", "screen_security"),
            decoded.problems.map { it.key }.toSet(),
        )
    }

    @Test
    fun `an empty store is the defaults without problems`() {
        assertEquals(DecodedSettings(Settings.DEFAULT, emptyList()), SettingsCodec.decode(emptyMap()))
    }

    @Test
    fun `lock timeout input`() {
        assertEquals(Parsed.Ok(60L), SettingsInput.lockTimeout("60"))
        assertEquals(Parsed.Error(InputError.BAD_TIMEOUT), SettingsInput.lockTimeout("-1"))
        assertEquals(Parsed.Error(InputError.BAD_TIMEOUT), SettingsInput.lockTimeout("soon"))
    }
}
