package org.sotto.app.sms

import android.Manifest
import android.content.pm.PackageManager
import android.provider.Telephony
import org.sotto.app.AppGraph
import org.sotto.logic.transport.Reachability

/** What the platform says about reaching a contact now, for `TransportPolicy`. */
fun reachabilityFor(graph: AppGraph, isSottoContact: Boolean): Reachability {
    val context = graph.appContext
    val telephony = context.packageManager.hasSystemFeature(PackageManager.FEATURE_TELEPHONY)
    val isDefault = Telephony.Sms.getDefaultSmsPackage(context) == context.packageName
    val canSend = context.checkSelfPermission(Manifest.permission.SEND_SMS) == PackageManager.PERMISSION_GRANTED
    return Reachability(
        isSottoContact = isSottoContact,
        relayConnected = graph.relayConnected.value,
        hasNumber = true,
        canSendSms = telephony && isDefault && canSend,
    )
}
