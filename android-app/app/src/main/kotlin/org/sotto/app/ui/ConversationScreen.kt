package org.sotto.app.ui

import android.graphics.BitmapFactory
import android.widget.Toast
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.widthIn
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material.icons.automirrored.filled.Send
import androidx.compose.material.icons.filled.Add
import androidx.compose.material.icons.filled.Call
import androidx.compose.material.icons.filled.Lock
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.DropdownMenu
import androidx.compose.material3.DropdownMenuItem
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.produceState
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.ImageBitmap
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.pluralStringResource
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.sotto.app.AppGraph
import org.sotto.app.R
import org.sotto.app.core.BindingsAdapter
import org.sotto.app.sms.MmsPictures
import org.sotto.app.sms.MmsTransfers
import org.sotto.app.sms.reachabilityFor
import org.sotto.logic.call.CallEvent
import org.sotto.logic.call.CallKind
import org.sotto.logic.call.CallPeer
import org.sotto.logic.conversation.ConversationBanner
import org.sotto.logic.conversation.ConversationItem
import org.sotto.logic.conversation.ConversationViewState
import org.sotto.logic.conversation.SecurityMarker
import org.sotto.logic.conversation.Transport
import org.sotto.logic.format.DurationLabel
import org.sotto.logic.format.exactDurationLabel
import org.sotto.logic.sms.SmsEncoding
import org.sotto.logic.sms.SmsSegments
import org.sotto.logic.transport.TransportDecision
import org.sotto.logic.transport.TransportPolicy

/** The disappearing-timer choices offered, in seconds (0: off). */
private val TIMER_CHOICES = listOf(0L, 30L, 300L, 3_600L, 28_800L, 86_400L, 604_800L, 2_419_200L)

/** How many messages a page loads. */
private const val PAGE = 50

/**
 * One conversation: bubbles with their lock or SMS marker, delivery state and
 * disappearing countdown; the composer shows which path the next text takes
 * (`TransportPolicy`), and a Sotto contact can be called securely.
 */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun ConversationScreen(graph: AppGraph, conversationId: String, draft: String, open: (Screen) -> Unit, back: () -> Unit) {
    val presenter = rememberPresenter()
    val changes by graph.conversationChanges.collectAsState()
    val relay by graph.relayConnected.collectAsState()
    val settings by graph.settings.settings.collectAsState()
    val scope = rememberCoroutineScope()
    val view by produceState<ConversationViewState?>(null, changes) {
        value = withContext(Dispatchers.IO) {
            val core = graph.core.value ?: return@withContext null
            val record = core.conversation(conversationId)
            core.markRead(conversationId)
            presenter.conversation(record, core.messages(conversationId, PAGE, null), System.currentTimeMillis())
        }
    }
    LaunchedEffect(conversationId) { graph.notifications.cancel(conversationId) }
    var text by remember { mutableStateOf(draft) }
    var timerMenu by remember { mutableStateOf(false) }
    var askFallback by remember { mutableStateOf<String?>(null) }
    var downgrade by remember { mutableStateOf<String?>(null) }
    val context = LocalContext.current
    val plainThread = conversationId.startsWith(BindingsAdapter.PLAIN_PREFIX)
    // A picture for a plain thread goes as an MMS with the text typed so far.
    val pickPicture = rememberLauncherForActivityResult(ActivityResultContracts.PickVisualMedia()) { uri ->
        if (uri == null || !plainThread) return@rememberLauncherForActivityResult
        val body = text
        text = ""
        scope.launch {
            val failure: Int? = withContext(Dispatchers.IO) {
                val core = graph.core.value ?: return@withContext R.string.mms_not_sent
                val transfers = MmsTransfers(context)
                // Room for the headers, the SMIL and the text part.
                val room = transfers.carrierMaxBytes() - 4 * 1024 - body.toByteArray().size
                val picture = MmsPictures.fit(context, uri, room) ?: return@withContext R.string.mms_attachment_too_large
                val sent = runCatching {
                    transfers.send(core, conversationId.removePrefix(BindingsAdapter.PLAIN_PREFIX), body, listOf(picture))
                }.isSuccess
                if (sent) null else R.string.mms_not_sent
            }
            if (failure != null) {
                text = body
                Toast.makeText(context, failure, Toast.LENGTH_LONG).show()
            }
            // The core publishes nothing for an MMS (it is not in the SMS queue): refresh the page.
            graph.conversationChanges.value++
        }
    }
    val state = view ?: return
    val sotto = state.marker == SecurityMarker.ENCRYPTED
    val presentation = remember(relay, settings.smsFallback, sotto) {
        TransportPolicy.present(reachabilityFor(graph, sotto), settings.smsFallback)
    }
    val send: (String, Transport) -> Unit = { body, transport ->
        scope.launch(Dispatchers.IO) { graph.core.value?.sendText(conversationId, body, transport) }
    }

    Scaffold(
        topBar = {
            TopAppBar(
                title = {
                    Row(verticalAlignment = Alignment.CenterVertically) {
                        if (sotto) Icon(Icons.Filled.Lock, stringResource(R.string.marker_encrypted))
                        Text(state.title)
                    }
                },
                navigationIcon = {
                    IconButton(onClick = back) { Icon(Icons.AutoMirrored.Filled.ArrowBack, stringResource(R.string.action_back)) }
                },
                actions = {
                    if (plainThread) {
                        IconButton(onClick = {
                            pickPicture.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly))
                        }) { Icon(Icons.Filled.Add, stringResource(R.string.action_attach_picture)) }
                    }
                    if (sotto) {
                        IconButton(onClick = {
                            // The core sends the offer and names the call; the state machine takes it from there.
                            scope.launch {
                                val callId = withContext(Dispatchers.IO) {
                                    runCatching { graph.core.value?.placeCall(conversationId) }.getOrNull()
                                } ?: return@launch
                                graph.calls.handle(CallEvent.PlaceRequested(callId, CallPeer(state.title, null), CallKind.SECURE))
                            }
                        }) { Icon(Icons.Filled.Call, stringResource(R.string.action_call_securely)) }
                        TextButton(onClick = { open(Screen.SafetyNumber(conversationId)) }) { Text(stringResource(R.string.safety_number_title)) }
                        TextButton(onClick = { timerMenu = true }) { Text(text(state.timer)) }
                        DropdownMenu(expanded = timerMenu, onDismissRequest = { timerMenu = false }) {
                            for (seconds in TIMER_CHOICES) {
                                DropdownMenuItem(text = { Text(text(exactDurationLabel(seconds))) }, onClick = {
                                    timerMenu = false
                                    scope.launch(Dispatchers.IO) { graph.core.value?.setDisappearingTimer(conversationId, seconds) }
                                })
                            }
                            HorizontalDivider()
                            DropdownMenuItem(
                                text = {
                                    Text(stringResource(if (state.keepsNoHistory) R.string.history_keep else R.string.history_keep_none))
                                },
                                onClick = {
                                    timerMenu = false
                                    val keepNone = !state.keepsNoHistory
                                    scope.launch(Dispatchers.IO) { graph.core.value?.setKeepNoHistory(conversationId, keepNone) }
                                },
                            )
                        }
                    }
                },
            )
        },
    ) { padding ->
        Column(Modifier.fillMaxSize().padding(padding)) {
            when (state.banner) {
                ConversationBanner.IDENTITY_CHANGED -> Card(
                    Modifier.fillMaxWidth().padding(8.dp),
                    colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.errorContainer),
                ) {
                    Text(stringResource(R.string.identity_changed_banner), Modifier.padding(12.dp))
                    TextButton(onClick = { open(Screen.SafetyNumber(conversationId)) }) { Text(stringResource(R.string.action_check_safety_number)) }
                }
                ConversationBanner.PLAIN_SMS_ONLY -> Text(stringResource(R.string.plain_sms_banner), Modifier.padding(12.dp))
                null -> Unit
            }
            if (state.keepsNoHistory) {
                Text(stringResource(R.string.history_none_notice), Modifier.padding(horizontal = 12.dp), style = MaterialTheme.typography.labelMedium)
            }
            LazyColumn(Modifier.weight(1f).fillMaxWidth(), reverseLayout = false) {
                items(state.items) { item ->
                    when (item) {
                        is ConversationItem.DaySeparator -> Text(
                            text(item.label),
                            Modifier.fillMaxWidth().padding(8.dp),
                            style = MaterialTheme.typography.labelMedium,
                        )
                        is ConversationItem.Bubble -> Bubble(item) {
                            if (item.hasAttachments) MmsParts(graph, conversationId, item.id)
                        }
                    }
                }
            }
            Composer(
                text = text,
                onText = { text = it },
                encrypted = presentation.encrypted,
                offerDowngrade = presentation.offerPlainSmsDowngrade,
                plainNotice = presentation.plainSmsNotice,
                onSend = {
                    val body = text
                    text = ""
                    when (val d = presentation.decision) {
                        is TransportDecision.Send -> send(body, d.transport)
                        TransportDecision.QueueForRelay -> send(body, Transport.RELAY)
                        TransportDecision.AskRelayOrEncryptedSms -> askFallback = body
                        is TransportDecision.Unavailable -> text = body
                    }
                },
                onSendAsSms = { downgrade = text },
            )
        }
    }
    askFallback?.let { body ->
        AlertDialog(
            onDismissRequest = { askFallback = null },
            title = { Text(stringResource(R.string.fallback_title)) },
            text = { Text(stringResource(R.string.fallback_text)) },
            confirmButton = {
                TextButton(onClick = {
                    send(body, Transport.ENCRYPTED_SMS)
                    askFallback = null
                }) { Text(stringResource(R.string.fallback_encrypted_sms)) }
            },
            dismissButton = {
                TextButton(onClick = {
                    send(body, Transport.RELAY)
                    askFallback = null
                }) { Text(stringResource(R.string.fallback_wait)) }
            },
        )
    }
    downgrade?.let { body ->
        AlertDialog(
            onDismissRequest = { downgrade = null },
            title = { Text(stringResource(R.string.downgrade_title)) },
            text = { Text(stringResource(R.string.downgrade_text)) },
            confirmButton = {
                TextButton(onClick = {
                    text = ""
                    send(body, Transport.PLAIN_SMS)
                    downgrade = null
                }) { Text(stringResource(R.string.downgrade_confirm)) }
            },
            dismissButton = { TextButton(onClick = { downgrade = null }) { Text(stringResource(R.string.action_cancel)) } },
        )
    }
}

@Composable
private fun Bubble(item: ConversationItem.Bubble, parts: @Composable () -> Unit) {
    val colors = if (item.outgoing) {
        CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.primaryContainer)
    } else {
        CardDefaults.cardColors()
    }
    Row(Modifier.fillMaxWidth().padding(horizontal = 8.dp, vertical = 2.dp), horizontalArrangement = if (item.outgoing) Arrangement.End else Arrangement.Start) {
        Card(colors = colors) {
            Column(Modifier.padding(10.dp)) {
                parts()
                if (item.body.isNotEmpty()) Text(item.body)
                Row(horizontalArrangement = Arrangement.spacedBy(6.dp)) {
                    if (item.marker == SecurityMarker.ENCRYPTED) {
                        Icon(Icons.Filled.Lock, stringResource(R.string.marker_encrypted))
                    } else {
                        Text(stringResource(R.string.marker_sms), style = MaterialTheme.typography.labelSmall)
                    }
                    Text(item.time, style = MaterialTheme.typography.labelSmall)
                    if (item.outgoing) Text(text(item.delivery), style = MaterialTheme.typography.labelSmall)
                    item.expiresIn?.let { if (it != DurationLabel.Off) Text(text(it), style = MaterialTheme.typography.labelSmall) }
                }
            }
        }
    }
}

/** The parts of an MMS: pictures shown (decoded off the main thread, at most about 1024 px), other parts named by type. */
@Composable
private fun MmsParts(graph: AppGraph, conversationId: String, messageId: String) {
    val parts by produceState<List<Pair<String, ImageBitmap?>>>(emptyList(), messageId) {
        value = withContext(Dispatchers.IO) {
            val stored = runCatching { graph.core.value?.attachments(conversationId, messageId) }.getOrNull().orEmpty()
            stored.map { part -> part.contentType to if (part.contentType.startsWith("image/")) preview(part.data) else null }
        }
    }
    for ((type, picture) in parts) {
        if (picture != null) {
            Image(picture, stringResource(R.string.mms_picture), Modifier.widthIn(max = 240.dp).padding(bottom = 4.dp))
        } else {
            Text(stringResource(R.string.mms_attachment, type), style = MaterialTheme.typography.labelMedium)
        }
    }
}

private fun preview(data: ByteArray): ImageBitmap? {
    val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
    BitmapFactory.decodeByteArray(data, 0, data.size, bounds)
    if (bounds.outWidth <= 0 || bounds.outHeight <= 0) return null
    var sample = 1
    while (maxOf(bounds.outWidth, bounds.outHeight) / (sample * 2) >= 1024) sample *= 2
    return BitmapFactory.decodeByteArray(data, 0, data.size, BitmapFactory.Options().apply { inSampleSize = sample })?.asImageBitmap()
}

@Composable
private fun Composer(
    text: String,
    onText: (String) -> Unit,
    encrypted: Boolean,
    offerDowngrade: Boolean,
    plainNotice: Boolean,
    onSend: () -> Unit,
    onSendAsSms: () -> Unit,
) {
    Column(Modifier.fillMaxWidth().padding(8.dp)) {
        if (plainNotice && text.isNotEmpty()) {
            val cost = SmsSegments.cost(text)
            Text(
                pluralStringResource(
                    if (cost.encoding == SmsEncoding.GSM_7BIT) R.plurals.sms_cost_gsm else R.plurals.sms_cost_unicode,
                    cost.segments,
                    cost.segments,
                    cost.unitsLeftInLastSegment,
                ),
                style = MaterialTheme.typography.labelSmall,
            )
        }
        Row(verticalAlignment = Alignment.CenterVertically) {
            OutlinedTextField(
                value = text,
                onValueChange = onText,
                modifier = Modifier.weight(1f),
                placeholder = {
                    Text(stringResource(if (encrypted) R.string.composer_hint_encrypted else R.string.composer_hint_plain))
                },
            )
            IconButton(onClick = onSend, enabled = text.isNotBlank()) {
                Icon(Icons.AutoMirrored.Filled.Send, stringResource(R.string.action_send))
            }
            if (offerDowngrade) {
                TextButton(onClick = onSendAsSms, enabled = text.isNotBlank()) { Text(stringResource(R.string.action_send_as_sms)) }
            }
        }
    }
}
