package org.sotto.app.ui

import androidx.compose.runtime.Composable
import androidx.compose.ui.res.pluralStringResource
import androidx.compose.ui.res.stringResource
import org.sotto.app.R
import org.sotto.logic.call.CallStatus
import org.sotto.logic.call.EndReason
import org.sotto.logic.conversation.DeliveryState
import org.sotto.logic.format.DayLabel
import org.sotto.logic.format.DurationLabel
import org.sotto.logic.format.DurationUnit
import org.sotto.logic.format.TimeLabel
import org.sotto.logic.settings.InputError

// Localization of `:logic`'s structured labels. Only wording lives here; the
// rules that chose the label are in `:logic`.

@Composable
fun text(label: TimeLabel): String = when (label) {
    TimeLabel.JustNow -> stringResource(R.string.time_just_now)
    is TimeLabel.MinutesAgo -> pluralStringResource(R.plurals.time_minutes_ago, label.minutes, label.minutes)
    is TimeLabel.Text -> label.text
}

@Composable
fun text(label: DayLabel): String = when (label) {
    DayLabel.Today -> stringResource(R.string.day_today)
    DayLabel.Yesterday -> stringResource(R.string.day_yesterday)
    is DayLabel.Date -> label.text
}

@Composable
fun text(label: DurationLabel): String = when (label) {
    DurationLabel.Off -> stringResource(R.string.timer_off)
    is DurationLabel.Amount -> {
        val n = label.count.toInt()
        when (label.unit) {
            DurationUnit.SECONDS -> pluralStringResource(R.plurals.duration_seconds, n, n)
            DurationUnit.MINUTES -> pluralStringResource(R.plurals.duration_minutes, n, n)
            DurationUnit.HOURS -> pluralStringResource(R.plurals.duration_hours, n, n)
            DurationUnit.DAYS -> pluralStringResource(R.plurals.duration_days, n, n)
            DurationUnit.WEEKS -> pluralStringResource(R.plurals.duration_weeks, n, n)
        }
    }
}

@Composable
fun text(state: DeliveryState): String = stringResource(
    when (state) {
        DeliveryState.PENDING -> R.string.delivery_pending
        DeliveryState.SENT -> R.string.delivery_sent
        DeliveryState.DELIVERED -> R.string.delivery_delivered
        DeliveryState.READ -> R.string.delivery_read
        DeliveryState.FAILED -> R.string.delivery_failed
        DeliveryState.RECEIVED -> R.string.delivery_received
    },
)

@Composable
fun text(status: CallStatus, reason: EndReason?): String = stringResource(
    when (status) {
        CallStatus.DIALING -> R.string.call_dialing
        CallStatus.RINGING_OUT -> R.string.call_ringing_out
        CallStatus.RINGING_IN -> R.string.call_ringing_in
        CallStatus.CONNECTING -> R.string.call_connecting
        CallStatus.ACTIVE -> R.string.call_active
        CallStatus.ENDED -> when (reason) {
            EndReason.BUSY -> R.string.call_ended_busy
            EndReason.MISSED -> R.string.call_ended_missed
            EndReason.NO_ANSWER -> R.string.call_ended_no_answer
            EndReason.FAILED -> R.string.call_ended_failed
            EndReason.NOT_AUTHENTICATED -> R.string.call_ended_not_authenticated
            EndReason.REJECTED -> R.string.call_ended_rejected
            else -> R.string.call_ended
        }
    },
)

@Composable
fun text(error: InputError): String = stringResource(
    when (error) {
        InputError.EMPTY -> R.string.input_empty
        InputError.MISSING_PORT -> R.string.input_missing_port
        InputError.BAD_PORT -> R.string.input_bad_port
        InputError.BAD_HOST -> R.string.input_bad_host
        InputError.BAD_TIMEOUT -> R.string.input_bad_timeout
    },
)
