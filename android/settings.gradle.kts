// The Android build (Android Studio / Gradle with the Android SDK). Not
// built in CI: no Android SDK can be fetched there. The SDK module's
// sources are the ones tested on the JVM with Maven (carnet-sdk/pom.xml).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "carnet-android"
include(":carnet-sdk", ":app")
