package org.sotto.app.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.selection.selectable
import androidx.compose.foundation.verticalScroll
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material3.Button
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.RadioButton
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import org.sotto.app.AppGraph
import org.sotto.app.R
import org.sotto.logic.core.CoreException
import org.sotto.logic.keys.VaultException
import org.sotto.logic.permissions.Feature
import org.sotto.logic.permissions.PermissionEvent
import org.sotto.logic.permissions.PermissionState
import org.sotto.logic.permissions.Role
import org.sotto.logic.permissions.RoleState
import org.sotto.logic.settings.AppLockSetting
import org.sotto.logic.settings.NotificationPrivacy
import org.sotto.logic.settings.Parsed
import org.sotto.logic.settings.ProxySetting
import org.sotto.logic.settings.Settings
import org.sotto.logic.settings.SettingsInput
import org.sotto.logic.transport.SmsFallbackPolicy

/**
 * Settings: default apps, permissions, relay, Tor/SOCKS proxy, SMS fallback,
 * app lock, screen security and notification privacy. Input is checked by
 * `SettingsInput`; a refused value stays in its field with the reason.
 */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun SettingsScreen(
    graph: AppGraph,
    roles: Map<Role, RoleState>,
    permissions: Map<Feature, PermissionState>,
    requestRole: (Role) -> Unit,
    permissionEvent: (Feature, PermissionEvent) -> Unit,
    back: () -> Unit,
) {
    val settings by graph.settings.settings.collectAsState()
    val save: (Settings) -> Unit = { new ->
        graph.settings.update(new)
        graph.lock.update(new.appLock)
        graph.scope.launch(Dispatchers.IO) { graph.core.value?.applyNetwork(new.relay, new.proxy) }
    }
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.settings_title)) },
                navigationIcon = { IconButton(onClick = back) { Icon(Icons.AutoMirrored.Filled.ArrowBack, stringResource(R.string.action_back)) } },
            )
        },
    ) { padding ->
        Column(Modifier.fillMaxSize().padding(padding).padding(16.dp).verticalScroll(rememberScrollState())) {
            Section(R.string.settings_default_apps)
            RoleRow(R.string.role_sms, roles[Role.SMS]) { requestRole(Role.SMS) }
            RoleRow(R.string.role_dialer, roles[Role.DIALER]) { requestRole(Role.DIALER) }

            Section(R.string.settings_permissions)
            for (feature in Feature.entries) {
                val state = permissions[feature]
                if (state != PermissionState.GRANTED && state != null) {
                    PermissionRationale(state, stringResource(whyText(feature))) { permissionEvent(feature, it) }
                }
            }

            Section(R.string.settings_relay)
            HostPortField(
                label = R.string.settings_relay_address,
                initial = settings.relay?.toString().orEmpty(),
                allowEmpty = true,
            ) { save(settings.copy(relay = it)) }

            Section(R.string.settings_proxy)
            Choice(R.string.proxy_direct, settings.proxy == ProxySetting.Direct) { save(settings.copy(proxy = ProxySetting.Direct)) }
            Choice(R.string.proxy_tor, settings.proxy == ProxySetting.Tor) { save(settings.copy(proxy = ProxySetting.Tor)) }
            val socks = settings.proxy as? ProxySetting.Socks5
            Text(stringResource(R.string.proxy_socks5))
            HostPortField(R.string.proxy_socks5_address, socks?.endpoint?.toString().orEmpty(), allowEmpty = false) { endpoint ->
                endpoint?.let { save(settings.copy(proxy = ProxySetting.Socks5(it))) }
            }

            Section(R.string.settings_calls)
            RelayOnlyCallsSwitch(graph)

            Section(R.string.settings_sms_fallback)
            Choice(R.string.fallback_policy_wait, settings.smsFallback == SmsFallbackPolicy.WAIT_FOR_RELAY) {
                save(settings.copy(smsFallback = SmsFallbackPolicy.WAIT_FOR_RELAY))
            }
            Choice(R.string.fallback_policy_ask, settings.smsFallback == SmsFallbackPolicy.ASK) {
                save(settings.copy(smsFallback = SmsFallbackPolicy.ASK))
            }
            Choice(R.string.fallback_policy_encrypted_sms, settings.smsFallback == SmsFallbackPolicy.ENCRYPTED_SMS) {
                save(settings.copy(smsFallback = SmsFallbackPolicy.ENCRYPTED_SMS))
            }

            Section(R.string.settings_app_lock)
            AppLockSection(graph, settings, save)

            Section(R.string.settings_privacy)
            Row(verticalAlignment = Alignment.CenterVertically) {
                Text(stringResource(R.string.settings_screen_security), Modifier.weight(1f))
                Switch(checked = settings.screenSecurity, onCheckedChange = { save(settings.copy(screenSecurity = it)) })
            }
            for ((privacy, label) in listOf(
                NotificationPrivacy.NAME_AND_MESSAGE to R.string.notification_privacy_all,
                NotificationPrivacy.NAME_ONLY to R.string.notification_privacy_name,
                NotificationPrivacy.NOTHING to R.string.notification_privacy_nothing,
            )) {
                Choice(label, settings.notificationPrivacy == privacy) { save(settings.copy(notificationPrivacy = privacy)) }
            }
        }
    }
}

private fun whyText(feature: Feature): Int = when (feature) {
    Feature.SMS -> R.string.permission_sms_why
    Feature.CONTACTS -> R.string.permission_contacts_why
    Feature.CALLS -> R.string.permission_calls_why
    Feature.CAMERA -> R.string.permission_camera_why
    Feature.NOTIFICATIONS -> R.string.permission_notifications_why
}

@Composable
private fun Section(title: Int) {
    HorizontalDivider(Modifier.padding(vertical = 8.dp))
    Text(stringResource(title), style = MaterialTheme.typography.titleMedium)
}

@Composable
private fun RoleRow(label: Int, state: RoleState?, request: () -> Unit) {
    Row(verticalAlignment = Alignment.CenterVertically) {
        Text(stringResource(label), Modifier.weight(1f))
        if (state == RoleState.HELD) {
            Text(stringResource(R.string.role_held))
        } else {
            Button(onClick = request) { Text(stringResource(R.string.role_make_default)) }
        }
    }
}

@Composable
private fun Choice(label: Int, selected: Boolean, onSelect: () -> Unit) {
    Row(Modifier.selectable(selected = selected, onClick = onSelect), verticalAlignment = Alignment.CenterVertically) {
        RadioButton(selected = selected, onClick = onSelect)
        Text(stringResource(label))
    }
}

/** A host:port field; [save] gets the parsed value (null for an allowed empty field). */
@Composable
private fun HostPortField(label: Int, initial: String, allowEmpty: Boolean, save: (org.sotto.logic.settings.HostPort?) -> Unit) {
    var input by remember(initial) { mutableStateOf(initial) }
    var error by remember { mutableStateOf<org.sotto.logic.settings.InputError?>(null) }
    OutlinedTextField(
        value = input,
        onValueChange = {
            input = it
            error = null
        },
        label = { Text(stringResource(label)) },
        isError = error != null,
        supportingText = { error?.let { Text(text(it)) } },
        singleLine = true,
    )
    Button(onClick = {
        if (allowEmpty && input.isBlank()) {
            save(null)
        } else {
            when (val parsed = SettingsInput.hostPort(input)) {
                is Parsed.Ok -> save(parsed.value)
                is Parsed.Error -> error = parsed.error
            }
        }
    }) { Text(stringResource(R.string.action_save)) }
}

@Composable
private fun AppLockSection(graph: AppGraph, settings: Settings, save: (Settings) -> Unit) {
    val scope = rememberCoroutineScope()
    var current by remember { mutableStateOf("") }
    var new by remember { mutableStateOf("") }
    var message by remember { mutableStateOf<Int?>(null) }
    val locked = settings.appLock is AppLockSetting.Passphrase
    if (locked) {
        OutlinedTextField(
            value = current,
            onValueChange = { current = it },
            label = { Text(stringResource(R.string.lock_current_passphrase)) },
            visualTransformation = PasswordVisualTransformation(),
            singleLine = true,
        )
    }
    OutlinedTextField(
        value = new,
        onValueChange = { new = it },
        label = { Text(stringResource(if (locked) R.string.lock_new_passphrase_optional else R.string.lock_new_passphrase)) },
        visualTransformation = PasswordVisualTransformation(),
        singleLine = true,
    )
    Button(onClick = {
        val currentChars = if (locked) current.toCharArray() else null
        val newChars = new.takeIf { it.isNotEmpty() }?.toCharArray()
        current = ""
        new = ""
        scope.launch {
            message = try {
                graph.changePassphrase(currentChars, newChars)
                save(settings.copy(appLock = if (newChars == null) AppLockSetting.Off else AppLockSetting.Passphrase(LOCK_TIMEOUT_SECONDS)))
                if (newChars == null) R.string.lock_removed else R.string.lock_set
            } catch (e: VaultException.WrongPassphrase) {
                R.string.unlock_wrong_passphrase
            } catch (e: VaultException.ChangeUnfinished) {
                R.string.lock_change_failed
            } catch (e: VaultException.DeviceLocked) {
                R.string.unlock_device_locked
            } catch (e: VaultException) {
                R.string.unlock_key_file_damaged
            } catch (e: CoreException) {
                R.string.lock_change_failed
            }
        }
    }) { Text(stringResource(R.string.action_save)) }
    message?.let { Text(stringResource(it)) }
    if (locked) Button(onClick = { graph.lockNow() }) { Text(stringResource(R.string.lock_now)) }
}

/** The app locks this long after leaving the screen. */
private const val LOCK_TIMEOUT_SECONDS = 300L
