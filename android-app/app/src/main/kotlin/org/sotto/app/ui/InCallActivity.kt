package org.sotto.app.ui

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.ButtonDefaults
import androidx.compose.material3.Card
import androidx.compose.material3.FilledTonalButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableLongStateOf
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.lifecycle.lifecycleScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import org.sotto.app.R
import org.sotto.app.sotto
import org.sotto.logic.call.AudioRoute
import org.sotto.logic.call.CallEvent
import org.sotto.logic.call.CallScreenModel
import org.sotto.logic.call.CallState
import org.sotto.logic.call.CallStatus

/**
 * The in-call screen for both kinds of call, shown over the lock screen.
 * Started by [org.sotto.app.call.SottoInCallService] for carrier calls and
 * by the self-managed connection's `onShowIncomingCallUi` for secure ones.
 * It draws `CallScreenModel` and turns button presses into `CallEvent`s.
 */
class InCallActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        lifecycleScope.launch { sotto.settings.settings.collect { applyScreenSecurity(this@InCallActivity, it.screenSecurity) } }
        val calls = sotto.calls
        setContent {
            SottoTheme {
                // Start from the current state, so the first frame is not "no call" (which closes the screen).
                var state by remember { mutableStateOf(calls.state) }
                var now by remember { mutableLongStateOf(System.currentTimeMillis()) }
                DisposableEffect(Unit) {
                    val observation = calls.observe { state = it }
                    onDispose { observation.close() }
                }
                LaunchedEffect(state) {
                    while (state is CallState.Active) {
                        now = System.currentTimeMillis()
                        delay(1_000) // redraws the talk-time clock; no logic waits on it
                    }
                }
                val model = CallScreenModel.of(state, now)
                if (model == null) {
                    LaunchedEffect(Unit) { finish() }
                } else {
                    CallScreen(model) { calls.handle(it) }
                }
            }
        }
    }
}

/** The call screen itself: who, status, the authentication words, and the buttons the model allows. */
@Composable
fun CallScreen(model: CallScreenModel, send: (CallEvent) -> Unit) {
    Column(
        Modifier.fillMaxSize().padding(24.dp),
        verticalArrangement = Arrangement.spacedBy(16.dp, Alignment.CenterVertically),
        horizontalAlignment = Alignment.CenterHorizontally,
    ) {
        Text(model.peerName, style = MaterialTheme.typography.headlineMedium)
        Text(text(model.status, model.endReason))
        if (model.secure) Text(stringResource(R.string.call_encrypted))
        model.timer?.let { Text(it, style = MaterialTheme.typography.titleLarge) }
        model.authWords?.let { words ->
            Card(Modifier.padding(8.dp)) {
                Column(Modifier.padding(16.dp), horizontalAlignment = Alignment.CenterHorizontally) {
                    Text(stringResource(R.string.call_auth_instructions))
                    Text(words, style = MaterialTheme.typography.headlineSmall)
                    if (model.authConfirmed) {
                        Text(stringResource(R.string.call_auth_confirmed))
                    } else {
                        FilledTonalButton(onClick = { send(CallEvent.AuthConfirmed) }) { Text(stringResource(R.string.call_auth_match)) }
                        // A mismatch means someone may be in the middle: hang up rather than talk.
                        Button(
                            onClick = { send(CallEvent.HangupPressed) },
                            colors = ButtonDefaults.buttonColors(containerColor = MaterialTheme.colorScheme.error),
                        ) { Text(stringResource(R.string.call_auth_mismatch)) }
                    }
                }
            }
        }
        if (model.showInCallControls) {
            Row(horizontalArrangement = Arrangement.spacedBy(12.dp)) {
                FilledTonalButton(onClick = { send(CallEvent.MuteToggled) }) {
                    Text(stringResource(if (model.muted) R.string.call_unmute else R.string.call_mute))
                }
                FilledTonalButton(onClick = {
                    send(CallEvent.RouteSelected(if (model.route == AudioRoute.SPEAKER) AudioRoute.EARPIECE else AudioRoute.SPEAKER))
                }) { Text(stringResource(if (model.route == AudioRoute.SPEAKER) R.string.call_earpiece else R.string.call_speaker)) }
            }
        }
        if (model.showAnswerAndReject) {
            Row(horizontalArrangement = Arrangement.spacedBy(24.dp)) {
                Button(onClick = { send(CallEvent.RejectPressed) }, colors = ButtonDefaults.buttonColors(containerColor = MaterialTheme.colorScheme.error)) {
                    Text(stringResource(R.string.call_decline))
                }
                Button(onClick = { send(CallEvent.AnswerPressed) }) { Text(stringResource(R.string.call_answer)) }
            }
        }
        if (model.showHangup) {
            Button(onClick = { send(CallEvent.HangupPressed) }, colors = ButtonDefaults.buttonColors(containerColor = MaterialTheme.colorScheme.error)) {
                Text(stringResource(R.string.call_hang_up))
            }
        }
        if (model.status == CallStatus.ENDED) {
            Button(onClick = { send(CallEvent.Dismissed) }) { Text(stringResource(R.string.action_close)) }
        }
    }
}
