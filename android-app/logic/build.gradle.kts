// `:logic` is plain Kotlin on the JVM: no Android, no generated bindings.
// Everything here is tested on any JVM, by `./gradlew :logic:test` and, on
// machines without the Android SDK, by `scripts/android-check.sh` (kotlinc +
// the JUnit console launcher).
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    testImplementation(libs.junit.jupiter)
    testRuntimeOnly(libs.junit.platform.launcher)
}

tasks.test {
    useJUnitPlatform()
}
