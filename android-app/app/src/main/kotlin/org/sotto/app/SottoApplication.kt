package org.sotto.app

import android.app.Application
import android.content.Context

/**
 * The process's entry point. Android creates it before any component; it
 * builds the [AppGraph] that every activity, receiver and service reaches
 * through [Context.sotto]. No static field holds a service.
 */
class SottoApplication : Application() {
    /** The app's objects for this process. */
    lateinit var graph: AppGraph
        private set

    override fun onCreate() {
        super.onCreate()
        graph = AppGraph(this)
        graph.notifications.createChannels()
    }
}

/** The [AppGraph] of this process. */
val Context.sotto: AppGraph get() = (applicationContext as SottoApplication).graph
