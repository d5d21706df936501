package org.sotto.app.ui

import android.content.Context
import android.provider.ContactsContract
import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material3.Button
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.ListItem
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.produceState
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.sotto.app.R
import org.sotto.logic.format.PhoneNumbers
import org.sotto.logic.permissions.PermissionEvent
import org.sotto.logic.permissions.PermissionState

/** A phone number of a contact in the system's Contacts provider. */
class PhoneContact(val name: String, val number: String) {
    override fun toString(): String = "PhoneContact(redacted)"
}

/** Reads names and numbers from the Contacts provider (READ_CONTACTS), sorted by name. */
fun loadPhoneContacts(context: Context): List<PhoneContact> {
    val projection = arrayOf(
        ContactsContract.CommonDataKinds.Phone.DISPLAY_NAME_PRIMARY,
        ContactsContract.CommonDataKinds.Phone.NUMBER,
    )
    val out = mutableListOf<PhoneContact>()
    context.contentResolver.query(
        ContactsContract.CommonDataKinds.Phone.CONTENT_URI,
        projection,
        null,
        null,
        ContactsContract.CommonDataKinds.Phone.DISPLAY_NAME_PRIMARY + " COLLATE LOCALIZED ASC",
    )?.use { c ->
        while (c.moveToNext()) {
            val name = c.getString(0) ?: continue
            val number = c.getString(1) ?: continue
            out += PhoneContact(name, number)
        }
    }
    return out
}

/**
 * Picks whom to write to: a contact from the phone's contacts, or a typed
 * number. Without READ_CONTACTS it explains and offers the permission flow;
 * typing a number works either way.
 */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun ContactPickerScreen(
    permission: PermissionState?,
    permissionEvent: (PermissionEvent) -> Unit,
    back: () -> Unit,
    pick: (name: String?, number: String) -> Unit,
) {
    val context = LocalContext.current
    var query by remember { mutableStateOf("") }
    val contacts by produceState(emptyList<PhoneContact>(), permission) {
        value = if (permission == PermissionState.GRANTED) withContext(Dispatchers.IO) { loadPhoneContacts(context) } else emptyList()
    }
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.picker_title)) },
                navigationIcon = { IconButton(onClick = back) { Icon(Icons.AutoMirrored.Filled.ArrowBack, stringResource(R.string.action_back)) } },
            )
        },
    ) { padding ->
        Column(Modifier.fillMaxSize().padding(padding)) {
            OutlinedTextField(
                value = query,
                onValueChange = { query = it },
                label = { Text(stringResource(R.string.picker_search)) },
                modifier = Modifier.padding(8.dp),
                singleLine = true,
            )
            PhoneNumbers.normalize(query)?.let { number ->
                ListItem(
                    modifier = Modifier.clickable { pick(null, number) },
                    headlineContent = { Text(stringResource(R.string.picker_write_to, number)) },
                )
            }
            if (permission != PermissionState.GRANTED) {
                PermissionRationale(
                    state = permission,
                    text = stringResource(R.string.permission_contacts_why),
                    onEvent = permissionEvent,
                )
            }
            LazyColumn {
                items(contacts.filter { query.isBlank() || it.name.contains(query, ignoreCase = true) || it.number.contains(query) }) { c ->
                    ListItem(
                        modifier = Modifier.clickable { pick(c.name, c.number) },
                        headlineContent = { Text(c.name) },
                        supportingContent = { Text(c.number) },
                    )
                }
            }
        }
    }
}

/** The permission flow's UI for one feature: why it is needed, and the next step. */
@Composable
fun PermissionRationale(state: PermissionState?, text: String, onEvent: (PermissionEvent) -> Unit) {
    Column(Modifier.padding(16.dp)) {
        Text(text)
        when (state) {
            PermissionState.SHOWING_RATIONALE -> {
                Button(onClick = { onEvent(PermissionEvent.RationaleAccepted) }) { Text(stringResource(R.string.permission_continue)) }
                Button(onClick = { onEvent(PermissionEvent.RationaleDismissed) }) { Text(stringResource(R.string.action_not_now)) }
            }
            PermissionState.PERMANENTLY_DENIED ->
                Button(onClick = { onEvent(PermissionEvent.UserAsked) }) { Text(stringResource(R.string.permission_open_settings)) }
            PermissionState.GRANTED, PermissionState.REQUESTING -> Unit
            else -> Button(onClick = { onEvent(PermissionEvent.UserAsked) }) { Text(stringResource(R.string.permission_allow)) }
        }
    }
}
