// `:app` is the Android glue: Compose screens, receivers, services, Telecom
// classes, Keystore key wrapping, and the one adapter from the generated
// UniFFI bindings to `:logic` types. The Rust core is built here with
// cargo-ndk and its Kotlin bindings are generated into build/ (never
// committed), so `./gradlew assembleDebug` goes from Rust source to APK.
import org.gradle.api.tasks.Exec

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

/** The ABIs the Rust core is built for (DESIGN.md). */
val rustAbis = listOf("arm64-v8a", "armeabi-v7a", "x86_64")
/** The Cargo workspace root: android-app/.. */
val cargoWorkspace: File = rootProject.projectDir.parentFile
val rustJniLibs = layout.buildDirectory.dir("rustJniLibs")
val uniffiKotlin = layout.buildDirectory.dir("generated/uniffi/kotlin")
val minSdkLevel = libs.versions.minSdk.get().toInt()

android {
    namespace = "org.sotto.app"
    compileSdk = libs.versions.compileSdk.get().toInt()
    ndkVersion = libs.versions.ndk.get()

    defaultConfig {
        applicationId = "org.sotto.app"
        minSdk = minSdkLevel
        targetSdk = libs.versions.targetSdk.get().toInt()
        versionCode = 1
        versionName = "0.1.0"
        ndk { abiFilters += rustAbis }
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    buildFeatures {
        compose = true
        buildConfig = false
    }

    sourceSets["main"].apply {
        jniLibs.srcDir(rustJniLibs)
        java.srcDir(uniffiKotlin)
    }

    packaging {
        // libsotto_ffi.so is loaded by JNA by name; keep it uncompressed and
        // page-aligned so it can be mapped straight from the APK.
        jniLibs.useLegacyPackaging = false
    }
}

kotlin {
    jvmToolchain(17)
}

/**
 * Builds `sotto-ffi` (android-bindings/) for every ABI with cargo-ndk, into
 * build/rustJniLibs/<abi>/libsotto_ffi.so. Always the release profile: a debug
 * build of libsignal and SQLCipher is too large and slow for a phone. Cargo
 * keeps its own incremental state, so this task always runs and lets Cargo
 * decide what is up to date.
 */
val cargoNdkBuild = tasks.register<Exec>("cargoNdkBuild") {
    group = "rust"
    description = "Builds the Rust core (sotto-ffi) for ${rustAbis.joinToString()} with cargo-ndk."
    workingDir = cargoWorkspace
    val ndkDir = androidComponents.sdkComponents.ndkDirectory
    doFirst {
        environment("ANDROID_NDK_HOME", ndkDir.get().asFile.absolutePath)
    }
    val command = mutableListOf("cargo", "ndk", "--platform", minSdkLevel.toString())
    rustAbis.forEach { command += listOf("-t", it) }
    command += listOf(
        "-o", rustJniLibs.get().asFile.absolutePath,
        "build", "--locked", "--release", "-p", "sotto-ffi",
    )
    commandLine(command)
    outputs.dir(rustJniLibs)
    outputs.upToDateWhen { false }
}

/**
 * Regenerates the Kotlin bindings from the built library (uniffi-bindgen in
 * library mode, the generator built from this workspace so its version always
 * matches the library's). Output goes to build/generated/uniffi/kotlin and is
 * never committed or edited.
 */
val generateUniffiBindings = tasks.register<Exec>("generateUniffiBindings") {
    group = "rust"
    description = "Generates the UniFFI Kotlin bindings of sotto-ffi into build/generated."
    dependsOn(cargoNdkBuild)
    workingDir = cargoWorkspace
    val library = rustJniLibs.map { it.file("arm64-v8a/libsotto_ffi.so").asFile.absolutePath }
    val outDir = uniffiKotlin.get().asFile
    doFirst { outDir.deleteRecursively() }
    commandLine(
        "cargo", "run", "--locked", "-p", "sotto-ffi", "--features", "bindgen",
        "--bin", "uniffi-bindgen", "--",
        "generate", "--library", library.get(),
        "--language", "kotlin", "--no-format",
        "--out-dir", outDir.absolutePath,
    )
    outputs.dir(uniffiKotlin)
    outputs.upToDateWhen { false }
}

tasks.named("preBuild") { dependsOn(generateUniffiBindings) }

dependencies {
    implementation(project(":logic"))

    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.activity.compose)
    implementation(libs.androidx.lifecycle.runtime.compose)
    implementation(libs.androidx.lifecycle.viewmodel.compose)
    implementation(libs.androidx.lifecycle.service)
    implementation(platform(libs.compose.bom))
    implementation(libs.compose.ui)
    implementation(libs.compose.ui.tooling.preview)
    implementation(libs.compose.material3)
    implementation(libs.compose.material.icons)
    implementation(libs.kotlinx.coroutines.android)
    implementation(libs.zxing.android.embedded)
    implementation(libs.zxing.core)
    implementation(variantOf(libs.jna) { artifactType("aar") })

    debugImplementation(libs.compose.ui.tooling)
}
