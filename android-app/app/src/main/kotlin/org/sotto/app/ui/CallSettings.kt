package org.sotto.app.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.sotto.app.AppGraph
import org.sotto.app.R

/**
 * "Always relay calls": a switch for the setting the core keeps in its
 * encrypted store (not in the app's preferences), read when shown and saved
 * at once; the core applies it to the running connection.
 */
@Composable
fun RelayOnlyCallsSwitch(graph: AppGraph) {
    val scope = rememberCoroutineScope()
    // Null until read from the core (the switch is hidden while locked).
    var relayOnly by remember { mutableStateOf<Boolean?>(null) }
    LaunchedEffect(graph) {
        relayOnly = withContext(Dispatchers.IO) { runCatching { graph.core.value?.relayOnlyCalls() }.getOrNull() }
    }
    val checked = relayOnly ?: return
    Row(verticalAlignment = Alignment.CenterVertically) {
        Column(Modifier.weight(1f)) {
            Text(stringResource(R.string.settings_relay_only_calls))
            Text(stringResource(R.string.settings_relay_only_calls_hint), style = MaterialTheme.typography.bodySmall)
        }
        Switch(checked = checked, onCheckedChange = { wanted ->
            scope.launch {
                val saved = withContext(Dispatchers.IO) {
                    runCatching { graph.core.value?.setRelayOnlyCalls(wanted) }.isSuccess
                }
                if (saved) relayOnly = wanted
            }
        })
    }
}
