package org.sotto.logic.format

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import java.time.LocalDateTime
import java.time.ZoneId
import java.util.Locale

class TimeLabelsTest {
    private val zone = ZoneId.of("Europe/London")
    private val fmt = TimestampFormatter(zone, Locale.UK, use24Hour = true)
    private fun at(y: Int, mo: Int, d: Int, h: Int, mi: Int) =
        LocalDateTime.of(y, mo, d, h, mi).atZone(zone).toInstant().toEpochMilli()

    // Wednesday 12 March 2025, 15:30 London time.
    private val now = at(2025, 3, 12, 15, 30)

    @Test
    fun `list labels go from just now to minutes, clock, weekday, day and month, full date`() {
        assertEquals(TimeLabel.JustNow, fmt.listLabel(now - 59_000, now))
        assertEquals(TimeLabel.MinutesAgo(1), fmt.listLabel(now - 60_000, now))
        assertEquals(TimeLabel.MinutesAgo(59), fmt.listLabel(now - 59 * 60_000 - 59_000, now))
        assertEquals(TimeLabel.Text("09:05"), fmt.listLabel(at(2025, 3, 12, 9, 5), now))
        assertEquals(TimeLabel.Text("Tue"), fmt.listLabel(at(2025, 3, 11, 23, 59), now))
        assertEquals(TimeLabel.Text("Thu"), fmt.listLabel(at(2025, 3, 6, 8, 0), now))
        assertEquals(TimeLabel.Text("5 Mar"), fmt.listLabel(at(2025, 3, 5, 8, 0), now))
        assertEquals(TimeLabel.Text("31 Dec 2024"), fmt.listLabel(at(2024, 12, 31, 8, 0), now))
    }

    @Test
    fun `a time in the future is not called just now`() {
        assertEquals(TimeLabel.Text("15:40"), fmt.listLabel(now + 10 * 60_000, now))
    }

    @Test
    fun `twelve hour clock follows the setting`() {
        val us = TimestampFormatter(zone, Locale.US, use24Hour = false)
        assertEquals("9:05 AM", us.bubbleTime(at(2025, 3, 12, 9, 5)))
    }

    @Test
    fun `day labels`() {
        assertEquals(DayLabel.Today, fmt.dayLabel(fmt.localDay(now), now))
        assertEquals(DayLabel.Yesterday, fmt.dayLabel(fmt.localDay(at(2025, 3, 11, 0, 1)), now))
        assertEquals(DayLabel.Date("10 Mar 2025"), fmt.dayLabel(fmt.localDay(at(2025, 3, 10, 12, 0)), now))
    }

    @Test
    fun `timer settings use the largest exact unit`() {
        assertEquals(DurationLabel.Off, exactDurationLabel(0))
        assertEquals(DurationLabel.Amount(30, DurationUnit.SECONDS), exactDurationLabel(30))
        assertEquals(DurationLabel.Amount(1, DurationUnit.HOURS), exactDurationLabel(3600))
        assertEquals(DurationLabel.Amount(90, DurationUnit.MINUTES), exactDurationLabel(5400))
        assertEquals(DurationLabel.Amount(1, DurationUnit.WEEKS), exactDurationLabel(604_800))
    }

    @Test
    fun `remaining time rounds up so it never promises less than is left`() {
        assertEquals(DurationLabel.Amount(2, DurationUnit.MINUTES), remainingDurationLabel(61))
        assertEquals(DurationLabel.Amount(59, DurationUnit.SECONDS), remainingDurationLabel(59))
        assertEquals(DurationLabel.Amount(1, DurationUnit.DAYS), remainingDurationLabel(86_400))
        assertEquals(DurationLabel.Off, remainingDurationLabel(-3))
    }
}
