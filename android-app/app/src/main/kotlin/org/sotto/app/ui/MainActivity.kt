package org.sotto.app.ui

import android.content.Intent
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.BackHandler
import androidx.activity.compose.setContent
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateListOf
import androidx.compose.runtime.mutableStateMapOf
import androidx.lifecycle.lifecycleScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.sotto.app.relay.RelayConnectionService
import org.sotto.app.roles.PermissionRequester
import org.sotto.app.roles.RoleRequester
import org.sotto.app.sotto
import org.sotto.logic.intents.SmsUri
import org.sotto.logic.permissions.Feature
import org.sotto.logic.permissions.PermissionState
import org.sotto.logic.permissions.Role
import org.sotto.logic.permissions.RoleState

/** The screens of the main activity. */
sealed interface Screen {
    data object Conversations : Screen
    data class Conversation(val id: String, val draft: String = "") : Screen
    data object ContactPicker : Screen
    data class SafetyNumber(val conversationId: String) : Screen
    data class Dialer(val number: String) : Screen
    data object CallLog : Screen
    data object Settings : Screen
}

/**
 * The app's one screen activity (Compose). The system starts it from the
 * launcher, for `SENDTO sms:/smsto:/mms:/mmsto:` (default SMS app), for
 * `DIAL`, `VIEW tel:` and (through the CALL_PHONE-protected alias) `CALL tel:`
 * (dialer role), and from notifications. It turns the intent into a screen;
 * the screens get their data from the core and their rules from `:logic`.
 */
class MainActivity : ComponentActivity() {
    private val stack = mutableStateListOf<Screen>(Screen.Conversations)
    private val roles = mutableStateMapOf<Role, RoleState>()
    private val permissions = mutableStateMapOf<Feature, PermissionState>()
    private lateinit var roleRequester: RoleRequester
    private lateinit var permissionRequester: PermissionRequester

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        roleRequester = RoleRequester(this) { role, state -> roles[role] = state }
        permissionRequester = PermissionRequester(this) { feature, state -> permissions[feature] = state }
        val graph = sotto
        lifecycleScope.launch { graph.settings.settings.collect { applyScreenSecurity(this@MainActivity, it.screenSecurity) } }
        handle(intent)
        setContent {
            SottoTheme {
                val core by graph.core.collectAsState()
                if (core == null) {
                    UnlockScreen(needsPassphrase = graph.needsPassphrase(), unlock = { pass ->
                        graph.unlock(pass)
                        RelayConnectionService.start(this@MainActivity)
                    })
                    return@SottoTheme
                }
                BackHandler(enabled = stack.size > 1) { stack.removeAt(stack.lastIndex) }
                val open: (Screen) -> Unit = { stack.add(it) }
                val back: () -> Unit = { if (stack.size > 1) stack.removeAt(stack.lastIndex) else finish() }
                when (val screen = stack.last()) {
                    Screen.Conversations -> ConversationListScreen(graph, open)
                    is Screen.Conversation -> ConversationScreen(graph, screen.id, screen.draft, open, back)
                    Screen.ContactPicker -> ContactPickerScreen(permissions[Feature.CONTACTS], { permissionRequester.handle(Feature.CONTACTS, it) }, back) { name, number ->
                        lifecycleScope.launch {
                            val id = withContext(Dispatchers.IO) { graph.core.value?.conversationForNumber(number, name) }
                            if (id != null) {
                                stack.removeAt(stack.lastIndex)
                                stack.add(Screen.Conversation(id))
                            }
                        }
                    }
                    is Screen.SafetyNumber -> SafetyNumberScreen(graph, screen.conversationId, permissions[Feature.CAMERA], { permissionRequester.handle(Feature.CAMERA, it) }, back)
                    is Screen.Dialer -> DialerScreen(screen.number, back)
                    Screen.CallLog -> CallLogScreen(graph, open, back)
                    Screen.Settings -> SettingsScreen(
                        graph,
                        roles = roles,
                        permissions = permissions,
                        requestRole = roleRequester::request,
                        permissionEvent = permissionRequester::handle,
                        back = back,
                    )
                }
            }
        }
    }

    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        handle(intent)
    }

    override fun onStart() {
        super.onStart()
        sotto.onForeground()
        roleRequester.refresh()
        permissionRequester.refresh()
    }

    override fun onStop() {
        sotto.onBackground()
        super.onStop()
    }

    /** Turns an incoming intent into the screen it asks for. */
    private fun handle(intent: Intent?) {
        intent ?: return
        val data = intent.data
        when (intent.action) {
            Intent.ACTION_SENDTO -> {
                // sms:/smsto:/mms:/mmsto:; group texts are not built, so the first recipient gets it.
                val uri = data?.encodedSchemeSpecificPart?.let(SmsUri::parse) ?: return
                val body = intent.getStringExtra("sms_body") ?: intent.getStringExtra(Intent.EXTRA_TEXT) ?: uri.body ?: ""
                openConversationFor(uri.recipients.first(), body)
            }
            Intent.ACTION_DIAL, Intent.ACTION_VIEW, Intent.ACTION_CALL ->
                stack.add(Screen.Dialer(if (data?.scheme == "tel") data.schemeSpecificPart.orEmpty() else ""))
            ACTION_OPEN_CONVERSATION -> intent.getStringExtra(EXTRA_CONVERSATION)?.let { stack.add(Screen.Conversation(it)) }
        }
    }

    private fun openConversationFor(number: String, draft: String) {
        val graph = sotto
        lifecycleScope.launch {
            // Wait for the unlock if needed: the conversation needs the core.
            val core = graph.core.first { it != null } ?: return@launch
            val id = withContext(Dispatchers.IO) { core.conversationForNumber(number, null) }
            stack.add(Screen.Conversation(id, draft))
        }
    }

    companion object {
        /** Opens [EXTRA_CONVERSATION] (from a notification). */
        const val ACTION_OPEN_CONVERSATION = "org.sotto.app.OPEN_CONVERSATION"
        const val EXTRA_CONVERSATION = "conversation"
    }
}
