package org.sotto.app.ui

import android.net.Uri
import android.telecom.TelecomManager
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material3.Button
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.unit.dp
import org.sotto.app.R
import org.sotto.logic.format.PhoneNumbers

/**
 * The dialer (DIAL, VIEW tel:, CALL tel:): the number, prefilled from the
 * intent, and a call button that hands it to Telecom. The in-call screen
 * then comes from our InCallService. The user always presses call: a CALL
 * intent is shown, not dialled silently.
 */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun DialerScreen(initial: String, back: () -> Unit) {
    val context = LocalContext.current
    var number by remember { mutableStateOf(initial) }
    var error by remember { mutableStateOf(false) }
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.action_dialer)) },
                navigationIcon = { IconButton(onClick = back) { Icon(Icons.AutoMirrored.Filled.ArrowBack, stringResource(R.string.action_back)) } },
            )
        },
    ) { padding ->
        Column(
            Modifier.fillMaxSize().padding(padding).padding(24.dp),
            verticalArrangement = Arrangement.spacedBy(16.dp),
            horizontalAlignment = Alignment.CenterHorizontally,
        ) {
            OutlinedTextField(
                value = number,
                onValueChange = {
                    number = it
                    error = false
                },
                keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Phone),
                singleLine = true,
                isError = error,
            )
            if (error) Text(stringResource(R.string.dialer_bad_number))
            Button(onClick = {
                val normalized = PhoneNumbers.dialString(number)
                if (normalized == null) {
                    error = true
                } else {
                    try {
                        context.getSystemService(TelecomManager::class.java).placeCall(Uri.fromParts("tel", normalized, null), null)
                    } catch (e: SecurityException) {
                        // CALL_PHONE not granted: the settings screen's permission flow asks for it.
                        error = true
                    }
                }
            }) { Text(stringResource(R.string.action_call)) }
        }
    }
}
