package org.sotto.app.ui

import android.text.format.DateFormat
import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material.icons.filled.Delete
import androidx.compose.material3.DropdownMenu
import androidx.compose.material3.DropdownMenuItem
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.produceState
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.style.TextOverflow
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.sotto.app.AppGraph
import org.sotto.app.R
import org.sotto.logic.calllog.CallDirection
import org.sotto.logic.calllog.CallLogPresenter
import org.sotto.logic.calllog.CallLogRow
import org.sotto.logic.calllog.CallOutcome
import org.sotto.logic.format.TimestampFormatter
import java.time.ZoneId
import java.util.Locale

/** How many calls the screen shows (the core pages; the newest are what a dialer needs). */
private const val CALL_LOG_PAGE = 200

/**
 * The call log of secure calls, newest first: who, which way, what became of
 * it, when and how long. Tapping a row opens the conversation (with its
 * secure call button); the menu clears the log. Rows and labels come from
 * `:logic`'s [CallLogPresenter]; this only draws them.
 */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun CallLogScreen(graph: AppGraph, open: (Screen) -> Unit, back: () -> Unit) {
    val context = LocalContext.current
    val presenter = remember {
        CallLogPresenter(TimestampFormatter(ZoneId.systemDefault(), Locale.getDefault(), DateFormat.is24HourFormat(context)))
    }
    val scope = rememberCoroutineScope()
    val changes by graph.callLogChanges.collectAsState()
    var reload by remember { mutableStateOf(0) }
    var menu by remember { mutableStateOf(false) }
    val rows by produceState(emptyList<CallLogRow>(), changes, reload) {
        value = withContext(Dispatchers.IO) {
            val core = graph.core.value ?: return@withContext emptyList()
            presenter.rows(core.callLog(CALL_LOG_PAGE, null), System.currentTimeMillis())
        }
    }
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.call_log_title)) },
                navigationIcon = {
                    IconButton(onClick = back) { Icon(Icons.AutoMirrored.Filled.ArrowBack, stringResource(R.string.action_back)) }
                },
                actions = {
                    TextButton(onClick = { menu = true }) { Text(stringResource(R.string.call_log_menu)) }
                    DropdownMenu(expanded = menu, onDismissRequest = { menu = false }) {
                        DropdownMenuItem(text = { Text(stringResource(R.string.call_log_clear)) }, onClick = {
                            menu = false
                            scope.launch {
                                withContext(Dispatchers.IO) { graph.core.value?.clearCallLog() }
                                reload++
                            }
                        })
                    }
                },
            )
        },
    ) { padding ->
        if (rows.isEmpty()) {
            Text(stringResource(R.string.call_log_empty), Modifier.padding(padding).padding(horizontal = 16.dp))
        }
        LazyColumn(Modifier.fillMaxSize().padding(padding)) {
            items(rows, key = { it.id }) { row ->
                CallLogItem(
                    row,
                    onClick = { open(Screen.Conversation(row.conversationId)) },
                    onDelete = {
                        scope.launch {
                            withContext(Dispatchers.IO) { graph.core.value?.deleteCallLogEntry(row.id) }
                            reload++
                        }
                    },
                )
            }
        }
    }
}

@Composable
private fun CallLogItem(row: CallLogRow, onClick: () -> Unit, onDelete: () -> Unit) {
    val name = row.title ?: stringResource(R.string.call_log_unknown_contact)
    val title = if (row.count > 1) stringResource(R.string.call_log_repeated, name, row.count) else name
    val kind = kindText(row.direction, row.outcome)
    ListItem(
        modifier = Modifier.clickable(onClick = onClick),
        headlineContent = {
            Text(
                title,
                maxLines = 1,
                overflow = TextOverflow.Ellipsis,
                color = if (row.highlighted) MaterialTheme.colorScheme.error else MaterialTheme.colorScheme.onSurface,
            )
        },
        supportingContent = {
            Text(row.duration?.let { stringResource(R.string.call_log_kind_duration, kind, it) } ?: kind)
        },
        trailingContent = {
            Row {
                Text(text(row.time))
                IconButton(onClick = onDelete) { Icon(Icons.Filled.Delete, stringResource(R.string.call_log_delete)) }
            }
        },
    )
}

/** "Incoming", "Outgoing", "Missed", "Declined", "Not answered", "Cancelled", "Failed". */
@Composable
private fun kindText(direction: CallDirection, outcome: CallOutcome): String = stringResource(
    when (outcome) {
        CallOutcome.ANSWERED -> if (direction == CallDirection.INCOMING) R.string.call_log_incoming else R.string.call_log_outgoing
        CallOutcome.MISSED -> R.string.call_log_missed
        CallOutcome.DECLINED -> R.string.call_log_declined
        CallOutcome.NOT_ANSWERED -> R.string.call_log_not_answered
        CallOutcome.CANCELLED -> R.string.call_log_cancelled
        CallOutcome.FAILED -> R.string.call_log_failed
    },
)
