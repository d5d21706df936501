package org.sotto.app.ui

import android.text.format.DateFormat
import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.List
import androidx.compose.material.icons.filled.Add
import androidx.compose.material.icons.filled.Lock
import androidx.compose.material.icons.filled.Phone
import androidx.compose.material.icons.filled.Settings
import androidx.compose.material.icons.filled.Warning
import androidx.compose.material3.Badge
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.FloatingActionButton
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.ListItem
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.produceState
import androidx.compose.runtime.remember
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.style.TextOverflow
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.sotto.app.AppGraph
import org.sotto.app.R
import org.sotto.logic.conversation.ConversationListItem
import org.sotto.logic.conversation.ConversationPresenter
import org.sotto.logic.conversation.SecurityMarker
import org.sotto.logic.format.TimestampFormatter
import java.time.ZoneId
import java.util.Locale

/** A presenter for this device's zone, locale and 12/24-hour setting. */
@Composable
fun rememberPresenter(): ConversationPresenter {
    val context = LocalContext.current
    return remember {
        ConversationPresenter(TimestampFormatter(ZoneId.systemDefault(), Locale.getDefault(), DateFormat.is24HourFormat(context)))
    }
}

/** The conversation list: newest first, each with its lock or SMS marker. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun ConversationListScreen(graph: AppGraph, open: (Screen) -> Unit) {
    val presenter = rememberPresenter()
    val changes by graph.conversationChanges.collectAsState()
    val items by produceState(emptyList<ConversationListItem>(), changes) {
        value = withContext(Dispatchers.IO) {
            val core = graph.core.value ?: return@withContext emptyList()
            presenter.list(core.conversations(), System.currentTimeMillis())
        }
    }
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.app_name)) },
                actions = {
                    IconButton(onClick = { open(Screen.Dialer("")) }) {
                        Icon(Icons.Filled.Phone, stringResource(R.string.action_dialer))
                    }
                    IconButton(onClick = { open(Screen.CallLog) }) {
                        Icon(Icons.AutoMirrored.Filled.List, stringResource(R.string.call_log_title))
                    }
                    IconButton(onClick = { open(Screen.Settings) }) {
                        Icon(Icons.Filled.Settings, stringResource(R.string.settings_title))
                    }
                },
            )
        },
        floatingActionButton = {
            FloatingActionButton(onClick = { open(Screen.ContactPicker) }) {
                Icon(Icons.Filled.Add, stringResource(R.string.action_new_conversation))
            }
        },
    ) { padding ->
        if (items.isEmpty()) {
            Text(stringResource(R.string.conversations_empty), Modifier.padding(padding).padding(horizontal = 16.dp))
        }
        LazyColumn(Modifier.fillMaxSize().padding(padding)) {
            items(items, key = { it.id }) { item -> ConversationRow(item) { open(Screen.Conversation(item.id)) } }
        }
    }
}

@Composable
private fun ConversationRow(item: ConversationListItem, onClick: () -> Unit) {
    val preview = if (item.previewFromMe) stringResource(R.string.preview_you, item.preview) else item.preview
    ListItem(
        modifier = Modifier.clickable(onClick = onClick),
        headlineContent = {
            Row {
                if (item.marker == SecurityMarker.ENCRYPTED) Icon(Icons.Filled.Lock, stringResource(R.string.marker_encrypted))
                Text(item.title, maxLines = 1, overflow = TextOverflow.Ellipsis)
                if (item.identityWarning) Icon(Icons.Filled.Warning, stringResource(R.string.identity_changed_short))
            }
        },
        supportingContent = {
            Text(
                if (item.marker == SecurityMarker.PLAIN) stringResource(R.string.marker_plain_prefix, preview) else preview,
                maxLines = 1,
                overflow = TextOverflow.Ellipsis,
            )
        },
        trailingContent = {
            Row {
                item.time?.let { Text(text(it)) }
                item.unreadBadge?.let { Badge { Text(it) } }
            }
        },
    )
}
