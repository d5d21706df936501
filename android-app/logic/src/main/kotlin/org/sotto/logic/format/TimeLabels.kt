/**
 * Timestamps and durations as the lists and bubbles show them. The rules
 * (what counts as "just now", when the weekday replaces the date) live here;
 * `:app` only turns the structured labels into localized strings (plurals).
 * Dates and clock times are formatted with java.time for the given locale.
 */
package org.sotto.logic.format

import java.time.Instant
import java.time.LocalDate
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import java.time.format.FormatStyle
import java.time.format.TextStyle
import java.time.temporal.ChronoUnit
import java.util.Locale

/** A time label: either one `:app` localizes with a plural, or ready text. */
sealed interface TimeLabel {
    /** Less than a minute ago. */
    data object JustNow : TimeLabel

    /** [minutes] ago, 1..59. */
    data class MinutesAgo(val minutes: Int) : TimeLabel

    /** Already formatted for the locale: a clock time, a weekday or a date. */
    data class Text(val text: String) : TimeLabel
}

/** Formats message and conversation times relative to "now", in one zone and locale. */
class TimestampFormatter(private val zone: ZoneId, private val locale: Locale, private val use24Hour: Boolean) {
    private val clock = DateTimeFormatter.ofPattern(if (use24Hour) "HH:mm" else "h:mm a", locale)
    private val dayMonth = DateTimeFormatter.ofPattern("d MMM", locale)
    private val fullDate = DateTimeFormatter.ofLocalizedDate(FormatStyle.MEDIUM).withLocale(locale)

    /**
     * The conversation list's label: "just now", "n min", then the clock time
     * today, the weekday within the last six days, the day and month this
     * year, the full date before. A time in the future (a skewed sender clock)
     * is shown as its clock time or date, never as "just now".
     */
    fun listLabel(atMillis: Long, nowMillis: Long): TimeLabel {
        val ageMillis = nowMillis - atMillis
        if (ageMillis in 0 until MINUTE) return TimeLabel.JustNow
        if (ageMillis in MINUTE until HOUR) return TimeLabel.MinutesAgo((ageMillis / MINUTE).toInt())
        val at = Instant.ofEpochMilli(atMillis).atZone(zone)
        val today = Instant.ofEpochMilli(nowMillis).atZone(zone).toLocalDate()
        val day = at.toLocalDate()
        val daysAgo = ChronoUnit.DAYS.between(day, today)
        return TimeLabel.Text(
            when {
                daysAgo == 0L -> clock.format(at)
                daysAgo in 1..6 -> day.dayOfWeek.getDisplayName(TextStyle.SHORT, locale)
                day.year == today.year -> dayMonth.format(at)
                else -> fullDate.format(at)
            },
        )
    }

    /** The clock time under a bubble. */
    fun bubbleTime(atMillis: Long): String = clock.format(Instant.ofEpochMilli(atMillis).atZone(zone))

    /** The local day of [atMillis], to group bubbles under day separators. */
    fun localDay(atMillis: Long): LocalDate = Instant.ofEpochMilli(atMillis).atZone(zone).toLocalDate()

    /** A day separator: "Today", "Yesterday" (left to `:app`) or the full date. */
    fun dayLabel(day: LocalDate, nowMillis: Long): DayLabel {
        val today = Instant.ofEpochMilli(nowMillis).atZone(zone).toLocalDate()
        return when (ChronoUnit.DAYS.between(day, today)) {
            0L -> DayLabel.Today
            1L -> DayLabel.Yesterday
            else -> DayLabel.Date(fullDate.format(day))
        }
    }

    private companion object {
        const val MINUTE = 60_000L
        const val HOUR = 60 * MINUTE
    }
}

/** A day separator in a conversation. */
sealed interface DayLabel {
    /** The local today. */
    data object Today : DayLabel

    /** The local yesterday. */
    data object Yesterday : DayLabel

    /** Any other day, formatted for the locale. */
    data class Date(val text: String) : DayLabel
}

/** The unit of a [DurationLabel.Amount]; `:app` has one plural resource per unit. */
enum class DurationUnit(val seconds: Long) {
    SECONDS(1),
    MINUTES(60),
    HOURS(3600),
    DAYS(86_400),
    WEEKS(604_800),
}

/** A duration to show: off, or a count of one unit. */
sealed interface DurationLabel {
    /** No timer. */
    data object Off : DurationLabel

    /** [count] of [unit], e.g. 5 minutes. */
    data class Amount(val count: Long, val unit: DurationUnit) : DurationLabel
}

/**
 * Expresses [seconds] in the largest unit that divides it exactly (a timer
 * setting: 3600 s is "1 hour", 5400 s is "90 minutes"). Zero or less is off.
 */
fun exactDurationLabel(seconds: Long): DurationLabel {
    if (seconds <= 0) return DurationLabel.Off
    val unit = DurationUnit.entries.last { seconds % it.seconds == 0L }
    return DurationLabel.Amount(seconds / unit.seconds, unit)
}

/**
 * Expresses a remaining time [seconds] in the largest unit it reaches,
 * rounded up (a message that disappears in 61 s shows "2 minutes", never
 * "1 minute", so the label never promises less time than is left).
 */
fun remainingDurationLabel(seconds: Long): DurationLabel {
    if (seconds <= 0) return DurationLabel.Off
    val unit = DurationUnit.entries.last { seconds >= it.seconds }
    return DurationLabel.Amount((seconds + unit.seconds - 1) / unit.seconds, unit)
}
