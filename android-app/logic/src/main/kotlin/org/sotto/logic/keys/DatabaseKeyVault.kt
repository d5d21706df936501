/**
 * The SQLCipher database key: generated once, kept only wrapped. The outer
 * layer is AES-256-GCM under a non-exportable Android Keystore key
 * ([KeyWrapper], implemented in `:app`); an optional passphrase adds an inner
 * AES-256-GCM layer under a PBKDF2-HMAC-SHA256 key. The passphrase layer sits
 * *inside* the Keystore layer, so guessing a passphrase needs this phone's
 * Keystore: a copied key file cannot be attacked offline.
 *
 * The cipher and KDF are the platform's JCA providers (Conscrypt/BoringSSL on
 * Android, the JDK's in tests); nothing here implements a primitive.
 *
 * The key file format (all integers big-endian):
 * ```
 * "SOTTOKEY" | version=1 | mode (0 keystore, 1 passphrase+keystore)
 *   | outer IV length (1) | outer IV | outer ciphertext
 * outer plaintext, mode 0: the 32-byte database key
 * outer plaintext, mode 1: salt (16) | PBKDF2 iterations (4) | inner IV (12) | inner ciphertext
 * ```
 * Both layers authenticate the header (magic, version, mode) as associated data.
 *
 * Changing the passphrase (setting, changing or removing it) makes a NEW
 * random database key and rekeys the database under it, so no earlier copy
 * of the key file (a backup, a copied file, the file before the passphrase
 * was set) opens the database afterwards. Re-wrapping the old key would
 * leave every earlier copy working with the Keystore alone.
 *
 * A crash at any point must leave a key file that opens the database, so
 * the change has two slots and goes in this order:
 * ```
 * 1. the new key, wrapped (under the new passphrase), is written to the
 *    pending slot                     main: old key, pending: new key, database: old
 * 2. the database is rekeyed (one atomic step in the core)
 *                                     main: old key, pending: new key, database: new
 * 3. the pending bytes replace the main file
 *                                     main: new key, pending: new key, database: new
 * 4. the pending slot is deleted      main: new key,                   database: new
 * ```
 * Each file write is atomic ([KeyFile.write]). While a pending slot exists,
 * [open] tries the main key and then the pending key (each with the
 * passphrase given: the user may type the old or the new one), and the key
 * that opens the database settles the slots: the main key's success drops
 * the pending slot (the rekey did not happen), the pending key's success
 * moves it to the main file first. Nothing else ever deletes a slot, and a
 * change is refused while a pending slot is unsettled, so no step replaces
 * the only key that opens the database. A failed rekey (an exception, not a
 * crash) keeps the pending slot too: only an open can tell which key the
 * database is under.
 */
package org.sotto.logic.keys

import org.sotto.logic.core.CoreException
import java.io.ByteArrayOutputStream
import java.nio.ByteBuffer
import java.security.GeneralSecurityException
import java.security.SecureRandom
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.SecretKeyFactory
import javax.crypto.spec.GCMParameterSpec
import javax.crypto.spec.PBEKeySpec
import javax.crypto.spec.SecretKeySpec

/** An AES-GCM result: the IV the cipher chose and the ciphertext with its tag. */
class Sealed(val iv: ByteArray, val ciphertext: ByteArray)

/** The Keystore layer. `:app` implements it with an `AndroidKeyStore` AES-256-GCM key. */
interface KeyWrapper {
    /** Encrypts [plain], authenticating [aad]. */
    fun wrap(plain: ByteArray, aad: ByteArray): Sealed

    /**
     * Decrypts [sealed]. Throws [KeystoreKeyUnavailableException] when the
     * Keystore key is gone or permanently invalidated,
     * [KeystoreKeyLockedException] when the key needs the phone unlocked
     * and it is locked, and [AEADBadTagException] when the data does not
     * authenticate.
     */
    fun unwrap(sealed: Sealed, aad: ByteArray): ByteArray
}

/** Where a wrapped key lives. `:app` uses an `AtomicFile` in no-backup storage. */
interface KeyFile {
    /** The stored bytes, or null when there is no key file yet. */
    fun read(): ByteArray?

    /** Replaces the stored bytes atomically: after a crash the old or the new content is there, whole. */
    fun write(bytes: ByteArray)

    /** Deletes the file; nothing happens when there is none. */
    fun delete()
}

/** The Keystore key this file was wrapped with no longer exists (app data restored elsewhere, key invalidated). */
class KeystoreKeyUnavailableException : GeneralSecurityException("the Keystore key that wraps the database key is unavailable")

/** The Keystore key may be used only while the phone is unlocked, and it is locked now. */
class KeystoreKeyLockedException : GeneralSecurityException("the Keystore key needs the phone unlocked")

/** Why the vault could not give the key. Messages never contain key material or the passphrase. */
sealed class VaultException(message: String) : Exception(message) {
    /** The key file is passphrase-protected and no passphrase was given. */
    class PassphraseRequired : VaultException("a passphrase is required")

    /** The passphrase does not unwrap the key. */
    class WrongPassphrase : VaultException("wrong passphrase")

    /** The Keystore key is gone; the database cannot be opened on this install. The key file is left as it was. */
    class KeystoreKeyUnavailable : VaultException("the Keystore key is unavailable")

    /** The phone is locked and the Keystore key works only while it is unlocked; try again after unlocking. */
    class DeviceLocked : VaultException("the phone is locked")

    /** The key file is damaged; [reason] names the part. The file is left as it was. */
    class Corrupt(reason: String) : VaultException("the key file is damaged: $reason")

    /** An earlier passphrase change did not finish; the next [DatabaseKeyVault.open] settles it. */
    class ChangeUnfinished : VaultException("an earlier passphrase change did not finish; lock and unlock first")
}

/** The unwrapped 256-bit database key. Wipe it with [close] once SQLCipher has it. */
class DatabaseKey(private val bytes: ByteArray) : AutoCloseable {
    /** A copy of the key bytes; the caller wipes it after use. */
    fun copyBytes(): ByteArray = bytes.copyOf()

    /** Overwrites the key with zeros. */
    override fun close() = bytes.fill(0)

    override fun toString(): String = "DatabaseKey(redacted)"
}

/**
 * Creates and unwraps the database key, and replaces it when the
 * passphrase changes. [file] is the main slot, [pending] the slot of a key
 * change in progress (see the file header).
 */
class DatabaseKeyVault(
    private val wrapper: KeyWrapper,
    private val file: KeyFile,
    private val pending: KeyFile,
    private val random: SecureRandom = SecureRandom(),
    /** PBKDF2 iterations for a new passphrase; OWASP's 2023 figure for HMAC-SHA256. Stored per file. */
    private val pbkdf2Iterations: Int = 600_000,
) {
    /** True when a key file exists. */
    fun exists(): Boolean = file.read() != null || pending.read() != null

    /**
     * True when a key file needs a passphrase. With an unfinished change
     * either slot may be the one that opens the database, so either one
     * needing a passphrase counts.
     */
    fun isPassphraseProtected(): Boolean = listOfNotNull(file.read(), pending.read()).any { parseHeader(it).mode == MODE_PASSPHRASE }

    /**
     * Unwraps the database key and hands it to [openDatabase], which opens
     * the database with it and throws [CoreException.WrongKey] when the key
     * does not open it; the key is wiped when [openDatabase] returns. On
     * first use (no key file) a fresh random key is made and stored,
     * wrapped (under [passphrase] too when one is given). With an
     * unfinished change the main key is tried first, then the pending one,
     * and the slots are settled by the one that opened the database.
     *
     * Throws [VaultException] or [CoreException.WrongKey] when no slot
     * opens it (a slot's own failure, such as a wrong passphrase, is
     * reported before a key that does not open the database), and whatever
     * else [openDatabase] throws. An existing file is never replaced by a
     * new key here, whatever goes wrong: that would orphan the database.
     */
    fun <T : AutoCloseable> open(passphrase: CharArray?, openDatabase: (DatabaseKey) -> T): T {
        val main = file.read()
        val unfinished = pending.read()
        if (main == null && unfinished == null) {
            val key = ByteArray(KEY_BYTES).also(random::nextBytes)
            file.write(seal(key, passphrase))
            return DatabaseKey(key).use(openDatabase)
        }
        var failure: Exception? = null
        for (slot in listOfNotNull(main, unfinished)) {
            val key = try {
                DatabaseKey(unseal(slot, passphrase))
            } catch (e: VaultException) {
                failure = if (failure is VaultException) failure else e
                continue
            }
            val database = try {
                key.use(openDatabase)
            } catch (e: CoreException.WrongKey) {
                failure = failure ?: e
                continue
            }
            try {
                if (unfinished != null) settle(opened = slot)
            } catch (e: Exception) {
                database.close()
                throw e
            }
            return database
        }
        throw checkNotNull(failure)
    }

    /** Makes [opened] (the slot whose key opened the database) the main file and drops the pending slot. */
    private fun settle(opened: ByteArray) {
        if (file.read()?.contentEquals(opened) != true) file.write(opened)
        pending.delete()
    }

    /**
     * Replaces the database key: checks [currentPassphrase] against the key
     * file, makes a new random key, and hands it to [rekeyDatabase], which
     * re-encrypts the open database under it; the new key ends up wrapped
     * under [newPassphrase] (null: no passphrase). Afterwards no earlier
     * copy of the key file opens the database. The steps and what a crash
     * between them leaves are in the file header.
     *
     * Throws [VaultException] before anything changed (wrong passphrase,
     * damaged file, [VaultException.ChangeUnfinished]), and whatever
     * [rekeyDatabase] throws; after that the pending slot stays for the
     * next [open] to settle.
     */
    fun changePassphrase(currentPassphrase: CharArray?, newPassphrase: CharArray?, rekeyDatabase: (DatabaseKey) -> Unit) {
        val stored = file.read() ?: throw VaultException.Corrupt("no key file")
        if (pending.read() != null) throw VaultException.ChangeUnfinished()
        unseal(stored, currentPassphrase).fill(0)
        val key = ByteArray(KEY_BYTES).also(random::nextBytes)
        try {
            val sealed = seal(key, newPassphrase)
            pending.write(sealed)
            DatabaseKey(key.copyOf()).use(rekeyDatabase)
            file.write(sealed)
            pending.delete()
        } finally {
            key.fill(0)
        }
    }

    private fun seal(key: ByteArray, passphrase: CharArray?): ByteArray {
        val mode = if (passphrase == null) MODE_KEYSTORE else MODE_PASSPHRASE
        val header = header(mode)
        val outerPlain = if (passphrase == null) {
            key.copyOf()
        } else {
            val salt = ByteArray(SALT_BYTES).also(random::nextBytes)
            val kek = derive(passphrase, salt, pbkdf2Iterations)
            val iv = ByteArray(IV_BYTES).also(random::nextBytes)
            val inner = gcm(Cipher.ENCRYPT_MODE, kek, iv, header).doFinal(key)
            kek.fill(0)
            ByteBuffer.allocate(SALT_BYTES + 4 + IV_BYTES + inner.size)
                .put(salt).putInt(pbkdf2Iterations).put(iv).put(inner).array()
        }
        val sealed = try {
            wrapper.wrap(outerPlain, header)
        } catch (e: KeystoreKeyLockedException) {
            throw VaultException.DeviceLocked()
        } finally {
            outerPlain.fill(0)
        }
        require(sealed.iv.size in 1..255) { "unexpected IV size from the Keystore" }
        return ByteArrayOutputStream().apply {
            write(header)
            write(sealed.iv.size)
            write(sealed.iv)
            write(sealed.ciphertext)
        }.toByteArray()
    }

    private fun unseal(stored: ByteArray, passphrase: CharArray?): ByteArray {
        val parsed = parseHeader(stored)
        if (parsed.mode == MODE_PASSPHRASE && passphrase == null) throw VaultException.PassphraseRequired()
        val headerBytes = stored.copyOfRange(0, HEADER_BYTES)
        val outerPlain = try {
            wrapper.unwrap(Sealed(parsed.iv, parsed.ciphertext), headerBytes)
        } catch (e: KeystoreKeyUnavailableException) {
            throw VaultException.KeystoreKeyUnavailable()
        } catch (e: KeystoreKeyLockedException) {
            throw VaultException.DeviceLocked()
        } catch (e: AEADBadTagException) {
            throw VaultException.Corrupt("outer layer does not authenticate")
        }
        try {
            if (parsed.mode == MODE_KEYSTORE) {
                if (outerPlain.size != KEY_BYTES) throw VaultException.Corrupt("key length")
                return outerPlain.copyOf()
            }
            if (outerPlain.size != SALT_BYTES + 4 + IV_BYTES + KEY_BYTES + TAG_BYTES) {
                throw VaultException.Corrupt("passphrase layer length")
            }
            val buf = ByteBuffer.wrap(outerPlain)
            val salt = ByteArray(SALT_BYTES).also { buf.get(it) }
            val iterations = buf.int
            if (iterations !in 1..10_000_000) throw VaultException.Corrupt("iteration count")
            val iv = ByteArray(IV_BYTES).also { buf.get(it) }
            val inner = ByteArray(buf.remaining()).also { buf.get(it) }
            val kek = derive(checkNotNull(passphrase), salt, iterations)
            try {
                return gcm(Cipher.DECRYPT_MODE, kek, iv, headerBytes).doFinal(inner)
            } catch (e: AEADBadTagException) {
                throw VaultException.WrongPassphrase()
            } finally {
                kek.fill(0)
            }
        } finally {
            outerPlain.fill(0)
        }
    }

    private class Parsed(val mode: Int, val iv: ByteArray, val ciphertext: ByteArray)

    private fun parseHeader(stored: ByteArray): Parsed {
        if (stored.size < HEADER_BYTES + 1) throw VaultException.Corrupt("too short")
        if (!stored.copyOfRange(0, MAGIC.size).contentEquals(MAGIC)) throw VaultException.Corrupt("not a Sotto key file")
        val version = stored[MAGIC.size].toInt()
        if (version != VERSION) throw VaultException.Corrupt("unknown version")
        val mode = stored[MAGIC.size + 1].toInt()
        if (mode != MODE_KEYSTORE && mode != MODE_PASSPHRASE) throw VaultException.Corrupt("unknown mode")
        val ivLength = stored[HEADER_BYTES].toInt() and 0xFF
        val ivStart = HEADER_BYTES + 1
        if (ivLength == 0 || stored.size <= ivStart + ivLength) throw VaultException.Corrupt("truncated")
        return Parsed(
            mode,
            stored.copyOfRange(ivStart, ivStart + ivLength),
            stored.copyOfRange(ivStart + ivLength, stored.size),
        )
    }

    private fun header(mode: Int): ByteArray = MAGIC + byteArrayOf(VERSION.toByte(), mode.toByte())

    private fun derive(passphrase: CharArray, salt: ByteArray, iterations: Int): ByteArray {
        val spec = PBEKeySpec(passphrase, salt, iterations, KEY_BYTES * 8)
        try {
            return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).encoded
        } finally {
            spec.clearPassword()
        }
    }

    private fun gcm(mode: Int, key: ByteArray, iv: ByteArray, aad: ByteArray): Cipher =
        Cipher.getInstance("AES/GCM/NoPadding").apply {
            init(mode, SecretKeySpec(key, "AES"), GCMParameterSpec(TAG_BYTES * 8, iv))
            updateAAD(aad)
        }

    private companion object {
        val MAGIC = "SOTTOKEY".toByteArray(Charsets.US_ASCII)
        const val VERSION = 1
        const val MODE_KEYSTORE = 0
        const val MODE_PASSPHRASE = 1
        val HEADER_BYTES = MAGIC.size + 2
        const val KEY_BYTES = 32
        const val SALT_BYTES = 16
        const val IV_BYTES = 12
        const val TAG_BYTES = 16
    }
}
