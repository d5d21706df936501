package org.sotto.app.keys

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.KeyProperties
import android.security.keystore.UserNotAuthenticatedException
import android.util.AtomicFile
import org.sotto.logic.keys.KeyFile
import org.sotto.logic.keys.KeyWrapper
import org.sotto.logic.keys.KeystoreKeyLockedException
import org.sotto.logic.keys.KeystoreKeyUnavailableException
import org.sotto.logic.keys.Sealed
import java.io.File
import java.io.FileNotFoundException
import java.security.KeyStore
import java.security.UnrecoverableKeyException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The Keystore layer of the database key ([org.sotto.logic.keys.DatabaseKeyVault]):
 * an AES-256-GCM key in `AndroidKeyStore` that never leaves the secure
 * hardware (StrongBox when the phone has it). The IV is chosen by the
 * Keystore (it refuses caller IVs for encryption). Created on first wrap only;
 * if it is gone later, unwrapping reports [KeystoreKeyUnavailableException]
 * and nothing is regenerated, because a new key would orphan the database.
 *
 * From Android 15 (API 35) the key is created unlocked-device-required: the
 * Keystore refuses it while the phone is locked ([KeystoreKeyLockedException]),
 * so a thief holding a locked phone cannot have the Keystore unwrap the
 * database key even with code running in the app. Not before: Android 12–14
 * document bugs that make such keys unusable (no secure lock screen, the
 * lock screen removed, an unlock by a weak biometric or a trust agent), and
 * an unusable key is a database that never opens again; Android 10–11 phones
 * would carry the key into those versions on upgrade. A key keeps the
 * parameters it was created with (docs/android.md, "Keys").
 */
class KeystoreKeyWrapper(private val alias: String = "sotto-db-key-wrap") : KeyWrapper {
    private val keyStore: KeyStore = KeyStore.getInstance("AndroidKeyStore").apply { load(null) }

    override fun wrap(plain: ByteArray, aad: ByteArray): Sealed {
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        try {
            cipher.init(Cipher.ENCRYPT_MODE, existingKey() ?: createKey())
        } catch (e: UserNotAuthenticatedException) {
            throw KeystoreKeyLockedException()
        }
        cipher.updateAAD(aad)
        return Sealed(cipher.iv, cipher.doFinal(plain))
    }

    override fun unwrap(sealed: Sealed, aad: ByteArray): ByteArray {
        val key = existingKey() ?: throw KeystoreKeyUnavailableException()
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        try {
            cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, sealed.iv))
        } catch (e: KeyPermanentlyInvalidatedException) {
            throw KeystoreKeyUnavailableException()
        } catch (e: UserNotAuthenticatedException) {
            throw KeystoreKeyLockedException()
        }
        cipher.updateAAD(aad)
        return cipher.doFinal(sealed.ciphertext)
    }

    private fun existingKey(): SecretKey? = try {
        keyStore.getKey(alias, null) as SecretKey?
    } catch (e: UnrecoverableKeyException) {
        null
    }

    private fun createKey(): SecretKey {
        val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setKeySize(256)
        if (android.os.Build.VERSION.SDK_INT >= 35) spec.setUnlockedDeviceRequired(true)
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, "AndroidKeyStore")
        if (android.os.Build.VERSION.SDK_INT >= 28) {
            try {
                generator.init(spec.setIsStrongBoxBacked(true).build())
                return generator.generateKey()
            } catch (e: android.security.keystore.StrongBoxUnavailableException) {
                spec.setIsStrongBoxBacked(false)
            }
        }
        generator.init(spec.build())
        return generator.generateKey()
    }
}

/**
 * A wrapped key in the app's no-backup directory (never in a backup: the
 * Keystore key it needs cannot leave the phone anyway), written with
 * [AtomicFile] so a crash leaves the old or the new file, whole. [name] is
 * the file: the vault's main slot or its pending slot.
 */
class AtomicKeyFile(context: Context, name: String) : KeyFile {
    private val file = AtomicFile(File(context.noBackupFilesDir, name))

    override fun read(): ByteArray? = try {
        file.readFully()
    } catch (e: FileNotFoundException) {
        null
    }

    override fun write(bytes: ByteArray) {
        val out = file.startWrite()
        try {
            out.write(bytes)
            file.finishWrite(out)
        } catch (e: Exception) {
            file.failWrite(out)
            throw e
        }
    }

    // AtomicFile.delete removes the file and any backup or half-written copy of it.
    override fun delete() = file.delete()
}
