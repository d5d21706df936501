package org.sotto.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
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
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.launch
import org.sotto.app.R
import org.sotto.logic.core.CoreException
import org.sotto.logic.keys.VaultException

/**
 * Opens the store: at once without a passphrase lock (the Keystore unwraps
 * the key), after the passphrase with one. Errors name what to do; the key
 * file is never replaced from here.
 */
@Composable
fun UnlockScreen(needsPassphrase: Boolean, unlock: suspend (CharArray?) -> Unit) {
    var passphrase by remember { mutableStateOf("") }
    var error by remember { mutableStateOf<Int?>(null) }
    var busy by remember { mutableStateOf(false) }
    val scope = rememberCoroutineScope()
    val attempt: (CharArray?) -> Unit = { pass ->
        busy = true
        scope.launch {
            error = try {
                unlock(pass)
                null
            } catch (e: VaultException.WrongPassphrase) {
                R.string.unlock_wrong_passphrase
            } catch (e: VaultException.KeystoreKeyUnavailable) {
                R.string.unlock_keystore_gone
            } catch (e: VaultException.DeviceLocked) {
                R.string.unlock_device_locked
            } catch (e: VaultException) {
                R.string.unlock_key_file_damaged
            } catch (e: CoreException.WrongKey) {
                R.string.unlock_key_file_damaged
            } catch (e: CoreException) {
                R.string.unlock_store_failed
            }
            busy = false
        }
    }
    if (!needsPassphrase) LaunchedEffect(Unit) { attempt(null) }
    Column(
        Modifier.fillMaxSize().padding(24.dp),
        verticalArrangement = Arrangement.spacedBy(16.dp, Alignment.CenterVertically),
        horizontalAlignment = Alignment.CenterHorizontally,
    ) {
        Text(stringResource(R.string.app_name), style = MaterialTheme.typography.headlineMedium)
        if (needsPassphrase) {
            OutlinedTextField(
                value = passphrase,
                onValueChange = { passphrase = it },
                label = { Text(stringResource(R.string.unlock_passphrase)) },
                visualTransformation = PasswordVisualTransformation(),
                keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Password),
                singleLine = true,
            )
            Button(enabled = !busy && passphrase.isNotEmpty(), onClick = {
                attempt(passphrase.toCharArray())
                passphrase = ""
            }) { Text(stringResource(R.string.unlock_button)) }
        } else if (busy) {
            Text(stringResource(R.string.unlock_opening))
        }
        error?.let { Text(stringResource(it), color = MaterialTheme.colorScheme.error) }
        if (!needsPassphrase && error != null) {
            Button(onClick = { attempt(null) }) { Text(stringResource(R.string.action_retry)) }
        }
    }
}
