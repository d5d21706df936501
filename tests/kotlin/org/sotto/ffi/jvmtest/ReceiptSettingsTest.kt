package org.sotto.ffi.jvmtest

import java.nio.file.Path
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.sotto.ffi.ReceiptSettings

/** The receipt settings cross the FFI and are kept in the store. */
class ReceiptSettingsTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun `receipt settings default to on and survive reopening`() {
        val key = newKey()
        openStore(dir, "anna", key).use { account ->
            assertEquals(ReceiptSettings(deliveryReceipts = true, readReceipts = true), account.receiptSettings())
            account.setReceiptSettings(ReceiptSettings(deliveryReceipts = true, readReceipts = false))
        }
        openStore(dir, "anna", key).use { account ->
            assertEquals(ReceiptSettings(deliveryReceipts = true, readReceipts = false), account.receiptSettings())
        }
    }
}
