package org.sotto.logic.mms

/**
 * The files of downloaded MMS waiting under `pending-mms/` for the core
 * (the passphrase lock was on, or the store failed), and how a drain
 * claims them so that no file is handed to the core twice: its state is
 * in its name, changed by renames (atomic in one directory).
 *
 * - `NAME.pdu` waits. A drain claims it by renaming it to `NAME.claimed`
 *   before reading it; a second drain's rename fails, so it skips it.
 * - Once the core has stored it, the drain renames it to `NAME.stored`,
 *   then writes the Telephony provider and deletes it.
 * - A storage failure renames the claim back to `NAME.pdu` for the next
 *   unlock; a refusal deletes it.
 *
 * A `.claimed` or `.stored` file seen when a drain starts was left by a
 * process that died handing it over (drains in one process never
 * overlap). `.stored` is in the core: deleted. `.claimed` died inside the
 * core's call, so whether the core kept it is unknown: it is deleted and
 * the user told an MMS failed, rather than stored again at every unlock.
 */
object PendingMmsFiles {
    private const val WAITING = ".pdu"
    private const val CLAIMED = ".claimed"
    private const val STORED = ".stored"

    /** What a drain that starts does with a file of the pending directory. */
    enum class AtStart {
        /** Claim it and hand it to the core. */
        DELIVER,

        /** Delete it: it is in the core already. */
        DELETE,

        /** Delete it and say an MMS failed: its handing over was cut short. */
        DROP_INTERRUPTED,

        /** Not one of ours (leave it alone). */
        IGNORE,
    }

    /** What a drain starting now does with the file named [name]. */
    fun atStart(name: String): AtStart = when {
        !isOurs(name) -> AtStart.IGNORE
        name.endsWith(WAITING) -> AtStart.DELIVER
        name.endsWith(STORED) -> AtStart.DELETE
        else -> AtStart.DROP_INTERRUPTED
    }

    /** The name a waiting file [name] (`NAME.pdu`) has while a drain hands it over. */
    fun claimed(name: String): String = base(name) + CLAIMED

    /** The name of the claim on [name] once the core stored it. */
    fun stored(name: String): String = base(name) + STORED

    /** The name of the claim on [name] given back to wait for the next unlock. */
    fun waiting(name: String): String = base(name) + WAITING

    private fun base(name: String): String = name.substringBeforeLast('.')

    /** Downloads are named `in-UUID.pdu` (by `:app`'s MmsTransfers); anything else is not ours. */
    private fun isOurs(name: String): Boolean = NAME.matches(name)

    private val NAME = Regex("in-[0-9a-f-]{36}\\.(pdu|claimed|stored)")
}
