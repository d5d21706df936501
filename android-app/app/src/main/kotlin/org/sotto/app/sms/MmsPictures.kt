package org.sotto.app.sms

import android.content.Context
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.net.Uri
import org.sotto.logic.mms.MmsPart
import java.io.ByteArrayOutputStream
import java.io.IOException

/**
 * Makes a picture the user picked fit an MMS: sent as it is when it is a
 * JPEG, PNG or GIF within [maxBytes], otherwise re-encoded as JPEG at half
 * the size each time until it fits (carriers take 300 KiB to 1 MiB).
 */
object MmsPictures {
    private const val MAX_READ = 32 * 1024 * 1024
    private val sendAsIs = setOf("image/jpeg", "image/png", "image/gif")

    /** The picture at [uri] as an MMS part within [maxBytes], or null if it cannot be read or made small enough. */
    fun fit(context: Context, uri: Uri, maxBytes: Int): MmsPart? {
        val resolver = context.contentResolver
        val type = resolver.getType(uri)?.lowercase()
        val bytes = try {
            resolver.openInputStream(uri)?.use { input ->
                val out = ByteArrayOutputStream()
                val buffer = ByteArray(64 * 1024)
                while (true) {
                    val n = input.read(buffer)
                    if (n < 0) break
                    out.write(buffer, 0, n)
                    if (out.size() > MAX_READ) return null
                }
                out.toByteArray()
            }
        } catch (e: IOException) {
            null
        } ?: return null
        if (type != null && type in sendAsIs && bytes.size <= maxBytes) return MmsPart(type, "image" + extension(type), bytes)

        val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        BitmapFactory.decodeByteArray(bytes, 0, bytes.size, bounds)
        if (bounds.outWidth <= 0 || bounds.outHeight <= 0) return null
        // Decode no larger than about 1600 px on the long side: more never fits anyway.
        var sample = 1
        while (maxOf(bounds.outWidth, bounds.outHeight) / (sample * 2) >= 1600) sample *= 2
        var bitmap = BitmapFactory.decodeByteArray(bytes, 0, bytes.size, BitmapFactory.Options().apply { inSampleSize = sample })
            ?: return null
        repeat(6) {
            val out = ByteArrayOutputStream()
            bitmap.compress(Bitmap.CompressFormat.JPEG, 85, out)
            if (out.size() <= maxBytes) return MmsPart("image/jpeg", "image.jpg", out.toByteArray())
            if (bitmap.width < 64 || bitmap.height < 64) return null
            bitmap = Bitmap.createScaledBitmap(bitmap, bitmap.width / 2, bitmap.height / 2, true)
        }
        return null
    }

    private fun extension(type: String) = when (type) {
        "image/png" -> ".png"
        "image/gif" -> ".gif"
        else -> ".jpg"
    }
}
