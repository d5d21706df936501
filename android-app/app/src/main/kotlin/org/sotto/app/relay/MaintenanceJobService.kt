package org.sotto.app.relay

import android.app.job.JobInfo
import android.app.job.JobParameters
import android.app.job.JobScheduler
import android.app.job.JobService
import android.content.ComponentName
import android.content.Context
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.launch
import org.sotto.app.sotto
import java.util.concurrent.TimeUnit

/**
 * The system's job scheduler runs this about every six hours, also while the
 * process is asleep, as docs/ffi.md asks: the core's own maintenance timer
 * lives only as long as the process. It opens the core when no passphrase is
 * set and hands the work to `runMaintenance` (prekey rotation and
 * replenishment, expired disappearing messages). With the app locked by a
 * passphrase it does nothing: the store cannot be opened without the user.
 */
class MaintenanceJobService : JobService() {
    private var work: Job? = null

    override fun onStartJob(params: JobParameters): Boolean {
        val graph = sotto
        work = graph.scope.launch(Dispatchers.IO) {
            var failed = false
            try {
                graph.coreOrOpen()?.runMaintenance()
            } catch (e: Exception) {
                failed = true
            } finally {
                jobFinished(params, failed)
            }
        }
        return true
    }

    override fun onStopJob(params: JobParameters): Boolean {
        work?.cancel()
        return true
    }

    companion object {
        private const val JOB_ID = 1

        /** Schedules the periodic job (idempotent: the same id replaces the old one). */
        fun schedule(context: Context) {
            val job = JobInfo.Builder(JOB_ID, ComponentName(context, MaintenanceJobService::class.java))
                .setPeriodic(TimeUnit.HOURS.toMillis(6))
                .setPersisted(true)
                .build()
            context.getSystemService(JobScheduler::class.java).schedule(job)
        }
    }
}
