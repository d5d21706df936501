package org.sotto.logic.mms

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.sotto.logic.mms.PendingMmsFiles.AtStart

class PendingMmsFilesTest {
    private val id = "in-0f8fad5b-d9cb-469f-a165-70867728950e"

    @Test
    fun `a waiting file is claimed, stored, or given back by renames`() {
        assertEquals(AtStart.DELIVER, PendingMmsFiles.atStart("$id.pdu"))
        val claimed = PendingMmsFiles.claimed("$id.pdu")
        assertEquals("$id.claimed", claimed)
        assertEquals("$id.stored", PendingMmsFiles.stored(claimed))
        assertEquals("$id.pdu", PendingMmsFiles.waiting(claimed))
    }

    @Test
    fun `what a dead drain left is never handed to the core again`() {
        // In the core already: only the file goes.
        assertEquals(AtStart.DELETE, PendingMmsFiles.atStart("$id.stored"))
        // Cut short inside the core's call: dropped (and the user told), not stored twice.
        assertEquals(AtStart.DROP_INTERRUPTED, PendingMmsFiles.atStart("$id.claimed"))
    }

    @Test
    fun `files that are not downloads are left alone`() {
        for (name in listOf("out-0f8fad5b-d9cb-469f-a165-70867728950e.pdu", "$id.pdu.tmp", "notes.txt", "in-x.pdu", "../$id.pdu")) {
            assertEquals(AtStart.IGNORE, PendingMmsFiles.atStart(name), name)
        }
    }
}
