// The Sotto Android app: `:app` is the thin Android glue, `:logic` is plain
// Kotlin/JVM (state machines, view state, formatting, policies) that is
// tested on any JVM. See README.md for prerequisites and what was verified
// where.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "sotto-android"
include(":app", ":logic")
