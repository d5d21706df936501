package org.sotto.app.ui

import android.graphics.Bitmap
import android.graphics.Color
import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material3.Button
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableIntStateOf
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.produceState
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.font.FontFamily
import androidx.compose.ui.unit.dp
import com.google.zxing.BarcodeFormat
import com.google.zxing.EncodeHintType
import com.google.zxing.qrcode.QRCodeWriter
import com.google.zxing.qrcode.decoder.ErrorCorrectionLevel
import com.google.zxing.client.android.Intents
import com.journeyapps.barcodescanner.ScanContract
import com.journeyapps.barcodescanner.ScanOptions
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.sotto.app.AppGraph
import org.sotto.app.R
import org.sotto.logic.conversation.IdentityState
import org.sotto.logic.core.SafetyNumber
import org.sotto.logic.core.ScanResult
import org.sotto.logic.permissions.PermissionEvent
import org.sotto.logic.permissions.PermissionState
import androidx.activity.compose.rememberLauncherForActivityResult

/**
 * Safety-number verification: the sixty digits to read aloud, our QR code
 * for the other phone to scan, and a scanner (zxing-android-embedded) for
 * theirs. The core compares the scanned payload; a match marks the contact
 * verified, a mismatch says so plainly.
 */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun SafetyNumberScreen(
    graph: AppGraph,
    conversationId: String,
    camera: PermissionState?,
    cameraEvent: (PermissionEvent) -> Unit,
    back: () -> Unit,
) {
    val scope = rememberCoroutineScope()
    var refresh by remember { mutableIntStateOf(0) }
    var result by remember { mutableStateOf<ScanResult?>(null) }
    val number by produceState<SafetyNumber?>(null, refresh) {
        value = withContext(Dispatchers.IO) { graph.core.value?.safetyNumber(conversationId) }
    }
    val identityChanged by produceState(false, refresh) {
        value = withContext(Dispatchers.IO) {
            graph.core.value?.conversation(conversationId)?.let {
                it.identity == IdentityState.CHANGED || it.heldForIdentityChange > 0
            } ?: false
        }
    }
    val scanner = rememberLauncherForActivityResult(ScanContract()) { scanned ->
        // The payload is binary: take the QR code's byte segment as scanned, not the
        // text zxing decoded from it (which guesses a character set).
        val payload = scanned.originalIntent?.getByteArrayExtra(Intents.Scan.RESULT_BYTE_SEGMENTS_PREFIX + "0")
            ?: scanned.contents?.toByteArray(Charsets.ISO_8859_1)
            ?: return@rememberLauncherForActivityResult
        scope.launch {
            result = withContext(Dispatchers.IO) { graph.core.value?.checkScannedSafetyNumber(conversationId, payload) }
            refresh++
        }
    }
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.safety_number_title)) },
                navigationIcon = { IconButton(onClick = back) { Icon(Icons.AutoMirrored.Filled.ArrowBack, stringResource(R.string.action_back)) } },
            )
        },
    ) { padding ->
        val n = number ?: return@Scaffold
        Column(
            Modifier.fillMaxSize().padding(padding).padding(16.dp),
            verticalArrangement = Arrangement.spacedBy(12.dp),
            horizontalAlignment = Alignment.CenterHorizontally,
        ) {
            Text(stringResource(if (n.verified) R.string.safety_verified else R.string.safety_not_verified))
            val qr = remember(n) { qrBitmap(n.qrPayload) }
            Image(qr.asImageBitmap(), stringResource(R.string.safety_qr_description), Modifier.size(240.dp))
            Text(n.displayDigits, fontFamily = FontFamily.Monospace, style = MaterialTheme.typography.titleMedium)
            when (result) {
                ScanResult.MATCH -> Text(stringResource(R.string.safety_scan_match))
                ScanResult.MISMATCH -> Text(stringResource(R.string.safety_scan_mismatch), color = MaterialTheme.colorScheme.error)
                ScanResult.NOT_A_SAFETY_NUMBER -> Text(stringResource(R.string.safety_scan_not_sotto), color = MaterialTheme.colorScheme.error)
                null -> Unit
            }
            if (camera == PermissionState.GRANTED) {
                Button(onClick = {
                    scanner.launch(
                        ScanOptions().setDesiredBarcodeFormats(ScanOptions.QR_CODE).setBeepEnabled(false).setOrientationLocked(false)
                            .setPrompt(""),
                    )
                }) { Text(stringResource(R.string.safety_scan)) }
            } else {
                PermissionRationale(camera, stringResource(R.string.permission_camera_why), cameraEvent)
            }
            OutlinedButton(onClick = {
                scope.launch {
                    withContext(Dispatchers.IO) { graph.core.value?.setVerified(conversationId, !n.verified) }
                    refresh++
                }
            }) { Text(stringResource(if (n.verified) R.string.safety_clear_verified else R.string.safety_mark_verified)) }
            val offeredKey = n.offeredKey
            if (n.conflict) {
                // Several keys claim to be this contact: never a silent choice.
                Text(stringResource(R.string.identity_conflict_banner), color = MaterialTheme.colorScheme.error)
            } else if (identityChanged && offeredKey != null) {
                // The digits on screen are the offered key's; trusting accepts exactly that key.
                Text(stringResource(R.string.identity_changed_banner), color = MaterialTheme.colorScheme.error)
                OutlinedButton(onClick = {
                    scope.launch {
                        withContext(Dispatchers.IO) { graph.core.value?.trustNewIdentity(conversationId, offeredKey) }
                        refresh++
                    }
                }) { Text(stringResource(R.string.safety_trust_new_identity)) }
            }
        }
    }
}

/** Draws [payload] as a QR code (ISO-8859-1 byte mode, error correction M) with zxing core. */
private fun qrBitmap(payload: ByteArray): Bitmap {
    val text = String(payload, Charsets.ISO_8859_1)
    val hints = mapOf(EncodeHintType.CHARACTER_SET to "ISO-8859-1", EncodeHintType.ERROR_CORRECTION to ErrorCorrectionLevel.M, EncodeHintType.MARGIN to 2)
    val matrix = QRCodeWriter().encode(text, BarcodeFormat.QR_CODE, 512, 512, hints)
    val pixels = IntArray(matrix.width * matrix.height) { i ->
        if (matrix.get(i % matrix.width, i / matrix.width)) Color.BLACK else Color.WHITE
    }
    return Bitmap.createBitmap(pixels, matrix.width, matrix.height, Bitmap.Config.ARGB_8888)
}
